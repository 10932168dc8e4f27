// The public disclosure page (P7): no login; every number comes from /v1/public/disclosure.
"use strict";
const QUARTERS = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"};

async function get(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null) query.set(k, v);
  const response = await fetch(path + "?" + query);
  if (response.status === 429) {
    const box = document.getElementById("refusal");
    box.textContent = "访问过于频繁，请 " + (response.headers.get("Retry-After") || "60") + " 秒后再试。";
    box.classList.remove("hidden");
    throw new Error("rate limited");
  }
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function target(t, i) {
  const value = t.value !== undefined ? t.value + " 人" : (t.rate_percent == null ? "—" : t.rate_percent + "%");
  const goal = t.target !== undefined ? "目标 " + t.target + " 人" : "目标 ≥ " + t.threshold_percent + "%";
  return el("div", {class: "kpi", "data-testid": "target-" + i},
    el("div", {class: "rule"}, t.rule_id + " · " + t.label),
    el("div", {class: "value " + (t.reached ? "ok" : "no"), "data-testid": "target-" + i + "-value"}, value),
    el("div", {class: "goal"}, goal + (t.reached ? " · 已完成" : " · 未完成")));
}

async function showPersons(year, quarter, payee) {
  const body = await get("/v1/public/disclosure/persons", {year, quarter, payee_type: payee.payee_type, payee_id: payee.payee_id});
  document.getElementById("persons-title").textContent = (payee.payee_name || payee.payee_type_label) + (quarter ? " · " + QUARTERS[quarter] : "");
  fill(document.querySelector("#persons-table tbody"), body.items.map(p => el("tr", {"data-testid": "person"},
    el("td", {}, p.masked_name || "—"), el("td", {}, p.voucher_id || "—"), el("td", {}, p.kind_label), el("td", {class: "num"}, yuan(p.amount)))));
  document.getElementById("persons-more").textContent = "共 " + body.total + " 人次" + (body.total > body.items.length ? "，显示前 " + body.items.length + " 条" : "");
}

async function load() {
  document.body.dataset.ready = "false";
  const year = document.getElementById("d-year").value;
  const quarter = document.getElementById("d-quarter").value;
  const d = await get("/v1/public/disclosure", {year, quarter});
  document.getElementById("generated").textContent = "数据时间 " + new Date(d.generated_at).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai"});
  document.getElementById("targets").replaceChildren(...d.targets.map(target));
  document.getElementById("audit-id").textContent = d.audit_head.head_id == null ? "0" : d.audit_head.head_id;
  document.getElementById("audit-hash").textContent = d.audit_head.head_hash;
  document.getElementById("quarters").replaceChildren(...d.quarters.map(q => el("div", {class: "card", style: "margin-top:14px", "data-testid": "quarter-" + q.quarter},
    el("h2", {}, d.year + " 年" + QUARTERS[q.quarter] + " · 支付合计 ", el("span", {"data-testid": "quarter-" + q.quarter + "-amount"}, yuan(q.amount)), " 元"),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "类别"), el("th", {}, "单位"), el("th", {class: "num"}, "兑现人数"), el("th", {class: "num"}, "金额（元）"), el("th", {}, ""))),
      el("tbody", {}, ...q.payees.map(p => el("tr", {"data-testid": "payee-" + q.quarter + "-" + p.payee_type + "-" + p.payee_id},
        el("td", {}, p.payee_type_label), el("td", {}, p.payee_name || "—"), el("td", {class: "num"}, p.persons),
        el("td", {class: "num", "data-testid": "payee-amount"}, yuan(p.amount)),
        el("td", {}, el("button", {class: "link", type: "button", onclick: () => showPersons(d.year, q.quarter, p)}, "名单")))))),
    el("div", {class: "sub"}, "资金使用：" + (q.funds_used.map(f => f.label + " " + yuan(f.amount) + " 元").join("；") || "无")))));
  chart("chart-quarters", {tooltip: {trigger: "axis"}, grid: {left: 70, right: 10, top: 20, bottom: 30},
    xAxis: {type: "category", data: d.quarters.map(q => QUARTERS[q.quarter])}, yAxis: {type: "value"},
    series: [{type: "bar", name: "支付金额", data: d.quarters.map(q => Number(q.amount)), label: {show: true, position: "top"}}]});
  const funds = {};
  for (const q of d.quarters) for (const f of q.funds_used) funds[f.label] = (funds[f.label] || 0) + Number(f.amount);
  chart("chart-funds-used", {series: [{type: "pie", radius: ["35%", "65%"], name: "资金使用",
    data: Object.entries(funds).map(([name, value]) => ({name, value}))}]});
  document.body.dataset.ready = "true";
}

const now = new Date();
const years = document.getElementById("d-year");
const wanted = Number(new URLSearchParams(location.search).get("year")) || now.getFullYear();
for (let y = Math.max(now.getFullYear(), wanted); y >= 2023; y--) years.append(el("option", {value: y}, y + " 年度"));
years.value = String(wanted);
years.addEventListener("change", load);
document.getElementById("d-quarter").addEventListener("change", load);
load();
