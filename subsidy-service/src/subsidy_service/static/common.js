// Shared by the dashboard and the disclosure page: DOM helpers (text only, never HTML from data) and charts.
"use strict";
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return node;
}
function fill(tbody, rows) { tbody.replaceChildren(...rows); }
function yuan(s) { return s == null ? "—" : Number(s).toLocaleString("zh-CN", {minimumFractionDigits: 2, maximumFractionDigits: 2}); }
function pct(s) { return s == null ? "—" : s + "%"; }
const charts = {};
function chart(id, option) {
  const node = document.getElementById(id);
  const c = charts[id] || (charts[id] = echarts.init(node, null, {renderer: "canvas"}));
  c.setOption(Object.assign({animation: false, tooltip: {trigger: "item"}}, option), true);
  node.dataset.rendered = "true";
  return c;
}
window.addEventListener("resize", () => Object.values(charts).forEach(c => c.resize()));
