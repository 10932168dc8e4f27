"""What should be payable, recomputed from the producer services' databases (issue 18's third check).

Independent of the subsidy service's code: plain SQL over what the voucher, training and certification services
stored, joined here, with only the rate values taken from the subsidy service's default policy table (data, not
the chain's evaluation). It covers what the chaos run produces — inclusive vouchers (S1), E3 workers (S4) and
level-5 skill certificates (S8) — and says nothing about other kinds, which the run never issues.

A chain pays when its voucher (not revoked) is bound to an enrolment that completed and passed, and the holder has
a valid certificate in the class's occupation:
- S1: the daily rate × the days checked in, at most the class's planned days, capped, to the training institution;
- S4: the daily rate × the same days to the worker, when an E3 category is declared *and* confirmed by a category
  review (issue 13: the allowance waits for the confirmation);
- S8: the level-5 amount per such certificate to its evaluation institution.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from subsidy_service.domain.policy import PolicyTable, default_table

from skillkit.contracts.vocab import VoucherKind, WorkerCategory
from skillkit.db import make_engine

# E3 (RULES.md): the groups a living allowance is paid to
CENT = Decimal("0.01")  # amounts to the fen, as the claims store them
E3_CATEGORIES = frozenset({WorkerCategory.POVERTY_ALLEVIATED_LABOUR, WorkerCategory.MONITORED_HOUSEHOLD})

VOUCHERS = """
SELECT v.id::text AS voucher_id, v.worker_id::text AS worker_id, v.person_key, v.kind, v.policy_year,
       w.categories::text AS categories,
       coalesce((SELECT array_agg(r.category) FROM category_reviews r
                 WHERE r.worker_id = v.worker_id AND r.status = 'confirmed'), '{}') AS confirmed
FROM vouchers v JOIN workers w ON w.id = v.worker_id
WHERE v.status <> 'revoked'
"""
COMPLETIONS = """
SELECT e.voucher_id, e.person_key, e.institution_id::text AS institution_id, c.occupation_code, c.kind,
       c.planned_days, (SELECT count(DISTINCT ci.day) FROM check_ins ci WHERE ci.enrolment_id = e.id) AS days
FROM enrolments e JOIN classes c ON c.id = e.class_id
WHERE e.status = 'completed' AND e.passed
"""
CERTIFICATES = """
SELECT id::text AS certificate_id, person_key, occupation_code, level, institution_id::text AS institution_id
FROM certificates
WHERE status = 'valid' AND certificate_type = 'skill_level'
"""


async def _rows(url: str, sql: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def payable_from_databases(databases: dict[str, str]) -> dict[str, tuple[Decimal, str]]:
    """Claim key -> (amount, payee id), recomputed from the producers' databases."""
    vouchers = {r.voucher_id: r for r in await _rows(databases["voucher-service"], VOUCHERS)}
    completions = await _rows(databases["training-service"], COMPLETIONS)
    certificates: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in await _rows(databases["certification-service"], CERTIFICATES):
        certificates[(r.person_key, r.occupation_code)].append(r)
    tables: dict[int, PolicyTable] = {}
    out: dict[str, tuple[Decimal, str]] = {}
    for done in completions:
        voucher = vouchers.get(done.voucher_id)
        held = certificates.get((done.person_key, done.occupation_code), [])
        if voucher is None or voucher.kind != VoucherKind.INCLUSIVE or done.kind != VoucherKind.INCLUSIVE or not held:
            continue  # no voucher, another kind, or no certificate: the chain is incomplete
        policy = tables.setdefault(voucher.policy_year, default_table(voucher.policy_year))
        days = min(done.days, done.planned_days)
        s1 = policy.s1.daily_rate * days
        out[f"training:{done.voucher_id}:main"] = (min(s1, policy.s1.cap).quantize(CENT), done.institution_id)
        declared = E3_CATEGORIES & set(json.loads(voucher.categories))
        if declared & set(voucher.confirmed):
            s4 = policy.s4.daily_rate * days
            out[f"living_allowance:{done.voucher_id}:main"] = (
                (s4 if policy.s4.cap is None else min(s4, policy.s4.cap)).quantize(CENT), voucher.worker_id)
        for certificate in held:
            amount = policy.s8.levels.get(certificate.level)
            if amount is not None:
                out[f"evaluation:{certificate.certificate_id}:main"] = (amount.quantize(CENT),
                                                                        certificate.institution_id)
    return out


def totals_per_payee(claims: dict[str, tuple[Decimal, str]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for amount, payee in claims.values():
        totals[payee] += amount
    return dict(totals)
