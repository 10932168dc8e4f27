"""`make demo`: a small Lin County (临县) runs through the whole loop, then what is payable to whom and why.

    python -m bench.demo [--seed 2026] [--reject-share 0.03] [--keep DIR]

On the embedded defaults (a SQLite file per service in a temporary folder, the bundled Tansu broker, one
uvicorn process per service, the province real-name simulator), it
1. has bureau staff register four training institutions in five townships and the county's evaluation centre;
2. lets about 300 workers of every township register in the mobile app and claim a voucher of every kind
   (inclusive, order, project, enterprise, entrepreneurship, caregiver), with 脱贫劳动力 and 监测户 among them;
3. runs eleven classes through the loop with the REST APIs (testsupport.loop): enrolment by voucher code,
   attendance, completion, follow-up, the class outcome, evaluation and certificates;
4. waits for the subsidy service and prints, per payee, the claim lines (rule ids and arithmetic), the
   workers' living allowances, what is not payable and why, and the totals per payee;
5. pays the county through the subsidy service's REST API (bench/demo_settlement.py, issue 20): bank accounts,
   the quarter's declarations, bureau verification, finance allocations, one payment batch, the bank file out and
   the bank's result file back; then prints what was declared and paid and the per-fund ledger.
Everything it started is stopped at the end (also on Ctrl-C); the temporary folder is removed unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from testsupport.api import Api, Endpoints
from testsupport.county import (
    ClassPlan,
    County,
    EvaluationInstitution,
    Institution,
    Trainee,
    credit_code,
    mobile,
    person_name,
    resident_id,
)
from testsupport.loop import LoopDriver
from testsupport.processes import platform_running, sqlite_urls
from bench.demo_settlement import Settlement, settle, settlement_report
from skillkit.pii import mask_name

TOWNSHIPS = ("临泉镇", "白文镇", "城庄镇", "兔坂镇", "安业乡")
OCC = {
    "4-10-01-05": "养老护理员", "4-10-01-06": "家政服务员", "4-10-01-02": "育婴员", "4-03-02-01": "中式烹调师",
    "4-03-02-02": "中式面点师", "6-31-01-03": "电工", "6-18-02-04": "焊工", "6-29-01-01": "砌筑工",
}
SIX = ["rural_migrant", "urban_unemployed", "school_leaver", "employment_difficulty", "graduating_college",
       "poverty_alleviated"]


def build_county(seed: int) -> County:
    rng = random.Random(seed)
    school = Institution("school", "临县技工学校", "临泉镇", ["inclusive", "order", "project"],
                         ["4-10-01-05", "4-03-02-01", "4-03-02-02", "6-31-01-03"], credit_code("school", 11))
    baiwen = Institution("baiwen", "临县白文职业培训学校", "白文镇", ["inclusive", "entrepreneurship"],
                         ["4-10-01-06", "4-10-01-02", "4-03-02-02"], credit_code("school", 12))
    centre = Institution("centre", "临县创业就业服务中心（吕梁山护工培训基地）", "临泉镇", ["caregiver"],
                         ["4-10-01-05"], credit_code("public", 13))
    chengzhuang = Institution("chengzhuang", "临县城庄建筑技能培训中心", "城庄镇", ["inclusive", "enterprise"],
                              ["6-29-01-01", "6-18-02-04"], credit_code("school", 14))
    filings = [{"occupation_code": code, "level": 5, "certificate_type": "skill_level"} for code in OCC]
    filings.append({"occupation_code": "4-03-02-02", "level": None, "certificate_type": "entrepreneurship_training"})
    evaluator = EvaluationInstitution("临县职业技能等级认定评价中心", credit_code("public", 21), filings)
    counter = iter(range(1, 100_000))

    def people(n: int, categories: list[str], *, e3_share: float = 0.0, days: tuple[int, int]) -> list[Trainee]:
        out = []
        for _ in range(n):
            i = next(counter)
            cats = [rng.choice(categories)]
            if rng.random() < e3_share:
                cats.append(rng.choice(["poverty_alleviated_labour", "poverty_alleviated_labour", "monitored_household"]))
            out.append(Trainee(person_name(rng), resident_id(i), rng.choice(TOWNSHIPS), sorted(set(cats)),
                               rng.randint(*days), mobile=mobile(i)))
        return out

    def fail_exam(trainees: list[Trainee], n: int) -> list[Trainee]:
        for t in rng.sample(trainees, n):
            t.exam_passed = False
        return trainees

    def employ(trainees: list[Trainee], n: int) -> list[Trainee]:
        for t in rng.sample(trainees, n):
            t.employed = True
        return trainees

    order_employer = {"employer": "太原市晋味餐饮管理有限公司", "credit_code": credit_code("company", 31), "positions_promised": 30}
    electric_employer = {"employer": "山西临县电力安装工程有限公司", "credit_code": credit_code("company", 32), "positions_promised": 20}
    syb = people(20, SIX + ["returning_entrepreneur", "new_business_founder"], days=(9, 10))
    for t in syb[:2]:
        t.passed = False  # 18 of 20 pass: 90 % ≥ the S6 gate of 80 %
        t.exam_passed = False
        t.attended_days = 6
    for t in syb[2:7]:
        t.licensed = True  # 5 of the 18 who passed: 27.7 % ≥ 20 %
    classes = [
        ClassPlan(school, "2026年第9期养老护理员普惠制培训班", "inclusive", "4-10-01-05", 7,
                  fail_exam(people(40, SIX, e3_share=0.3, days=(6, 7)), 2)),
        ClassPlan(school, "2026年第10期中式烹调师普惠制培训班", "inclusive", "4-03-02-01", 10,
                  fail_exam(people(35, SIX, e3_share=0.2, days=(8, 10)), 1)),
        ClassPlan(chengzhuang, "2026年焊工劳务输出普惠制培训班（外出务工）", "inclusive", "6-18-02-04", 8,
                  people(25, ["rural_migrant"], e3_share=0.2, days=(7, 8)), outbound=True),
        ClassPlan(school, "2026年第3期中式烹调师订单班", "order", "4-03-02-01", 12,
                  employ(people(30, SIX, e3_share=0.1, days=(10, 12)), 25), employer=order_employer),
        ClassPlan(school, "2026年第1期电工订单班", "order", "6-31-01-03", 15,
                  employ(people(20, SIX, days=(13, 15)), 14), employer=electric_employer),
        ClassPlan(school, "2026年乡村振兴面点项目制培训班", "project", "4-03-02-02", 8,
                  people(25, SIX, e3_share=0.2, days=(7, 8)), project_reference="临县2026年乡村振兴面点项目"),
        ClassPlan(chengzhuang, "2026年建筑企业在岗职工砌筑工培训班", "enterprise", "6-29-01-01", 6,
                  people(25, ["enterprise_employee"], days=(5, 6)),
                  enterprise={"name": "山西临县城庄建筑工程有限公司", "credit_code": credit_code("company", 33)}),
        ClassPlan(baiwen, "2026年第2期SYB创业培训班（面点）", "entrepreneurship", "4-03-02-02", 10, syb, level=None,
                  certificate_type="entrepreneurship_training", course="SYB"),
        ClassPlan(centre, "2026年吕梁山护工第6期", "caregiver", "4-10-01-05", 10,
                  fail_exam(people(40, SIX + ["enterprise_employee"], e3_share=0.2, days=(9, 10)), 2)),
        ClassPlan(baiwen, "2026年第4期家政服务员普惠制培训班", "inclusive", "4-10-01-06", 5,
                  people(30, SIX, e3_share=0.3, days=(4, 5))),
        ClassPlan(baiwen, "2026年第2期育婴员普惠制培训班", "inclusive", "4-10-01-02", 6,
                  people(25, SIX, e3_share=0.2, days=(5, 6))),
    ]
    return County([school, baiwen, centre, chengzhuang], evaluator, classes)


# --- printing --------------------------------------------------------------------------------------------------


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, n: int, right: bool = False) -> str:
    fill = " " * max(0, n - width(text))
    return fill + text if right else text + fill


def wrap(text: str, n: int) -> list[str]:
    """Splits a line into pieces of display width <= n, at "；" or spaces where possible."""
    pieces: list[str] = []
    for part in text.replace("；", "；\n").split("\n"):
        line = ""
        for word in part.split(" "):
            candidate = f"{line} {word}" if line else word
            if width(candidate) <= n or not line:
                line = candidate
            else:
                pieces.append(line)
                line = "  " + word
        if line:
            pieces.append(line)
    return pieces or [""]


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def report(county: County, claims: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    names: dict[str, str] = {i.id or "": i.name for i in county.institutions}
    names[county.evaluation_institution.id or ""] = county.evaluation_institution.name
    names.update({p.enterprise_id: p.enterprise["name"] for p in county.classes if p.enterprise_id and p.enterprise})
    workers = {t.worker_id: t for t in county.trainees}
    out: list[str] = []
    payable = [c for c in claims if c["state"] == "eligible"]
    other = [c for c in claims if c["state"] != "eligible"]

    out.append("")
    out.append("═" * 100)
    out.append("临县职业技能培训补贴 — 可兑现清单  /  Lin County training subsidies — what is payable to whom and why")
    out.append("═" * 100)
    by_payee: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in payable:
        if c["payee_type"] != "worker":
            by_payee[c["payee_id"]].append(c)
    totals: list[tuple[str, str, int, Decimal]] = []
    for payee_id, rows in sorted(by_payee.items(), key=lambda kv: names.get(kv[0], kv[0])):
        kind = ("评价机构 evaluation institution" if rows[0]["claim_type"] == "evaluation" else
                "企业 enterprise (S5)" if rows[0]["payee_type"] == "enterprise" else "培训机构 training institution")
        out.append("")
        out.append(f"▶ {names.get(payee_id, payee_id)}  ({kind})")
        out.append(f"  {pad('规则 rules', 12)}{pad('计算 arithmetic (per trainee)', 66)}{pad('人数 n', 8, True)}{pad('金额 amount', 14, True)}")
        grouped: Counter[tuple[str, tuple[str, ...]]] = Counter()
        amounts: dict[tuple[str, tuple[str, ...]], Decimal] = {}
        for c in rows:
            key = ("+".join(c["rule_ids"]), tuple(line["text"] for line in c["lines"]))
            grouped[key] += 1
            amounts[key] = Decimal(c["amount"])
        subtotal = Decimal("0.00")
        for key in sorted(grouped, key=lambda k: (k[0], -amounts[k], k[1])):
            n = grouped[key]
            subtotal += amounts[key] * n
            texts = [chunk for text in key[1] for chunk in wrap(text, 64)]
            out.append(f"  {pad(key[0], 12)}{pad(texts[0], 66)}{pad(str(n), 8, True)}{pad(money(amounts[key] * n), 14, True)}")
            out.extend(f"  {pad('', 12)}{more}" for more in texts[1:])
        out.append(f"  {pad('', 78)}{pad('小计 subtotal', 8, True)}{pad(money(subtotal), 14, True)}")
        totals.append((names.get(payee_id, payee_id), kind.split()[0], len(rows), subtotal))

    allowances = sorted((c for c in payable if c["payee_type"] == "worker"),
                        key=lambda c: (workers[c["payee_id"]].township, workers[c["payee_id"]].name))
    out.append("")
    out.append("▶ 生活费补贴（S4，脱贫劳动力 / 监测户，付给劳动者本人）  Living allowance (S4, E3 workers, paid to the worker)")
    out.append(f"  {pad('劳动者 worker', 16)}{pad('乡镇 township', 14)}{pad('计算 arithmetic', 48)}{pad('金额 amount', 14, True)}")
    allowance_total = Decimal("0.00")
    for c in allowances:
        t = workers[c["payee_id"]]
        allowance_total += Decimal(c["amount"])
        out.append(f"  {pad(mask_name(t.name), 16)}{pad(t.township, 14)}{pad(c['lines'][0]['text'], 48)}"
                   f"{pad(money(Decimal(c['amount'])), 14, True)}")
    out.append(f"  {pad('', 66)}{pad('小计 subtotal', 12, True)}{pad(money(allowance_total), 14, True)}")
    totals.append((f"劳动者 {len(allowances)} 人 (workers)", "劳动者", len(allowances), allowance_total))

    out.append("")
    out.append("▶ 暂不予兑现及原因  Not payable (yet), and why")
    out.append(f"  {pad('状态 state', 18)}{pad('类型 type', 18)}{pad('原因 reason', 56)}{pad('件数 n', 8, True)}")
    reasons: Counter[tuple[str, str, str]] = Counter()
    for c in other:
        why = c["reason"] or (c["missing"][0] if c["missing"] else None)
        text = f"{why['zh']} / {why['en']}" if why else "-"
        reasons[(f"{c['state_label']} {c['state']}", c["claim_type_label"], text)] += 1
    for (state, kind, text), n in sorted(reasons.items()):
        zh, en = text.split(" / ", 1) if " / " in text else (text, "")
        out.append(f"  {pad(state, 18)}{pad(kind, 18)}{pad(zh, 56)}{pad(str(n), 8, True)}")
        out.extend(f"  {pad('', 36)}{more}" for more in wrap(en, 56))
    out.append("")
    out.append("▶ 各收款方合计  Totals per payee")
    grand = Decimal("0.00")
    for name, kind, n, amount in totals:
        grand += amount
        out.append(f"  {pad(name, 56)}{pad(kind, 12)}{pad(f'{n} 件', 10, True)}{pad(money(amount), 16, True)}")
    out.append(f"  {pad('总计 grand total (eligible 可兑现)', 78)}{pad(money(grand), 16, True)}")
    check = sum((Decimal(t["amount"]) for t in summary["totals"] if t["state"] == "eligible"), Decimal("0.00"))
    out.append(f"  (subsidy service /v1/claims/summary, eligible: {money(check)}"
               f"{' ✓' if check == grand else ' ✗ MISMATCH'})")
    return "\n".join(out)


# --- main ------------------------------------------------------------------------------------------------------


async def drive(county: County, platform: Any, deadline_s: float
                ) -> tuple[list[dict[str, Any]], dict[str, Any], Settlement, int]:
    async with Api(Endpoints.of(platform), concurrency=16) as api:
        driver = LoopDriver(api, deadline_s=deadline_s)
        started = time.monotonic()
        await driver.setup(county)
        print(f"  institutions registered by bureau staff ({len(county.institutions)} training, 1 evaluation)")
        await driver.run_county(county, parallel_classes=3, certify_after_training=True)
        print(f"  {len(county.classes)} classes trained, evaluated and certified in {time.monotonic() - started:.0f} s; "
              "waiting for the subsidy service …")
        no_certificate = {t.voucher_id for t in county.trainees if t.certificate_id is None}

        def settled(claim: dict[str, Any]) -> bool:
            if claim["state"] != "waiting":
                return True
            # a trainee who failed the evaluation has no certificate: that claim waits for good (P3, E6)
            return claim["voucher_id"] in no_certificate and [m["code"] for m in claim["missing"]] == ["certificate_missing"]

        await wait_settled(driver, county, settled, deadline_s)
        print(f"  subsidy claims settled after {time.monotonic() - started:.0f} s "
              f"({api.requests} REST requests in total, {api.server_errors} server errors retried)")
        claims = await driver.all_claims()
        summary = await api.call("GET", f"{api.endpoints.subsidy}/v1/claims/summary", api.tokens.bureau())
        paying = time.monotonic()
        settlement = await settle(api, county, claims)
        print(f"  {settlement.year} Q{settlement.quarter} declared, verified and paid through the subsidy service in "
              f"{time.monotonic() - paying:.0f} s")
        return claims, summary, settlement, api.requests


async def wait_settled(driver: LoopDriver, county: County, settled: Any, deadline_s: float) -> None:
    expected = driver.expected_claims(county)
    deadline = time.monotonic() + deadline_s
    while True:
        claims = {driver.claim_key(c): c for c in await driver.all_claims()}
        pending = [k for k in expected if k not in claims or not settled(claims[k])]
        if not pending:
            return
        if time.monotonic() > deadline:
            print(f"  ! {len(pending)} claims still waiting at the deadline; printing what there is", file=sys.stderr)
            return
        await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a small Lin County through the whole loop and print the claims")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reject-share", type=float, default=0.03,
                        help="share of trainee records the simulated province real-name system rejects (P1)")
    parser.add_argument("--deadline", type=float, default=240, help="seconds to wait on any one step")
    parser.add_argument("--keep", help="keep the SQLite databases and logs in this folder")
    args = parser.parse_args(argv)
    county = build_county(args.seed)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="linxian-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    kinds = Counter(c.kind for c in county.classes for _ in c.trainees)
    print(f"临县 demo: {len(county.trainees)} workers in {len(TOWNSHIPS)} townships ({'、'.join(TOWNSHIPS)}), "
          f"{len(county.classes)} classes; vouchers by kind: {dict(kinds)}")
    print(f"  starting Tansu, the four services and the province simulator (SQLite in {folder}) …")
    started = time.monotonic()
    try:
        with platform_running(sqlite_urls(folder), log_dir=folder, reject_share=args.reject_share,
                              seed=f"demo-{args.seed}") as platform:
            print(f"  platform up in {time.monotonic() - started:.0f} s: "
                  + ", ".join(f"{s.name} {s.url}" for s in platform.services))
            claims, summary, settlement, _ = asyncio.run(drive(county, platform, args.deadline))
        print(report(county, claims, summary))
        print(settlement_report(settlement))
        print(f"\nDone in {time.monotonic() - started:.0f} s; every process stopped.")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
