"""`make demo`, part 2 (兑现, issue 20): the county pays what is payable through the subsidy service's REST API.

After the loop (bench/demo.py), for the current quarter in county time:
1. every payee of an eligible claim registers its bank account (institutions, the evaluation centre and the
   enterprise themselves, the bureau on the workers' behalf, S4);
2. each institution, the evaluation centre and the enterprise (S5) opens and submits its declaration (申报, P4);
   the bureau declares the workers' living allowances (declarant `worker`);
3. bureau staff verify (验收): approve the unflagged lines, decide every flagged line (rejected with the flag's
   reason when the flag says the claim cannot be paid as it stands — province real-name rejection or no verdict,
   payee suspended, paid twice — approved as checked otherwise), check every sampled line's evidence, verify;
4. finance enters the year's allocations covering the approved total (职业技能专账资金 about 60 % of the training and
   evaluation subsidies, 就业补助资金 the rest, the living allowances and a margin, so P6 splits the batch), approves
   one payment batch over every declaration, exports the bank file (CSV), builds the bank's result file with
   `bank_files.answer_rows` (every line paid: the fake bank) and imports it;
5. prints what was declared, decided and paid, and the per-fund ledger (资金台账) read back from the service.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from testsupport.api import Api, ApiError
from testsupport.county import County
from skillkit.county import local_date
from subsidy_service.adapters import bank_files

# Flags that mean the claim cannot be paid as it stands: the bureau rejects the line, citing the flag.
REJECTING_FLAGS = frozenset({"realname_rejected", "realname_no_verdict", "payee_suspended", "paid_twice"})
FUND_LABELS = {"skills_special": "职业技能专账资金", "employment_subsidy": "就业补助资金", "reward_2021": "2021年奖励资金"}
ENTRY_LABELS = {"allocation": "下达 allocation", "reserve": "预留 reserve", "release": "释放 release",
                "pay": "支付 pay", "reverse": "退票冲回 reverse", "recover": "追回 recover",
                "unrecover": "追回冲回 unrecover"}
DECLARANT_LABELS = {"institution": "培训机构", "evaluation_institution": "评价机构", "enterprise": "企业（S5）",
                    "worker": "劳动者（县局代报）"}


@dataclass
class Settlement:
    year: int
    quarter: int
    declarations: list[dict[str, Any]] = field(default_factory=list)  # as verified
    names: dict[tuple[str, str], str] = field(default_factory=dict)  # declarant -> name
    decisions: Counter[str] = field(default_factory=Counter)  # approved / rejected / evidence_checked
    rejections: Counter[str] = field(default_factory=Counter)  # reason -> lines
    held_back: list[str] = field(default_factory=list)
    unverified: list[tuple[str, int, str]] = field(default_factory=list)  # (declarant, flagged lines, why)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    batch: dict[str, Any] = field(default_factory=dict)
    exported_lines: int = 0
    imported: dict[str, Any] = field(default_factory=dict)
    funds: list[dict[str, Any]] = field(default_factory=list)
    ledger: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # fund id -> entries
    paid_claims: int = 0
    paid_amount: Decimal = Decimal("0.00")


def quarter_of(moment: datetime) -> tuple[int, int]:
    day = local_date(moment)
    return day.year, (day.month - 1) // 3 + 1


def payee_names(county: County) -> dict[tuple[str, str], str]:
    names = {("institution", i.id or ""): i.name for i in county.institutions}
    names["evaluation_institution", county.evaluation_institution.id or ""] = county.evaluation_institution.name
    names.update({("enterprise", p.enterprise_id): p.enterprise["name"] for p in county.classes
                  if p.enterprise_id and p.enterprise})
    for t in county.trainees:
        if t.worker_id:
            names["worker", t.worker_id] = t.name  # the account holder's real name: the service checks its mask
    return names


def allocations_for(approved: dict[int, dict[str, Decimal]]) -> list[dict[str, Any]]:
    """Per policy year: 职业技能专账资金 60 % of the training and evaluation subsidies (whole thousands, rounded down),
    就业补助资金 the rest, the living allowances (S4 draws only on it) and a margin (whole thousands, rounded up)."""
    out = []
    for year, by_group in sorted(approved.items()):
        skills = (by_group["training"] * Decimal("0.6") / 1000).quantize(Decimal(1), ROUND_DOWN) * 1000
        employment = ((by_group["training"] - skills + by_group["living"]) / 1000 + 10).quantize(
            Decimal(1), ROUND_UP) * 1000
        if skills > 0:
            out.append({"year": year, "code": "skills_special", "amount": str(skills),
                        "reference": f"吕财社〔{year}〕31号", "note": "职业技能提升行动专账资金"})
        out.append({"year": year, "code": "employment_subsidy", "amount": str(employment),
                    "reference": f"吕财社〔{year}〕32号", "note": "就业补助资金（含生活费补贴）"})
    return out


def bank_answer(exported: str) -> tuple[str, list[tuple[int, str, str, Decimal, str, str | None]]]:
    """The payment file's reference and lines, every line paid (the fake bank's answer)."""
    table = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    reference = table[1][7]
    lines = [(int(row[0]), row[1], row[2], Decimal(row[3]), "paid", None) for row in table[3:] if row]
    return reference, lines


async def settle(api: Api, county: County, claims: list[dict[str, Any]], now: datetime | None = None) -> Settlement:
    s = api.endpoints.subsidy
    tokens = api.tokens
    year, quarter = quarter_of(now or datetime.now(timezone.utc))
    result = Settlement(year, quarter)
    names = payee_names(county)
    payees = sorted({(c["payee_type"], c["payee_id"]) for c in claims if c["state"] == "eligible"})

    def org_headers(payee_type: str, payee_id: str) -> dict[str, str]:
        if payee_type == "institution":
            return tokens.training_org(payee_id)
        if payee_type == "evaluation_institution":
            return tokens.evaluation_org(payee_id)
        if payee_type == "enterprise":
            return tokens.enterprise(payee_id)  # S5: the enterprise declares its own on-the-job claims
        return tokens.bureau()  # 兜底: the bureau acts for the workers (S4)

    for n, (payee_type, payee_id) in enumerate(payees, start=1):
        await api.call("PUT", f"{s}/v1/payees/{payee_type}/{payee_id}/account", org_headers(payee_type, payee_id),
                       json={"account_name": names[payee_type, payee_id], "account_number": f"6228480{n:012d}",
                             "bank_name": "中国农业银行临县支行" if payee_type == "worker" else "中国工商银行临县支行",
                             "bank_city": "吕梁市"})

    declarants = sorted({("worker", "county") if t == "worker" else (t, i) for t, i in payees})
    submitted = []
    for declarant_type, declarant_id in declarants:
        headers = org_headers(declarant_type, declarant_id)
        body: dict[str, Any] = {"year": year, "quarter": quarter}
        if declarant_type == "worker":
            body["declarant_type"] = "worker"
        d = await api.call("POST", f"{s}/v1/declarations", headers, json=body)
        result.held_back += d["held_back_order_classes"]
        result.names[declarant_type, declarant_id] = ("临县人社局（代劳动者申报）" if declarant_type == "worker"
                                                      else names[declarant_type, declarant_id])
        if d["line_count"] == 0:
            await api.call("POST", f"{s}/v1/declarations/{d['id']}/withdraw", headers)
            continue
        submitted.append(await api.call("POST", f"{s}/v1/declarations/{d['id']}/submit", headers))

    bureau = tokens.bureau()
    approved: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"training": Decimal(0), "living": Decimal(0)})
    for d in submitted:
        base = f"{s}/v1/declarations/{d['id']}"
        unflagged = (await api.call("POST", f"{base}/approve-unflagged", bureau))["approved_lines"]
        result.decisions["approved"] += unflagged
        if unflagged < d["line_count"]:  # flagged lines wait for a decision each
            try:
                await _decide_flagged(api, base, bureau, result)
            except ApiError as exc:  # cannot read the lines to decide: left submitted, out of the batch
                code = exc.body.get("code") if isinstance(exc.body, dict) else exc.body
                result.unverified.append((result.names[d["declarant_type"], d["declarant_id"]],
                                          d["line_count"] - unflagged, f"GET …/lines: {exc.status} {code}"))
                continue
        # The sampled lines, filtered by the service: one page (5 % of a declaration stays under 200 lines).
        sampled = await api.call("GET", f"{base}/lines", bureau, params={"sampled": "true", "limit": 200})
        for line in sampled["items"]:
            if not line["sample_checked"]:
                await api.call("POST", f"{base}/lines/{line['id']}/evidence-check", bureau,
                               json={"note": "已核对签到记录、结业名册与证书"})
                result.decisions["evidence_checked"] += 1
        verified = await api.call("POST", f"{base}/verify", bureau)
        result.declarations.append(verified)
        for year, group, amount in await _approved_amounts(api, s, bureau, verified):
            approved[year][group] += amount

    finance = tokens.finance()
    result.allocations = allocations_for(approved)
    for allocation in result.allocations:
        await api.call("POST", f"{s}/v1/funds/allocations", finance, json=allocation)
    result.batch = await api.call("POST", f"{s}/v1/payment-batches", finance,
                                  json={"declaration_ids": [d["id"] for d in result.declarations]})
    batch_url = f"{s}/v1/payment-batches/{result.batch['id']}"
    exported = await api.call("POST", f"{batch_url}/bank-file", finance, params={"format": "csv"})
    reference, lines = bank_answer(exported)
    result.exported_lines = len(lines)
    answer = bank_files.to_csv(bank_files.answer_rows(reference, lines))
    result.imported = await api.call("POST", f"{batch_url}/bank-result", finance,
                                     files={"file": (f"{reference}-回单.csv", answer, "text/csv")})

    for y in sorted(approved):
        result.funds += await api.call("GET", f"{s}/v1/funds", finance, params={"year": y})
    for fund in result.funds:
        result.ledger[fund["id"]] = await api.pages(f"{s}/v1/funds/{fund['id']}/ledger", finance)
    paid = [c for c in await api.pages(f"{s}/v1/claims", bureau) if c["state"] == "paid"]
    result.paid_claims = len(paid)
    result.paid_amount = sum((Decimal(str(c["amount"])) for c in paid), Decimal("0.00"))
    return result


async def _decide_flagged(api: Api, base: str, bureau: dict[str, str], result: Settlement) -> None:
    """Each pending flagged line: rejected citing the flags that bar payment, approved as checked otherwise."""
    for line in await api.pages(f"{base}/lines", bureau):
        if line["decision"] != "pending" or not line["claim_id"]:
            continue
        codes = {f["code"] for f in line["flags"]}
        reject = bool(codes & REJECTING_FLAGS)
        reason = "；".join(f["zh"] for f in line["flags"] if not reject or f["code"] in REJECTING_FLAGS)
        await api.call("POST", f"{base}/lines/{line['id']}/decision", bureau, json={
            "approved": not reject, "reason": reason if reject else f"已核实：{reason}"})
        result.decisions["rejected" if reject else "approved"] += 1
        if reject:
            result.rejections[reason] += 1


async def _approved_amounts(api: Api, s: str, bureau: dict[str, str], declaration: dict[str, Any]
                            ) -> list[tuple[int, str, Decimal]]:
    """(policy year, fund group, amount) of the verified declaration's approved claims: its claims now `verified`."""
    claims = await api.pages(f"{s}/v1/claims", bureau, params={"state": "verified"})
    if declaration["declarant_type"] == "worker":
        mine = [c for c in claims if c["payee_type"] == "worker"]
    else:
        mine = [c for c in claims if (c["payee_type"], c["payee_id"]) == (declaration["declarant_type"],
                                                                          declaration["declarant_id"])]
    return [(c["policy_year"], "living" if c["claim_type"] == "living_allowance" else "training",
             Decimal(str(c["amount"]))) for c in mine]


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}"


def settlement_report(result: Settlement) -> str:
    from bench.demo import pad  # the report's column helpers (display width of Chinese text)

    out = ["", "═" * 100,
           f"兑现 — {result.year}年第{result.quarter}季度 申报、验收、拨付  /  Settlement of {result.year} Q{result.quarter}: "
           "declared, verified, paid", "═" * 100, "",
           "▶ 申报与验收  Declarations and verification (P4)",
           f"  {pad('申报单位 declarant', 50)}{pad('类型', 20)}{pad('行数 lines', 12, True)}{pad('金额 amount', 16, True)}"]
    for d in result.declarations:
        name = result.names.get((d["declarant_type"], d["declarant_id"]), d["declarant_id"])
        out.append(f"  {pad(name, 50)}{pad(DECLARANT_LABELS.get(d['declarant_type'], d['declarant_type']), 20)}"
                   f"{pad(str(d['line_count']), 12, True)}{pad(_money(d['amount']), 16, True)}")
    decided = result.decisions
    out.append(f"  验收 verified: {decided['approved']} lines approved, {decided['rejected']} rejected, "
               f"{decided['evidence_checked']} sampled lines' evidence checked")
    for reason, n in sorted(result.rejections.items()):
        out.append(f"    不通过 rejected ×{n}: {reason}")
    for name, lines, why in result.unverified:
        out.append(f"  未能验收 not verified: {name}: {lines} flagged lines could not be read ({why}); "
                   "left submitted, not in the batch")
    if result.held_back:
        out.append(f"  订单班暂缓申报 order classes held back (S2, 一单一结算): {', '.join(sorted(result.held_back))}")
    b, imported = result.batch, result.imported
    out += ["", "▶ 拨付  Payment (P6)"]
    for a in result.allocations:
        out.append(f"  下达 allocation {a['year']} {pad(FUND_LABELS[a['code']], 18)}{pad(_money(a['amount']), 16, True)}"
                   f"  {a['reference']}")
    out.append(f"  支付批次 batch {b['reference']}: {b['claim_count']} claims in {b['transfer_count']} transfers, "
               f"total {_money(b['total'])}; drawn " + ", ".join(
                   f"{FUND_LABELS.get(d['code'], d['code'])} {_money(d['amount'])}" for d in b["draws"]))
    out.append(f"  银行文件 bank file: {result.exported_lines} lines exported (CSV); result file imported: "
               f"{imported['paid']} paid {_money(imported['paid_amount'])}, {imported['failed']} failed")
    out += ["", "▶ 资金台账  Per-fund ledger"]
    for fund in result.funds:
        out.append(f"  {fund['year']} {FUND_LABELS.get(fund['code'], fund['code'])}: 下达 {_money(fund['allocated'])}  "
                   f"预留 {_money(fund['reserved'])}  已付 {_money(fund['paid'])}  可用 {_money(fund['available'])}")
        for e in result.ledger.get(fund["id"], []):
            out.append(f"    #{e['id']:<5}{pad(ENTRY_LABELS.get(e['entry_type'], e['entry_type']), 22)}"
                       f"{pad(_money(e['amount']), 16, True)}  {e['reference'] or ''}")
    paid_total = sum((Decimal(str(f["paid"])) for f in result.funds), Decimal("0.00"))
    batch_total = Decimal(str(b["total"]))
    out.append(f"  已付合计 paid from funds {_money(paid_total)}; batch total {_money(batch_total)}; "
               f"claims paid {result.paid_claims}, {_money(result.paid_amount)}"
               + (" ✓" if paid_total == batch_total == result.paid_amount else " ✗ MISMATCH"))
    return "\n".join(out)
