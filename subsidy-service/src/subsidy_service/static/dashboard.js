// The ops dashboard: every number comes from one report endpoint of the subsidy service (/v1/reports/...).
"use strict";
const TOKEN_KEY = "skills-dashboard-token";
const drill = {township: null, institution: null, institutionLabel: null};

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") query.set(k, v);
  const response = await fetch(path + (query.toString() ? "?" + query : ""), {headers: {Authorization: "Bearer " + token()}});
  if (response.status === 401 || response.status === 403) {
    const problem = await response.json().catch(() => ({}));
    throw Object.assign(new Error(problem.detail || response.statusText), {refused: true, status: response.status, code: problem.code});
  }
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function refuse(error) {
  const box = document.getElementById("refusal");
  box.textContent = error.status === 401
    ? "请先登录：粘贴人社局（bureau）、财政（finance）或审计（auditor）的访问令牌。"
    : "无权访问：该令牌的角色不能查看运营看板（仅限人社局 bureau、财政 finance、审计 auditor、管理员 admin）。";
  box.dataset.code = error.code || "";
  box.classList.remove("hidden");
  document.getElementById("content").classList.add("hidden");
}

function filters() {
  return {
    year: document.getElementById("f-year").value,
    quarter: document.getElementById("f-quarter").value,
    township: document.getElementById("f-township").value,
    institution_id: document.getElementById("f-institution").value,
  };
}

function kpi(testid, rule, label, value, goal, reached) {
  return el("div", {class: "kpi", "data-testid": testid},
    el("div", {class: "rule"}, rule + " · " + label),
    el("div", {class: "value " + (reached ? "ok" : "no"), "data-testid": testid + "-value"}, value),
    el("div", {class: "goal", "data-testid": testid + "-goal"}, goal));
}

function renderTargets(t) {
  document.getElementById("kpis").replaceChildren(
    kpi("kpi-t1", "T1", "培训人次", t.t1_trained.value, "目标 " + t.t1_trained.target + " 人 · 完成 " + pct(t.t1_trained.progress_percent), t.t1_trained.reached),
    kpi("kpi-t2", "T2", "吕梁山护工", t.t2_caregivers.value, "目标 " + t.t2_caregivers.target + " 人 · 完成 " + pct(t.t2_caregivers.progress_percent), t.t2_caregivers.reached),
    kpi("kpi-t3e", "T3", "护工就业率", pct(t.t3_employment.rate_percent), t.t3_employment.numerator + "/" + t.t3_employment.denominator + " · 目标 ≥ " + t.t3_employment.threshold_percent + "%", t.t3_employment.reached),
    kpi("kpi-t3c", "T3", "护工取证率", pct(t.t3_certification.rate_percent), t.t3_certification.numerator + "/" + t.t3_certification.denominator + " · 目标 ≥ " + t.t3_certification.threshold_percent + "%", t.t3_certification.reached),
    kpi("kpi-t4", "T4", "全县持证率", pct(t.t4_county.rate_percent), t.t4_county.numerator + "/" + t.t4_county.denominator + " · 目标 ≥ " + t.t4_county.threshold_percent + "%", t.t4_county.reached),
    kpi("kpi-t5", "T5", "取证率达标班级", t.t5_classes_reached + "/" + t.t5_classes, "低于 50% 的班级 " + t.t5_below_total + " 个", t.t5_below_total === 0));
  fill(document.querySelector("#t5-table tbody"), t.t5_below.map(c => el("tr", {"data-testid": "t5-" + c.class_id},
    el("td", {}, c.class_id), el("td", {}, c.institution_name || c.institution_id || "—"), el("td", {}, c.kind_label),
    el("td", {class: "num"}, c.numerator + "/" + c.denominator), el("td", {class: "num no"}, pct(c.rate_percent)))));
  const towns = t.t4_townships.filter(x => x.workforce_configured);
  chart("chart-t4", {
    tooltip: {trigger: "axis"}, grid: {left: 70, right: 10, top: 20, bottom: 30},
    xAxis: {type: "value", max: v => Math.max(40, Math.ceil(v.max)), axisLabel: {formatter: "{value}%"}},
    yAxis: {type: "category", data: towns.map(x => x.township)},
    series: [{type: "bar", name: "持证率", data: towns.map(x => Number(x.rate_percent || 0)),
      markLine: {data: [{xAxis: 32, name: "目标 32%"}], symbol: "none"}}],
  });
}

function renderFunnel(f) {
  fill(document.querySelector("#funnel-table tbody"), f.stages.map(s => el("tr", {"data-testid": "funnel-" + s.code},
    el("td", {}, s.label), el("td", {class: "num", "data-testid": "funnel-" + s.code + "-value"}, f.total[s.code]))));
  chart("chart-funnel", {
    tooltip: {trigger: "axis"}, grid: {left: 70, right: 20, top: 10, bottom: 30},
    xAxis: {type: "value"}, yAxis: {type: "category", inverse: true, data: f.stages.map(s => s.label)},
    series: [{type: "bar", name: "人次", data: f.stages.map(s => f.total[s.code]), label: {show: true, position: "right"}}],
  });
}

async function renderDrill(base) {
  const township = drill.township || base.township || null;
  const institution = drill.institution || base.institution_id || null;
  const by = institution ? "class" : township ? "institution" : "township";
  const body = await api("/v1/reports/funnel", Object.assign({}, base, {township, institution_id: institution, by}));
  document.getElementById("drill-level").textContent = {township: "乡镇", institution: "培训机构", class: "培训班"}[by];
  const crumbs = [el("button", {class: "link", type: "button", "data-testid": "crumb-county",
    onclick: () => { drill.township = drill.institution = null; refresh(); }}, "全县")];
  if (township) crumbs.push(" › ", el("button", {class: "link", type: "button", "data-testid": "crumb-township",
    onclick: () => { drill.institution = null; refresh(); }}, township));
  if (institution) crumbs.push(" › ", el("span", {}, drill.institutionLabel || institution));
  document.getElementById("crumbs").replaceChildren(...crumbs);
  const into = group => {
    if (!group || by === "class") return;
    if (by === "township") drill.township = group.key;
    else { drill.institution = group.key; drill.institutionLabel = group.label; }
    refresh();
  };
  fill(document.querySelector("#drill-table tbody"), body.groups.map(g => el("tr", {"data-testid": "drill-" + g.key,
    style: by === "class" ? "" : "cursor:pointer", onclick: () => into(g)},
    el("td", {}, g.label), el("td", {class: "num"}, g.issued), el("td", {class: "num"}, g.completed),
    el("td", {class: "num"}, g.certified), el("td", {class: "num"}, g.paid))));
  const c = chart("chart-drill", {
    tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 50, right: 10, top: 30, bottom: 60},
    xAxis: {type: "category", data: body.groups.map(g => g.label), axisLabel: {rotate: 20}},
    yAxis: {type: "value"},
    series: [["issued", "发券"], ["completed", "结业"], ["certified", "取证"], ["paid", "已支付"]].map(([k, name]) => ({
      type: "bar", name, data: body.groups.map(g => g[k])})),
  });
  c.off("click");
  c.on("click", params => into(body.groups[params.dataIndex]));
  document.getElementById("chart-drill").dataset.level = by;
}

function renderMoney(m) {
  fill(document.querySelector("#money-table tbody"), m.groups.map(g => el("tr", {"data-testid": "money-" + g.key},
    el("td", {}, g.label), el("td", {class: "num"}, g.count), el("td", {class: "num", "data-testid": "money-" + g.key + "-amount"}, yuan(g.amount)),
    el("td", {class: "num"}, yuan((g.by_state.paid || {}).amount || "0")))));
  chart("chart-money", {series: [{type: "pie", radius: ["35%", "65%"], name: "金额（元）",
    data: m.groups.map(g => ({name: g.label, value: Number(g.amount)}))}]});
}

function renderFunds(f) {
  const rows = f.funds.map(x => el("tr", {"data-testid": "fund-" + x.code}, el("td", {}, x.label),
    ...["allocated", "reserved", "paid", "available"].map(k => el("td", {class: "num", "data-testid": "fund-" + x.code + "-" + k}, yuan(x[k])))));
  fill(document.querySelector("#funds-table tbody"), rows);
  chart("chart-funds", {
    tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 80, right: 10, top: 30, bottom: 30},
    xAxis: {type: "category", data: f.funds.map(x => x.label)}, yAxis: {type: "value"},
    series: [["allocated", "下达"], ["reserved", "预留"], ["paid", "已支付"], ["available", "可用"]].map(([k, name]) => ({
      type: "bar", name, data: f.funds.map(x => Number(x[k]))})),
  });
}

function renderPipeline(p) {
  const row = (label, value, id) => el("tr", {}, el("td", {}, label), el("td", {class: "num", "data-testid": id}, value));
  fill(document.querySelector("#pipeline-table tbody"), [
    row("待发布事件（outbox 积压）", p.outbox_backlog, "pipe-backlog"),
    row("最早未发布事件已等待（秒）", p.outbox_oldest_age_seconds == null ? "—" : p.outbox_oldest_age_seconds, "pipe-oldest"),
    row("消费积压", p.lag_available ? "可读取（Kafka）" : "无法读取：" + (p.lag_unavailable_reason || ""), "pipe-lag"),
    row("死信事件（本进程）", Object.values(p.dead_letters).reduce((a, b) => a + b, 0), "pipe-dlq"),
    ...p.inbox_newest.map(t => row("最新处理 " + t.topic, t.age_seconds + " 秒前", "pipe-topic-" + t.topic)),
  ]);
  fill(document.querySelector("#lag-table tbody"), p.consumer_groups.flatMap(g => g.partitions.map(x =>
    el("tr", {}, el("td", {}, g.group), el("td", {}, x.topic + "/" + x.partition), el("td", {class: "num"}, x.lag == null ? "—" : x.lag)))));
}

function renderSeries(month, kind) {
  chart("chart-month", {
    tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 50, right: 10, top: 30, bottom: 30},
    xAxis: {type: "category", data: month.groups.map(g => g.key)}, yAxis: {type: "value"},
    series: [["issued", "发券"], ["completed", "结业"], ["paid", "已支付"]].map(([k, name]) => ({
      type: "line", name, data: month.groups.map(g => g[k])})),
  });
  chart("chart-kind", {series: [{type: "pie", radius: "65%", name: "发券",
    data: kind.groups.map(g => ({name: g.label, value: g.issued}))}]});
}

async function loadFilters() {
  const options = await api("/v1/reports/filters");
  const year = document.getElementById("f-year");
  year.replaceChildren(...options.years.map(y => el("option", {value: y}, y + " 年度")), el("option", {value: ""}, "全部年度"));
  const townships = document.getElementById("f-township");
  townships.replaceChildren(el("option", {value: ""}, "全部乡镇"), ...options.townships.map(t => el("option", {value: t.value}, t.label)));
  const institutions = document.getElementById("f-institution");
  institutions.replaceChildren(el("option", {value: ""}, "全部机构"), ...options.institutions.map(t => el("option", {value: t.value}, t.label)));
}

async function refresh() {
  document.body.dataset.ready = "false";
  const base = filters();
  try {
    const [targets, funnel, month, kind, money, funds, pipeline] = await Promise.all([
      api("/v1/reports/targets", base), api("/v1/reports/funnel", base),
      api("/v1/reports/funnel", Object.assign({}, base, {by: "month"})), api("/v1/reports/funnel", Object.assign({}, base, {by: "kind"})),
      api("/v1/reports/money", Object.assign({}, base, {by: "rule"})), api("/v1/reports/funds", {year: base.year}),
      api("/v1/reports/pipeline")]);
    renderTargets(targets); renderFunnel(funnel); renderSeries(month, kind); renderMoney(money); renderFunds(funds);
    renderPipeline(pipeline);
    await renderDrill(base);
    document.getElementById("updated").textContent = "更新于 " + new Date().toLocaleString("zh-CN", {timeZone: "Asia/Shanghai"});
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error.refused) refuse(error); else throw error;
  }
}

async function start() {
  document.body.dataset.ready = "false";
  document.getElementById("refusal").classList.add("hidden");
  if (!token()) { refuse({status: 401}); return; }
  try { await loadFilters(); } catch (error) { if (error.refused) { refuse(error); return; } throw error; }
  document.getElementById("content").classList.remove("hidden");
  await refresh();
}

document.getElementById("login").addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  document.getElementById("token").value = "";
  start();
});
document.getElementById("logout-button").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); start(); });
for (const id of ["f-year", "f-quarter", "f-township", "f-institution"]) {
  document.getElementById(id).addEventListener("change", () => { drill.township = drill.institution = null; refresh(); });
}
start();
