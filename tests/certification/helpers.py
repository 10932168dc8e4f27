"""Test data and shortcuts for the certification service tests."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select
from stdnum.cn import ric, uscc

from certification_service.adapters.models import Certificate, kit_tables
from certification_service.domain.certificates import certificate_number
from certification_service.consumers import CONSUMER_GROUP
from skillkit.contracts.voucher import WorkerAccountLinked, WorkerRegistered
from skillkit.db import utcnow
from skillkit.events import Envelope, EventPayload, build_event, parse_event
from skillkit.pii import person_key


def credit_code(seq: int = 1) -> str:
    body = f"91141124MA{seq:07d}"
    return body + uscc.calc_check_digit(body)


def with_wrong_last_character(code: str) -> str:
    wrong = "0" if code[-1] != "0" else "1"
    return code[:-1] + wrong


def resident_id(birth: str = "20050101", seq: str = "123") -> str:
    body = "141124" + birth + seq
    return body + ric.calc_check_digit(body + "0")


def key_of(cs, number: str) -> str:
    return person_key(number, cs.settings.person_key_secret)


FILINGS = [
    {"occupation_code": "4-10-01-05", "level": 5, "certificate_type": "skill_level"},
    {"occupation_code": "4-10-01-05", "level": 4, "certificate_type": "skill_level"},
    {"occupation_code": "4-03-02-01", "level": None, "certificate_type": "special_ability"},
]


def staff(cs) -> dict[str, str]:
    return cs.headers("bureau", sub="staff-1")


def org(cs, institution_id: str, sub: str = "evaluator-1") -> dict[str, str]:
    return cs.headers("evaluation_org", sub=sub, org=institution_id)


async def count(cs, model_or_table: Any, *where: Any) -> int:
    async with cs.sessionmaker() as session:
        stmt = select(func.count()).select_from(model_or_table)
        for clause in where:
            stmt = stmt.where(clause)
        return await session.scalar(stmt)


async def outbox_events(cs, event_type: str | None = None) -> list[Envelope]:
    async with cs.sessionmaker() as session:
        rows = (await session.execute(select(kit_tables.outbox).order_by(kit_tables.outbox.c.seq))).all()
    events = [parse_event(row.body) for row in rows]
    return [e for e in events if event_type is None or e.type == event_type]


async def outbox_count(cs) -> int:
    return await count(cs, kit_tables.outbox)


async def new_institution(cs, seq: int = 1, filings: list[dict] | None = None, name: str = "临县职业技能评价中心") -> str:
    r = await cs.client.post(
        "/v1/evaluation-institutions",
        json={"name": name, "credit_code": credit_code(seq), "filings": FILINGS if filings is None else filings},
        headers=staff(cs),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def new_evaluation(
    cs, institution_id: str, occupation: str = "4-10-01-05", level: int | None = 5, kind: str = "skill_level"
) -> str:
    r = await cs.client.post(
        "/v1/evaluations",
        json={"occupation_code": occupation, "level": level, "certificate_type": kind, "scheduled_on": "2026-12-10"},
        headers=org(cs, institution_id),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def new_candidate(cs, institution_id: str, evaluation_id: str, number: str, name: str = "张三丰", **extra) -> dict:
    r = await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/candidates",
        json={"name": name, "id_number": number, **extra},
        headers=org(cs, institution_id),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def record(cs, institution_id: str, evaluation_id: str, candidate_id: str, theory="80", practical="75.5"):
    return await cs.client.put(
        f"/v1/evaluations/{evaluation_id}/candidates/{candidate_id}/result",
        json={"theory_score": theory, "practical_score": practical},
        headers=org(cs, institution_id),
    )


async def passed_candidate(cs, institution_id: str, evaluation_id: str, number: str, name: str = "张三丰") -> dict:
    candidate = await new_candidate(cs, institution_id, evaluation_id, number, name)
    r = await record(cs, institution_id, evaluation_id, candidate["id"])
    assert r.status_code == 200, r.text
    return candidate


async def issue(cs, institution_id: str, candidate_id: str):
    return await cs.client.post("/v1/certificates", json={"candidate_id": candidate_id}, headers=org(cs, institution_id))


async def certified(cs, number: str = None, name: str = "张三丰", institution_seq: int = 1) -> tuple[str, dict]:
    """An institution, an evaluation, a candidate who passed and their certificate."""
    institution_id = await new_institution(cs, institution_seq)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await passed_candidate(cs, institution_id, evaluation_id, number or resident_id(), name)
    r = await issue(cs, institution_id, candidate["id"])
    assert r.status_code == 201, r.text
    return institution_id, r.json()


def envelope(payload: EventPayload, key: str) -> Envelope:
    _, _, body = build_event(payload, source="/tests", partition_key=key)
    return parse_event(body)


async def feed(cs, payload: EventPayload, key: str) -> bool:
    return await cs.runtime.processors[CONSUMER_GROUP].apply(envelope(payload, key))


async def known_worker(cs, number: str, township: str = "临泉镇", categories: list[str] | None = None) -> str:
    key = key_of(cs, number)
    await feed(
        cs,
        WorkerRegistered(
            worker_id=str(uuid.uuid4()),
            person_key=key,
            account_subject=None,
            masked_name="张*丰",
            township=township,
            categories=categories or ["rural_migrant"],
            on_behalf=True,
            registered_by="staff-1",
        ),
        key,
    )
    return key


def account_linked(key: str) -> WorkerAccountLinked:
    return WorkerAccountLinked(worker_id=str(uuid.uuid4()), person_key=key, account_subject="acct-1")


def another_certificate_like(original: Certificate, **changes: Any) -> Certificate:
    """A second certificate in force for the same person, occupation and level, written past the handlers (to show
    what the database's own constraints refuse)."""
    values = {column: getattr(original, column) for column in (
        "candidate_id", "evaluation_id", "institution_id", "person_key", "holder_name", "certificate_type",
        "occupation_code", "level", "level_slot")}
    return Certificate(**{**values, "certificate_no": certificate_number(2026, 999), "active_slot": "active",
                          "issued_on": date(2026, 11, 26), "issued_by": "x", "free_student_evaluation": False,
                          "graduation_year": None, "status": "valid", "created_at": utcnow(), **changes})
