"""Reports (issue 14): the numbers of the dashboard and the disclosure page, composed from the queries of
`adapters/report_queries.py` and the plan's targets (`domain/targets.py`). Reads only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.vocab import VOUCHER_KIND_LABELS
from skillkit.db import utcnow
from skillkit.events import registry

from subsidy_service.adapters import report_queries as q
from subsidy_service.domain.chain import ClaimState
from subsidy_service.domain.settlement import FUND_KINDS
from subsidy_service.domain.targets import (
    T1_TRAINEES,
    T2_CAREGIVERS,
    T3_CERTIFICATION,
    T3_EMPLOYMENT,
    T4_HOLDING,
    T5_CERTIFIED_SHARE,
    T5_KINDS,
    TARGETS,
    count_progress,
    rate,
    rate_progress,
    reached,
)

T5_LISTED = 200
STAGE_LABELS = {"issued": "发券", "bound": "绑定", "completed": "结业", "evaluated": "考核合格", "certified": "取证",
                "eligible": "可兑现", "paid": "已支付"}
STATE_LABELS = {ClaimState.WAITING: "等待中", ClaimState.ELIGIBLE: "可兑现", ClaimState.HELD: "暂缓（待复核）",
                ClaimState.REJECTED: "不予兑现", ClaimState.VOID: "作废", ClaimState.DECLARED: "已申报",
                ClaimState.VERIFIED: "已验收", ClaimState.APPROVED: "已审批", ClaimState.PAID: "已支付",
                ClaimState.EXPIRED: "逾期失效"}
RULE_LABELS = {"S1": "普惠制培训补贴", "S2": "订单式培训补贴", "S3": "项目制培训补贴", "S4": "生活费补贴",
               "S5": "企业在岗职工培训补贴", "S6": "创业培训补贴", "S7": "吕梁山护工培训补贴", "S8": "技能评价补贴",
               "E4": "年度限额", "E5": "同等级限一次", "E6": "无券不兑现", "E7": "中职学生免费评价", "E8": "组织外出务工培训",
               "I3": "机构暂停复核"}
PAYEE_TYPE_LABELS = {"institution": "培训机构", "evaluation_institution": "评价机构", "worker": "劳动者（生活费补贴）"}
KIND_LABELS = {str(k.value): v for k, v in VOUCHER_KIND_LABELS.items()}
CLAIM_TYPE_LABELS = {"training": "培训补贴", "living_allowance": "生活费补贴", "evaluation": "技能评价补贴"}


def kind_label(kind: str | None) -> str:
    return KIND_LABELS.get(kind or "", kind or q.UNKNOWN)


def fund_label(code: str) -> str:
    fund = FUND_KINDS.get(code)
    return fund.label if fund else code


def _count(rule: str, progress: dict[str, Any]) -> dict[str, Any]:
    return {"rule_id": rule, "label": TARGETS[rule].label_zh, **progress}


def _rate(rule: str, label: str, progress: dict[str, Any]) -> dict[str, Any]:
    return {"rule_id": rule, "label": label, **progress}


async def institution_names(session: AsyncSession) -> dict[str, str | None]:
    return {i: n for (t, i), n in (await q.payee_names(session)).items() if t == "institution"}


async def targets(session: AsyncSession, f: q.Filters, workforce: dict[str, int]) -> dict[str, Any]:
    rows = await q.class_counts(session, f)  # one scan of the read model for T1, T2, T3 and T5
    caregiver = [r for r in rows if r["kind"] == "caregiver"]
    counts = {"trained": sum(r["completed"] for r in rows), "caregivers": sum(r["completed"] for r in caregiver),
              "caregivers_certified": sum(r["completed_certified"] for r in caregiver)}
    employed, completed = await q.class_outcomes(session, sorted(r["class_id"] for r in caregiver if r["class_id"]))
    holders = await q.holders_by_township(session)
    # T5: trainees with a chain in a class, of whom certified (the declarations' T5 flag counts the same)
    shares = sorted((r for r in rows if r["class_id"] and r["kind"] in T5_KINDS), key=lambda r: r["class_id"])
    names = await institution_names(session)
    townships = []
    for township in sorted(set(workforce) | set(holders)):
        if f.township is not None and township != f.township:
            continue
        people = workforce.get(township, 0)
        townships.append({"township": township, "workforce_configured": township in workforce,
                          **_rate("T4", f"{township}持证率", rate_progress(holders.get(township, 0), people,
                                                                          T4_HOLDING))})
    county_holders = sum(t["numerator"] for t in townships if t["workforce_configured"])
    county_workforce = sum(t["denominator"] for t in townships)
    # T5: whether a class reaches 50 % is an exact comparison; only the classes below are described in full
    below_rows = [c for c in shares if not reached(rate(c["certified"], c["trainees"]), T5_CERTIFIED_SHARE)]
    below_rows.sort(key=lambda c: (Fraction(c["certified"], c["trainees"]), c["class_id"]))
    below = [
        {"class_id": c["class_id"], "institution_id": c["institution_id"],
         "institution_name": names.get(c["institution_id"] or ""), "kind": c["kind"],
         "kind_label": kind_label(c["kind"]),
         **_rate("T5", f"{kind_label(c['kind'])}培训班取证率",
                 rate_progress(c["certified"], c["trainees"], T5_CERTIFIED_SHARE))}
        for c in below_rows[:T5_LISTED]
    ]
    return {
        "year": f.year,
        "t1_trained": _count("T1", count_progress(counts["trained"], T1_TRAINEES)),
        "t2_caregivers": _count("T2", count_progress(counts["caregivers"], T2_CAREGIVERS)),
        "t3_employment": _rate("T3", "护工就业率", rate_progress(employed, completed, T3_EMPLOYMENT)),
        "t3_certification": _rate("T3", "护工取证率", rate_progress(counts["caregivers_certified"],
                                                                counts["caregivers"], T3_CERTIFICATION)),
        "t4_county": _rate("T4", "全县持证率", rate_progress(county_holders, county_workforce, T4_HOLDING)),
        "t4_townships": townships,
        "t5_classes": len(shares),
        "t5_classes_reached": len(shares) - len(below_rows),
        # the classes furthest below first, at most T5_LISTED of them (a county has hundreds of classes, a province
        # thousands: the page lists what needs review first; the count says how many there are)
        "t5_below_total": len(below_rows),
        "t5_below": below,
    }


async def funnel(session: AsyncSession, f: q.Filters, by: str | None) -> dict[str, Any]:
    groups = await q.funnel(session, f, by)
    names = await institution_names(session) if by == "institution" else {}
    details = await q.class_details(session, [g["key"] for g in groups]) if by == "class" else {}
    total = {stage: sum(g[stage] for g in groups) for stage in q.STAGES}
    for g in groups:
        g["label"] = _group_label(by, g["key"], names, details)
    return {"by": by, "stages": [{"code": s, "label": STAGE_LABELS[s]} for s in q.STAGES], "total": total,
            "groups": groups}


def _group_label(by: str | None, key: str, names: dict[str, Any], details: dict[str, Any]) -> str:
    if by == "institution":
        return names.get(key) or key
    if by == "kind":
        return kind_label(key)
    if by == "class":
        d = details.get(key)
        return f"{key}（{d['occupation_code']}，{d['start_date']}开班）" if d else key
    if by is None:
        return "合计"
    return key


async def money(session: AsyncSession, f: q.Filters, by: str) -> dict[str, Any]:
    groups = await q.money(session, f, by)
    out = []
    for g in groups:
        if by == "rule":
            key, label = g["rule_id"], f"{g['rule_id']} {RULE_LABELS.get(g['rule_id'], '')}".strip()
        elif by == "payee":
            key = f"{g['payee_type']}/{g['payee_id']}"
            label = g["payee_name"] or f"{PAYEE_TYPE_LABELS.get(g['payee_type'], g['payee_type'])} {g['payee_id']}"
        else:
            key, label = "all", "合计"
        out.append({"key": key, "label": label, "count": g["count"], "amount": g["amount"], "by_state": g["by_state"]})
    total = {"count": sum(g["count"] for g in out), "amount": sum((g["amount"] for g in out), Decimal("0.00"))}
    if by == "state":  # one row per state reads better than one row with every state inside
        states = out[0]["by_state"] if out else {}
        out = [{"key": s, "label": STATE_LABELS.get(s, s), "count": v["count"], "amount": v["amount"],
                "by_state": {s: v}} for s, v in sorted(states.items())]
    return {"by": by, "total": total, "groups": out}


async def funds(session: AsyncSession, year: int | None) -> dict[str, Any]:
    rows = [{**r, "label": fund_label(r["code"])} for r in await q.fund_balances(session, year)]
    total = None
    if rows:
        total = {"year": year or rows[0]["year"], "code": "total", "label": "合计",
                 **{k: sum((r[k] for r in rows), Decimal("0.00"))
                    for k in ("allocated", "reserved", "paid", "available")}}
    return {"funds": rows, "total": total}


async def pipeline(session: AsyncSession, kit_tables: Any, lag: dict[str, Any], dead_letters: dict[str, int],
                   now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    backlog, oldest = await q.outbox_backlog(session, kit_tables.outbox)
    newest: dict[tuple[str, str], datetime] = {}
    for consumer, event_type, at in await q.newest_processed(session, kit_tables.inbox):
        info = registry.get(event_type)
        topic = info.topic if info else f"({event_type})"
        key = (consumer, topic)
        if at is not None and (key not in newest or at > newest[key]):
            newest[key] = at
    return {
        "lag_available": lag["available"], "lag_source": lag["source"], "lag_unavailable_reason": lag.get("reason"),
        "consumer_groups": lag["groups"],
        "outbox_backlog": backlog,
        "outbox_oldest_age_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
        "inbox_newest": [{"consumer": c, "topic": t, "newest_processed_at": at,
                          "age_seconds": round((now - at).total_seconds(), 3)} for (c, t), at in sorted(newest.items())],
        "dead_letters": dead_letters,
    }


async def filter_options(session: AsyncSession) -> dict[str, Any]:
    years, townships = await q.years_and_townships(session)
    names = await institution_names(session)
    return {"years": years, "townships": [{"value": t, "label": t} for t in townships],
            "institutions": [{"value": i, "label": n or i} for i, n in sorted(names.items())]}


async def disclosure(session: AsyncSession, year: int, quarter: int | None, workforce: dict[str, int],
                     audit_head: dict[str, Any]) -> dict[str, Any]:
    names = await q.payee_names(session)
    quarters = []
    for qn in ([quarter] if quarter else [1, 2, 3, 4]):
        payees = [{**p, "payee_type_label": PAYEE_TYPE_LABELS.get(p["payee_type"], p["payee_type"]),
                   # a worker payee is a person: only institutions are named in the public list
                   "payee_name": names.get((p["payee_type"], p["payee_id"])) if p["payee_type"] != "worker" else None,
                   **({"payee_id": ""} if p["payee_type"] == "worker" else {})}
                  for p in await q.paid_by_payee(session, year, qn)]
        used = [{**u, "label": fund_label(u["code"])} for u in await q.funds_used(session, year, qn)]
        quarters.append({"quarter": qn, "payees": _merge_workers(payees), "funds_used": used,
                         "amount": sum((p["amount"] for p in payees), Decimal("0.00"))})
    t = await targets(session, q.Filters(year=year), workforce)
    return {"year": year, "generated_at": utcnow(), "audit_head": audit_head, "quarters": quarters,
            "targets": [t["t1_trained"], t["t2_caregivers"], t["t3_employment"], t["t3_certification"],
                        t["t4_county"]]}


def _merge_workers(payees: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Workers' allowances (S4) are one line per quarter, never one per worker (they are persons)."""
    workers = [p for p in payees if p["payee_type"] == "worker"]
    rest = [p for p in payees if p["payee_type"] != "worker"]
    if workers:
        rest.append({"payee_type": "worker", "payee_type_label": PAYEE_TYPE_LABELS["worker"], "payee_id": "",
                     "payee_name": None, "persons": sum(w["persons"] for w in workers),
                     "claims": sum(w["claims"] for w in workers),
                     "amount": sum((w["amount"] for w in workers), Decimal("0.00"))})
    return rest


async def count_rows(session: AsyncSession, table: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(table)) or 0)
