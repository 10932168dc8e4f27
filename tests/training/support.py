"""Builders for training-service tests: institutions, classes, vouchers (as voucher events), enrolments."""

from __future__ import annotations

from contextlib import asynccontextmanager
import secrets
import uuid
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_37_36

from skillkit import voucher_token
from skillkit.contracts.voucher import VoucherBindingRejected, VoucherBound, VoucherIssued
from skillkit.county import COUNTY_TZ, local_date
from skillkit.db import utcnow
from skillkit.events import EventPayload, build_event, parse_event
from skillkit.pii import person_key
from skillkit.settings import DEV_PERSON_KEY_SECRET

from training_service.adapters.models import Enrolment
from training_service.consumers import PROVINCE_CONSUMER, VOUCHER_CONSUMER

CAREGIVER = "4-10-01-05"  # 养老护理员
ECOMMERCE = "4-01-02-02"  # 电子商务师


def credit_code(body: str = "12141124MB000001") -> str:
    body = (body + "0" * 17)[:17]
    return body + uscc.calc_check_digit(body)


def resident_id(seq: int = 1, birth: str = "20050101") -> str:
    body = "141124" + birth + f"{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def pk_of(number: str) -> str:
    return person_key(number, DEV_PERSON_KEY_SECRET)


def voucher_code() -> str:
    body = "LX" + "".join(secrets.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
    return body + mod_37_36.calc_check_digit(body)


def today() -> date:
    return local_date(utcnow())


def at_local(day: date, hour: int = 9) -> str:
    """An ISO instant at `hour` o'clock county time on `day`."""
    return datetime.combine(day, time(hour), COUNTY_TZ).astimezone(timezone.utc).isoformat()


def check_in_time(day: date) -> str:
    """9 o'clock county time on `day` — or, today before 9 (a suite running between 16:00 and 01:00 UTC), now: a
    check-in in the future is refused."""
    nine = at_local(day)
    if day == today() and datetime.fromisoformat(nine) > utcnow():
        return utcnow().isoformat()
    return nine


def institution_body(**overrides) -> dict:
    body = {
        "name": "临县技工学校",
        "credit_code": credit_code(),
        "address": "临县临泉镇新城路1号",
        "township": "临泉镇",
        "contact_name": "王老师",
        "contact_phone": "13800000001",
        "kinds": ["inclusive", "order", "entrepreneurship", "project"],
        "occupation_codes": [CAREGIVER, ECOMMERCE],
    }
    body.update(overrides)
    return body


def class_body(**overrides) -> dict:
    start = today() - timedelta(days=5)
    body = {
        "name": "养老护理员普惠制培训班",
        "kind": "inclusive",
        "occupation_code": CAREGIVER,
        "level": 5,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=6)).isoformat(),
        "planned_days": 5,
        "capacity": 30,
        "venue": "临县技工学校实训楼301",
        "teachers": ["李老师"],
        "teaching_plan_ref": "TP-2026-012",
        "assessment_plan_ref": "AP-2026-012",
    }
    body.update(overrides)
    return body


async def feed(ts, payload: EventPayload, partition_key: str, consumer: str = VOUCHER_CONSUMER,
               event_id: str | None = None, time: datetime | None = None) -> bool:
    """Hands one event to a consumer's processor, as the Kafka runner would."""
    _, _, raw = build_event(payload, source="/tests", partition_key=partition_key, event_id=event_id, time=time)
    return await ts.runtime.processors[consumer].apply(parse_event(raw))


async def feed_province(ts, payload: EventPayload, partition_key: str, time: datetime | None = None) -> bool:
    return await feed(ts, payload, partition_key, PROVINCE_CONSUMER, time=time)


class World:
    """A registered institution with a bureau and an institution token, and helpers around them."""

    def __init__(self, ts) -> None:
        self.ts = ts
        self.bureau = ts.headers("bureau", sub="staff-1")
        self.institution_id: str = ""
        self.org: dict = {}

    async def institution(self, **overrides) -> dict:
        r = await self.ts.client.post("/v1/institutions", json=institution_body(**overrides), headers=self.bureau)
        assert r.status_code == 201, r.text
        return r.json()

    async def setup(self, **overrides) -> "World":
        inst = await self.institution(**overrides)
        self.institution_id = inst["id"]
        self.org = self.ts.headers("training_org", sub="org-user-1", org=self.institution_id)
        return self

    async def open_class(self, headers: dict | None = None, **overrides) -> dict:
        r = await self.ts.client.post("/v1/classes", json=class_body(**overrides), headers=headers or self.org)
        assert r.status_code == 201, r.text
        return r.json()

    async def voucher(self, number: str, kind: str = "inclusive", valid_days: int = 90, code: str | None = None) -> dict:
        now = utcnow()
        v = {
            "voucher_id": str(uuid.uuid4()),
            "code": code or voucher_code(),
            "person_key": pk_of(number),
            "kind": kind,
            "valid_until": now + timedelta(days=valid_days),
        }
        await feed(
            self.ts,
            VoucherIssued(
                voucher_id=v["voucher_id"], code=v["code"], worker_id=str(uuid.uuid4()), person_key=v["person_key"],
                kind=kind, policy_year=now.year, valid_from=now - timedelta(days=1), valid_until=v["valid_until"],
                channel="claim", categories=["rural_migrant"], living_allowance_eligible=False, issued_by="acct-1",
            ),
            v["person_key"],
        )
        return v

    @staticmethod
    def qr(v: dict) -> str:
        return voucher_token.sign(
            voucher_token.DEV_QR_SIGNING_SEED,
            voucher_token.VoucherToken(v["voucher_id"], v["code"], v["kind"], v["person_key"], v["valid_until"]),
        )

    async def enrol(self, class_id: str, number: str, v: dict, headers: dict | None = None, at_start: bool = False,
                    **overrides):
        """`at_start`: as on the class's first day when that is past (no back-dated training: the days a trainee may
        be checked in on start with the enrolment), by moving the service's clock there for the request."""
        body = {"voucher_code": v["code"], "trainee_name": "张三", "id_number": number}
        body.update(overrides)
        if not at_start:
            return await self.ts.client.post(f"/v1/classes/{class_id}/enrolments", json=body,
                                             headers=headers or self.org)
        async with self.at_class_start(class_id):
            return await self.ts.client.post(f"/v1/classes/{class_id}/enrolments", json=body,
                                             headers=headers or self.org)

    @asynccontextmanager
    async def at_class_start(self, class_id: str):
        clock = self.ts.app.state.clock
        c = await self.ts.client.get(f"/v1/classes/{class_id}", headers=self.bureau)
        start = date.fromisoformat(c.json()["start_date"]) if c.status_code == 200 else today()
        if start < today():
            clock.move_to(datetime.combine(start, time(8, 0), COUNTY_TZ))
        try:
            yield
        finally:
            clock.reset()

    async def bind(self, enrolment: dict, v: dict, class_id: str) -> None:
        """voucher.bound, dated when the enrolment was made (the voucher service answers within seconds)."""
        async with self.ts.sessionmaker() as session:
            made = await session.scalar(select(Enrolment.created_at).where(Enrolment.id == uuid.UUID(enrolment["id"])))
        await feed(
            self.ts,
            VoucherBound(voucher_id=v["voucher_id"], person_key=v["person_key"], enrolment_id=enrolment["id"],
                         class_id=class_id, institution_id=self.institution_id, bound_at=made or utcnow()),
            v["person_key"],
        )

    async def reject_binding(self, enrolment: dict, v: dict, reason: str = "already_bound") -> None:
        await feed(
            self.ts,
            VoucherBindingRejected(voucher_id=v["voucher_id"], person_key=v["person_key"],
                                   enrolment_id=enrolment["id"], reason=reason, detail="bound to another enrolment"),
            v["person_key"],
        )

    async def active_trainee(self, class_id: str, seq: int = 1, kind: str = "inclusive") -> tuple[dict, dict]:
        number = resident_id(seq)
        v = await self.voucher(number, kind)
        r = await self.enrol(class_id, number, v, at_start=True)
        assert r.status_code == 201, r.text
        await self.bind(r.json(), v, class_id)
        return r.json(), v

    async def active_trainees(self, class_id: str, seqs: list[int]) -> list[tuple[dict, dict]]:
        """Trainees enrolled one by one and bound together, in one consumer batch of `voucher.bound` (in `seqs`
        order), as the voucher service's answers arrive in a poll."""
        enrolled = []
        for seq in seqs:
            number = resident_id(seq)
            v = await self.voucher(number)
            r = await self.enrol(class_id, number, v, at_start=True)
            assert r.status_code == 201, r.text
            enrolled.append((r.json(), v))
        async with self.ts.sessionmaker() as session:
            made = dict((await session.execute(select(Enrolment.id, Enrolment.created_at).where(
                Enrolment.id.in_([uuid.UUID(e["id"]) for e, _ in enrolled])))).all())
        batch = [parse_event(build_event(
            VoucherBound(voucher_id=v["voucher_id"], person_key=v["person_key"], enrolment_id=e["id"],
                         class_id=class_id, institution_id=self.institution_id,
                         bound_at=made.get(uuid.UUID(e["id"]), utcnow())),
            source="/tests", partition_key=v["person_key"])[2]) for e, v in enrolled]
        assert await self.ts.runtime.processors[VOUCHER_CONSUMER].apply_batch(batch) == len(batch)
        return enrolled

    async def check_in(self, class_id: str, enrolment_id: str, day: date, **overrides):
        body = {"enrolment_id": enrolment_id, "method": "face", "checked_at": check_in_time(day)}
        body.update(overrides)
        return await self.ts.client.post(f"/v1/classes/{class_id}/check-ins", json=body, headers=self.org)


async def count(ts, model_or_table, *where) -> int:
    async with ts.sessionmaker() as session:
        stmt = select(func.count()).select_from(model_or_table)
        for clause in where:
            stmt = stmt.where(clause)
        return await session.scalar(stmt)


async def outbox_types(ts) -> list[str]:
    from training_service.adapters.models import kit_tables

    async with ts.sessionmaker() as session:
        rows = (await session.execute(select(kit_tables.outbox.c.event_type).order_by(kit_tables.outbox.c.seq))).all()
    return [r.event_type for r in rows]


async def outbox_payloads(ts, event_type: str) -> list[dict]:
    import json

    from training_service.adapters.models import kit_tables

    async with ts.sessionmaker() as session:
        rows = (await session.execute(
            select(kit_tables.outbox.c.body).where(kit_tables.outbox.c.event_type == event_type)
            .order_by(kit_tables.outbox.c.seq)
        )).all()
    return [json.loads(r.body)["data"] for r in rows]
