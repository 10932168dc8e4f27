"""Round trips over the real Tansu broker: the enrolment saga, the province feed (P1) with the simulator, and
dead-lettering of invalid province messages. Few and focused: the rest is tested through the processors."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from skillkit.contracts.province import LineVerdict, RealnameAnswered
from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, PROVINCE_SOURCE, TRAINING_TOPIC, dead_letter_topic
from skillkit.contracts.voucher import VoucherBindingRejected, VoucherBound, VoucherIssued
from skillkit.db import utcnow
from skillkit.events import build_event
from skillkit.testing.harness import TopicProbe, eventually, publish, publish_raw
from training_service.adapters.models import RealnameSubmission, VoucherProjection, kit_tables
from training_service.consumers import PROVINCE_CONSUMER
from testsupport.province_simulator import ProvinceSimulator, _trainee_verdict

from tests.training.support import World, credit_code, pk_of, resident_id, voucher_code

pytestmark = pytest.mark.broker


async def _world(ts) -> World:
    w = World(ts)
    return await w.setup(credit_code=credit_code(f"12141124MB{random.randrange(10**6):06d}"))


async def _issue_over_broker(ts, bootstrap: str, number: str) -> dict:
    now = utcnow()
    v = {"voucher_id": str(uuid.uuid4()), "code": voucher_code(), "person_key": pk_of(number)}
    await publish(bootstrap, VoucherIssued(
        voucher_id=v["voucher_id"], code=v["code"], worker_id=str(uuid.uuid4()), person_key=v["person_key"],
        kind="inclusive", policy_year=now.year, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=60),
        channel="claim", categories=["rural_migrant"], living_allowance_eligible=False, issued_by="acct-1",
    ), v["person_key"])

    async def projected() -> bool:
        async with ts.sessionmaker() as session:
            return await session.get(VoucherProjection, v["voucher_id"]) is not None

    await eventually(projected)
    return v


async def _status(ts, w: World, enrolment_id: str) -> dict:
    return (await ts.client.get(f"/v1/enrolments/{enrolment_id}", headers=w.org)).json()


async def test_enrolment_saga_over_the_broker(training_service_on_broker, broker):
    ts = training_service_on_broker
    w = await _world(ts)
    c = await w.open_class()
    first = random.randrange(999)
    n1, n2 = resident_id(first), resident_id(first + 1)
    v1 = await _issue_over_broker(ts, broker.bootstrap, n1)
    v2 = await _issue_over_broker(ts, broker.bootstrap, n2)
    async with TopicProbe(broker.bootstrap, TRAINING_TOPIC) as probe:
        r1, r2 = await w.enrol(c["id"], n1, {"code": v1["code"]}), await w.enrol(c["id"], n2, {"code": v2["code"]})
        assert (r1.status_code, r2.status_code) == (201, 201), r2.text
        e1, e2 = r1.json(), r2.json()
        # One wait for both: TopicProbe.wait_for drops the rest of a fetched batch after its match (kit issue).
        enrolled = {}

        def both_enrolled(ev) -> bool:
            if ev.type == "training.enrolled.v1" and ev.data.enrolment_id in (e1["id"], e2["id"]):
                enrolled[ev.data.enrolment_id] = ev
            return len(enrolled) == 2

        await probe.wait_for(both_enrolled)
        assert enrolled[e1["id"]].partition_key == v1["person_key"]
        # The voucher service has not answered (it is down): the enrolments wait, pending, holding their seats.
        assert (await _status(ts, w, e1["id"]))["status"] == "pending"
        assert (await ts.client.get(f"/v1/classes/{c['id']}", headers=w.org)).json()["seats_taken"] == 2
        # It comes back and answers: bound for one, rejected for the other.
        await publish(broker.bootstrap, VoucherBound(
            voucher_id=v1["voucher_id"], person_key=v1["person_key"], enrolment_id=e1["id"], class_id=c["id"],
            institution_id=w.institution_id, bound_at=utcnow()), v1["person_key"])
        await publish(broker.bootstrap, VoucherBindingRejected(
            voucher_id=v2["voucher_id"], person_key=v2["person_key"], enrolment_id=e2["id"], reason="expired",
            detail="voucher expired before binding"), v2["person_key"])
        await eventually(lambda: _has_status(ts, w, e1["id"], "active"))
        await eventually(lambda: _has_status(ts, w, e2["id"], "rejected"))
        rejected = await probe.wait_for(
            lambda ev: ev.type == "training.enrolment_rejected.v1" and ev.data.enrolment_id == e2["id"])
        assert (rejected.data.reason, rejected.data.detail) == ("expired", "voucher expired before binding")
    assert (await ts.client.get(f"/v1/classes/{c['id']}", headers=w.org)).json()["seats_taken"] == 1


async def _has_status(ts, w, enrolment_id, status) -> bool:
    return (await _status(ts, w, enrolment_id))["status"] == status


async def test_P1_province_simulator_round_trip(training_service_on_broker, broker):
    ts = training_service_on_broker
    w = await _world(ts)
    c = await w.open_class()
    number = resident_id(random.randrange(1000))
    v = await _issue_over_broker(ts, broker.bootstrap, number)
    e = (await w.enrol(c["id"], number, {"code": v["code"]})).json()
    await publish(broker.bootstrap, VoucherBound(
        voucher_id=v["voucher_id"], person_key=v["person_key"], enrolment_id=e["id"], class_id=c["id"],
        institution_id=w.institution_id, bound_at=utcnow()), v["person_key"])
    stop = asyncio.Event()
    simulator = ProvinceSimulator(broker.bootstrap, reject_share=1.0, seed="test",
                                  group=f"province-sim-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(simulator.run(stop))
    try:
        async def province_rejected() -> bool:
            body = await _status(ts, w, e["id"])
            return body["province_status"] == "rejected"

        await eventually(province_rejected, timeout=30)
        body = await _status(ts, w, e["id"])
        # the simulator's draw on (seed, person key) picks the reason: the one it must have picked here
        assert body["province_reason"] == _trainee_verdict("test", v["person_key"], 1.0)["reason"]

        async def class_accepted() -> bool:
            async with ts.sessionmaker() as session:
                return await session.scalar(select(RealnameSubmission.status).where(
                    RealnameSubmission.class_id == c["id"], RealnameSubmission.record_type == "class")) == "accepted"

        await eventually(class_accepted, timeout=30)
    finally:
        stop.set()
        await task


async def test_P1_invalid_inbound_message_is_dead_lettered_and_changes_nothing(training_service_on_broker, broker):
    ts = training_service_on_broker
    w = await _world(ts)
    c = await w.open_class()
    async with ts.sessionmaker() as session:
        submission = await session.scalar(select(RealnameSubmission).where(RealnameSubmission.class_id == c["id"]))
    valid = RealnameAnswered(submission_id=str(submission.id), record_type="class", class_id=c["id"],
                             verdict="accepted")
    event_id, _, body = build_event(valid, source=PROVINCE_SOURCE, partition_key=c["id"])
    envelope = json.loads(body)
    envelope["data"]["verdict"] = "probably"  # not in the contract
    invalid = json.dumps(envelope).encode()
    headers = await _dead_lettered_answer(broker.bootstrap, invalid, c["id"])
    assert headers["dlq.reason"] == b"invalid"
    assert b"verdict" in headers["dlq.error"]
    async with ts.sessionmaker() as session:
        stored = await session.get(RealnameSubmission, submission.id)
        inbox = await session.scalar(select(kit_tables.inbox.c.event_id).where(kit_tables.inbox.c.event_id == event_id))
    assert (stored.status, stored.answered_at, inbox) == ("submitted", None, None)


async def test_P1_an_answer_line_not_on_the_sheet_is_dead_lettered_and_changes_nothing(training_service_on_broker,
                                                                                      broker):
    """A trainee sheet answered with a line naming an enrolment that is not on it is not ours: the handler refuses
    it (UnknownSubmission), the kit retries it, then dead-letters it; the sheet and its trainees stay unanswered."""
    ts = training_service_on_broker
    w = await _world(ts)
    c = await w.open_class()
    number = resident_id(random.randrange(1000))
    v = await _issue_over_broker(ts, broker.bootstrap, number)
    e = (await w.enrol(c["id"], number, {"code": v["code"]})).json()
    await publish(broker.bootstrap, VoucherBound(
        voucher_id=v["voucher_id"], person_key=v["person_key"], enrolment_id=e["id"], class_id=c["id"],
        institution_id=w.institution_id, bound_at=utcnow()), v["person_key"])
    await eventually(lambda: _has_status(ts, w, e["id"], "active"))
    async with ts.sessionmaker() as session:
        sheet = await session.scalar(select(RealnameSubmission).where(
            RealnameSubmission.class_id == c["id"], RealnameSubmission.record_type == "trainee"))
    assert sheet.lines == [[e["id"], v["person_key"]]]
    stranger = str(uuid.uuid4())
    stray = RealnameAnswered(
        submission_id=str(sheet.id), record_type="trainee", class_id=c["id"], verdict="rejected", detail="共 2 条，驳回 1 条",
        lines=[LineVerdict(enrolment_id=e["id"], person_key=v["person_key"], verdict="accepted"),
               LineVerdict(enrolment_id=stranger, person_key="pk-stranger", verdict="rejected",
                           reason="identity_mismatch")])
    event_id, _, body = build_event(stray, source=PROVINCE_SOURCE, partition_key=c["id"])
    headers = await _dead_lettered_answer(broker.bootstrap, body, c["id"])
    assert (headers["dlq.reason"], headers["dlq.consumer"]) == (b"handler_failed", PROVINCE_CONSUMER.encode())
    assert headers["dlq.error"] == (
        f"UnknownSubmission('answer to sheet {sheet.id} names a line that is not on the sheet')").encode()
    async with ts.sessionmaker() as session:
        stored = await session.get(RealnameSubmission, sheet.id)
        inbox = await session.scalar(select(kit_tables.inbox.c.event_id).where(kit_tables.inbox.c.event_id == event_id))
    assert (stored.status, stored.answered_at, inbox) == ("submitted", None, None)
    assert (await _status(ts, w, e["id"]))["province_status"] == "submitted"


async def _dead_lettered_answer(bootstrap: str, raw: bytes, class_id: str) -> dict:
    """Publishes a raw province answer and returns the headers of its copy on the province consumer's DLQ."""
    dlq = AIOKafkaConsumer(dead_letter_topic(PROVINCE_CONSUMER), bootstrap_servers=bootstrap,
                           auto_offset_reset="earliest", enable_auto_commit=False)
    await dlq.start()
    try:
        await publish_raw(bootstrap, PROVINCE_INBOUND_TOPIC, raw, class_id)

        async def dead_lettered():
            batches = await dlq.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if record.value == raw:
                        return dict(record.headers)
            return None

        return await eventually(dead_lettered, timeout=30)
    finally:
        await dlq.stop()
