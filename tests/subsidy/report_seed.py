"""A small county for the report tests (issue 14), written straight into the tables the reports read, with every
expected number derived by hand below (the funnel, T1–T5, money, funds, disclosure).

Vouchers of 2023 (C1: I1 inclusive; C2: I2 caregiver; C3: I1 order; issued in Q1 = Feb, Q2 = May):
| voucher | person (township) | class | bound | completed (passed) | certified | training claim |
| V1 | P1 临泉镇 | C1 | yes | yes (yes) | CERT1 | S1 paid 500.00 (paid in Q2) |
| V2 | P2 临泉镇 | C1 | yes | yes (yes) | — | — |
| V3 | P3 临泉镇 | C1 | yes | yes (no) | — | — |
| V4 | P4 临泉镇 | — | no | — | — | — |
| V5 | P5 临泉镇 | C2 | yes | yes (yes) | CERT5 | S7 eligible 800.00 |
| V6 | P6 临泉镇 (Q2) | C2 | yes | yes (yes) | CERT6 | S7 paid 800.00 (Q3) |
| V7 | P7 白文镇 (Q2) | C2 | yes | yes (yes) | CERT7 revoked | S7 waiting 0.00 |
| V8 | P8 白文镇 (Q2) | C3 | yes | yes (yes) | CERT8 | S2 declared 1900.00 |
| V9 | P9 白文镇 (Q2) | C3 | yes | no | — | — |
V10 (P10 白文镇) is of 2024. P9 also holds CERT9 (E7, no voucher). Other claims: CERT1's evaluation (S8, 400.00 to
E1, paid in Q2), V6's living allowance (S4, 120.00 to the worker W6, paid in Q3).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import insert

from subsidy_service.adapters.models import ChainRow, Claim, FactRow, Person
from subsidy_service.adapters.settlement_models import Fund, FundEntry, Payee

YEAR = 2023
WORKFORCE = {"临泉镇": 10, "白文镇": 4}
FEB = datetime(2023, 2, 10, 2, 0, tzinfo=timezone.utc)
MAY = datetime(2023, 5, 10, 2, 0, tzinfo=timezone.utc)
PAID_Q2 = datetime(2023, 5, 20, 2, 0, tzinfo=timezone.utc)
PAID_Q3 = datetime(2023, 8, 1, 2, 0, tzinfo=timezone.utc)
NAMES = {"P1": "张*三", "P2": "李*", "P3": "王*明", "P4": "赵*", "P5": "刘*华", "P6": "陈*芳", "P7": "杨*",
         "P8": "黄*强", "P9": "周*", "P10": "吴*平"}
TOWNSHIP = {f"P{i}": ("临泉镇" if i <= 6 else "白文镇") for i in range(1, 11)}

# voucher: person, kind, class, institution, created, bound, completed (passed) or None, certificate, year
VOUCHERS = [
    ("V1", "P1", "inclusive", "C1", "I1", FEB, True, True, "CERT1", YEAR),
    ("V2", "P2", "inclusive", "C1", "I1", FEB, True, True, None, YEAR),
    ("V3", "P3", "inclusive", "C1", "I1", FEB, True, False, None, YEAR),
    ("V4", "P4", "inclusive", None, None, FEB, False, None, None, YEAR),
    ("V5", "P5", "caregiver", "C2", "I2", FEB, True, True, "CERT5", YEAR),
    ("V6", "P6", "caregiver", "C2", "I2", MAY, True, True, "CERT6", YEAR),
    ("V7", "P7", "caregiver", "C2", "I2", MAY, True, True, None, YEAR),
    ("V8", "P8", "order", "C3", "I1", MAY, True, True, "CERT8", YEAR),
    ("V9", "P9", "order", "C3", "I1", MAY, True, None, None, YEAR),
    ("V10", "P10", "inclusive", None, None, datetime(2024, 1, 15, tzinfo=timezone.utc), False, None, None, 2024),
]


def _fact(kind: str, key: str, event_type: str, person: str | None, data: dict, **ids: str | None) -> dict:
    return dict(kind=kind, key=key, event_type=event_type, event_id=str(uuid.uuid4()), event_time=FEB,
                person_key=person, voucher_id=ids.get("voucher_id"), enrolment_id=ids.get("enrolment_id"),
                class_id=ids.get("class_id"), institution_id=ids.get("institution_id"), data=data, received_at=FEB)


def _claim(claim_type: str, subject: str, person: str, payee_type: str, payee: str, kind: str, rule: str,
           amount: str, state: str, paid_at: datetime | None = None, voucher: str | None = None,
           institution: str | None = None, part: str = "main") -> dict:
    return dict(id=uuid.uuid4(), claim_type=claim_type, subject_id=subject, part=part, person_key=person,
                voucher_id=voucher, certificate_id=None, institution_id=institution, payee_type=payee_type,
                payee_id=payee, kind=kind, policy_year=YEAR, table_year=YEAR, table_version=1,
                amount=Decimal(amount), lines=[], rule_ids=[rule], state=state, reason_code=None, reason_zh=None,
                reason_en=None, missing=[], quota_slot=None, level_slot=None, recovery_pending=False, created_at=FEB,
                updated_at=FEB, eligible_at=None, paid_at=paid_at, paid_by=None, recomputed_amount=None)


async def seed(session) -> None:
    await session.execute(insert(Person.__table__), [
        dict(person_key=p, worker_id=f"W{p[1:]}", account_subject=None, account_event_at=None, masked_name=name,
             township=TOWNSHIP[p], categories=["rural_migrant"], updated_at=FEB) for p, name in NAMES.items()])
    chains, facts = [], []
    for voucher, person, kind, klass, inst, created, bound, completed, cert, year in VOUCHERS:
        enrolment = f"E{voucher[1:]}" if bound else None
        chains.append(dict(voucher_id=voucher, person_key=person, kind=kind, policy_year=year, enrolment_id=enrolment,
                           class_id=klass, institution_id=inst, certificate_id=cert,
                           status="complete" if cert else "waiting", links=[], created_at=created, updated_at=created))
        if completed is not None:
            facts.append(_fact("completed", enrolment, "training.completed.v1", person,
                               {"attended_days": 5, "passed": completed, "completed_on": "2023-04-01"},
                               voucher_id=voucher, enrolment_id=enrolment, class_id=klass))
    await session.execute(insert(ChainRow.__table__), chains)
    for cert, person in (("CERT1", "P1"), ("CERT5", "P5"), ("CERT6", "P6"), ("CERT7", "P7"), ("CERT8", "P8"),
                         ("CERT9", "P9")):
        facts.append(_fact("certificate", cert, "certificate.issued.v1", person, {"level": 5},
                           institution_id="E1"))
    facts.append(_fact("certificate_revoked", "CERT7", "certificate.revoked.v1", "P7", {"reason": "error"}))
    facts.append(_fact("class_outcome", "C2", "class.outcome_reported.v1", None,
                       {"kind": "caregiver", "trainees_completed": 3, "employed": 2, "passed": 3},
                       class_id="C2", institution_id="I2"))
    for klass, inst, kind in (("C1", "I1", "inclusive"), ("C2", "I2", "caregiver"), ("C3", "I1", "order")):
        facts.append(_fact("class", klass, "class.opened.v1", None,
                           {"kind": kind, "occupation_code": "4-10-01-01", "level": 5, "start_date": "2023-03-01",
                            "end_date": "2023-03-10"}, class_id=klass, institution_id=inst))
    await session.execute(insert(FactRow.__table__), facts)
    await session.execute(insert(Claim.__table__), [
        _claim("training", "V1", "P1", "institution", "I1", "inclusive", "S1", "500.00", "paid", PAID_Q2, "V1", "I1"),
        _claim("training", "V5", "P5", "institution", "I2", "caregiver", "S7", "800.00", "eligible", None, "V5", "I2"),
        _claim("training", "V6", "P6", "institution", "I2", "caregiver", "S7", "800.00", "paid", PAID_Q3, "V6", "I2"),
        _claim("training", "V7", "P7", "institution", "I2", "caregiver", "S7", "0.00", "waiting", None, "V7", "I2"),
        _claim("training", "V8", "P8", "institution", "I1", "order", "S2", "1900.00", "declared", None, "V8", "I1"),
        _claim("evaluation", "CERT1", "P1", "evaluation_institution", "E1", "skill_level", "S8", "400.00", "paid",
               PAID_Q2, None, "I1"),
        _claim("living_allowance", "V6", "P6", "worker", "W6", "caregiver", "S4", "120.00", "paid", PAID_Q3, "V6",
               "I2"),
    ])
    await session.execute(insert(Payee.__table__), [
        dict(payee_type="institution", payee_id="I1", name="临县技工学校", credit_code=None, updated_at=FEB),
        dict(payee_type="institution", payee_id="I2", name="吕梁山护工培训中心", credit_code=None, updated_at=FEB),
        dict(payee_type="evaluation_institution", payee_id="E1", name="临县职业技能评价中心", credit_code=None,
             updated_at=FEB),
        dict(payee_type="worker", payee_id="W6", name="陈*芳", credit_code=None, updated_at=FEB),
    ])
    skills, employment = uuid.uuid4(), uuid.uuid4()
    await session.execute(insert(Fund.__table__), [
        dict(id=skills, year=YEAR, code="skills_special", allocated=Decimal("10000.00"), reserved=Decimal("1900.00"),
             paid=Decimal("900.00"), updated_at=FEB),
        dict(id=employment, year=YEAR, code="employment_subsidy", allocated=Decimal("5000.00"),
             reserved=Decimal("0.00"), paid=Decimal("920.00"), updated_at=FEB),
    ])
    entry = dict(batch_id=None, recovery_id=None, reference=None, note=None, created_by="test")
    await session.execute(insert(FundEntry.__table__), [
        dict(fund_id=skills, entry_type="allocation", amount=Decimal("10000.00"), created_at=FEB, **entry),
        dict(fund_id=skills, entry_type="pay", amount=Decimal("900.00"), created_at=PAID_Q2, **entry),
        dict(fund_id=employment, entry_type="allocation", amount=Decimal("5000.00"), created_at=FEB, **entry),
        dict(fund_id=employment, entry_type="pay", amount=Decimal("1020.00"), created_at=PAID_Q3, **entry),
        dict(fund_id=employment, entry_type="reverse", amount=Decimal("100.00"), created_at=PAID_Q3, **entry),
    ])
