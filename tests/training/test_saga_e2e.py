"""The enrolment saga with the real voucher service over the real broker, including the voucher service being
down while enrolments wait and coming back: one voucher binds, a voucher revoked meanwhile is rejected and the
enrolment compensated."""

from __future__ import annotations

import random
from contextlib import asynccontextmanager

import pytest

from skillkit.testing.harness import eventually, running_service
from training_service.adapters.models import VoucherProjection
from voucher_service.config import VoucherSettings
from voucher_service.main import create as create_voucher_service

from tests.training.support import World, credit_code, resident_id

pytestmark = pytest.mark.broker


@asynccontextmanager
async def voucher_service(url: str, bootstrap: str, consumers: bool):
    settings = VoucherSettings(environment="test", database_url=url, kafka_bootstrap=bootstrap,
                               run_relay=True, run_consumers=consumers, consumer_max_attempts=2)
    async with running_service(create_voucher_service, settings, "voucher_service.migrations") as service:
        yield service


async def _relayed(vs) -> bool:
    """True once the voucher service's outbox has published every row."""
    from sqlalchemy import func, select

    from voucher_service.adapters.models import kit_tables

    async with vs.sessionmaker() as session:
        pending = await session.scalar(
            select(func.count()).select_from(kit_tables.outbox).where(kit_tables.outbox.c.published_at.is_(None)))
    return pending == 0


async def test_saga_with_the_voucher_service_down_then_back(training_service_on_broker, broker, database_factory):
    ts = training_service_on_broker
    w = World(ts)
    await w.setup(credit_code=credit_code(f"12141124MB{random.randrange(10**6):06d}"))
    c = await w.open_class()
    first = random.randrange(900)
    numbers = [resident_id(first), resident_id(first + 1)]
    vs_url = await database_factory("voucher_e2e", migrated="voucher_service.migrations")

    # 1. The bureau issues two vouchers; the training service learns them from `voucher.issued`.
    async with voucher_service(vs_url, broker.bootstrap, consumers=False) as vs:
        staff = vs.headers("bureau", sub="staff-9")
        vouchers = []
        for number in numbers:
            worker = await vs.client.post("/v1/workers", headers=staff, json={
                "name": "王小二", "id_number": number, "mobile": "13812345678", "township": "临泉镇",
                "categories": ["rural_migrant"]})
            assert worker.status_code == 201, worker.text
            voucher = await vs.client.post("/v1/vouchers", headers=staff,
                                           json={"worker_id": worker.json()["id"], "kind": "inclusive"})
            assert voucher.status_code == 201, voucher.text
            vouchers.append(voucher.json())

        async def projected() -> bool:
            async with ts.sessionmaker() as session:
                return all([await session.get(VoucherProjection, v["id"]) for v in vouchers])

        await eventually(projected, timeout=30)

    # 2. The voucher service is down: the institution enrols both (one scanned, one typed); they wait, pending.
    scanned = await w.enrol(c["id"], numbers[0], {"code": None}, voucher_code=None, qr_token=vouchers[0]["qr_token"])
    typed = await w.enrol(c["id"], numbers[1], {"code": None}, voucher_code=vouchers[1]["display_code"])
    assert (scanned.status_code, typed.status_code) == (201, 201), typed.text
    e1, e2 = scanned.json(), typed.json()

    # 3. Meanwhile the second voucher is revoked (the voucher service's API is back, its consumers not yet).
    async with voucher_service(vs_url, broker.bootstrap, consumers=False) as vs:
        r = await vs.client.post(f"/v1/vouchers/{vouchers[1]['id']}/revoke", json={"reason": "duplicate"},
                                 headers=vs.headers("bureau", sub="staff-9"))
        assert r.status_code == 200, r.text
        await eventually(lambda: _relayed(vs))

    async def status(enrolment_id: str) -> dict:
        return (await ts.client.get(f"/v1/enrolments/{enrolment_id}", headers=w.org)).json()

    assert (await status(e1["id"]))["status"] == "pending"
    assert (await status(e2["id"]))["status"] == "pending"

    # 4. The voucher service comes back whole and answers the waiting enrolments.
    async with voucher_service(vs_url, broker.bootstrap, consumers=True) as vs:
        async def answered() -> bool:
            return (await status(e1["id"]))["status"] == "active" and (await status(e2["id"]))["status"] == "rejected"

        await eventually(answered, timeout=40)
        rejected = await status(e2["id"])
        assert rejected["rejection_reason"] == "revoked"
        bound = await vs.client.get(f"/v1/vouchers/{vouchers[0]['id']}", headers=vs.headers("bureau"))
        assert (bound.json()["status"], bound.json()["enrolment_id"]) == ("bound", e1["id"])
    klass = (await ts.client.get(f"/v1/classes/{c['id']}", headers=w.org)).json()
    assert klass["seats_taken"] == 1
