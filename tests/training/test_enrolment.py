"""Enrolment by voucher: projection checks, the saga's answers, capacity under concurrency."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from skillkit import voucher_token
from skillkit.contracts.voucher import VoucherBindingRejected, VoucherBound, VoucherExpired, VoucherIssued, VoucherRevoked
from skillkit.db import utcnow
from skillkit.events import build_event, parse_event
from skillkit.testing import plugin
from training_service.consumers import VOUCHER_CONSUMER
from training_service.adapters.models import Enrolment, TrainingClass, VoucherProjection, kit_tables

from tests.training.support import (
    World,
    count,
    feed,
    outbox_payloads,
    outbox_types,
    pk_of,
    resident_id,
    today,
    voucher_code,
)


def dashed(code: str) -> str:
    return f"{code[:6]}-{code[6:10]}-{code[10:]}".lower()


async def seats(ts, class_id: str) -> int:
    async with ts.sessionmaker() as session:
        return await session.scalar(select(TrainingClass.seats_taken).where(TrainingClass.id == uuid.UUID(class_id)))


async def test_enrol_by_typed_code_is_pending_and_emits_enrolled(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    r = await w.enrol(c["id"], number, v, voucher_code=dashed(v["code"]))
    assert r.status_code == 201, r.text
    e = r.json()
    assert (e["status"], e["status_label"], e["voucher_id"], e["voucher_code"]) == ("pending", "待绑定", v["voucher_id"], v["code"])
    assert e["id_number_masked"] == number[:6] + "********" + number[-4:]
    assert number not in r.text
    [event] = await outbox_payloads(ts, "training.enrolled.v1")
    assert event == {
        "enrolment_id": e["id"], "class_id": c["id"], "institution_id": w.institution_id,
        "voucher_id": v["voucher_id"], "person_key": pk_of(number), "kind": "inclusive",
        "occupation_code": "4-10-01-05", "level": 5, "class_start": c["start_date"], "class_end": c["end_date"],
    }
    assert await seats(ts, c["id"]) == 1
    async with ts.sessionmaker() as session:
        bodies = (await session.execute(select(kit_tables.outbox.c.body))).scalars().all()
        stored = await session.scalar(select(Enrolment))
    assert all(number.encode() not in b for b in bodies)
    assert number not in stored.id_number_encrypted


async def test_enrol_by_scanned_qr_token(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    r = await w.enrol(c["id"], number, v, voucher_code=None, qr_token=w.qr(v))
    assert r.status_code == 201 and r.json()["voucher_id"] == v["voucher_id"]


async def test_tampered_or_foreign_qr_token_is_refused(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    token = w.qr(v)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = await w.enrol(c["id"], number, v, voucher_code=None, qr_token=tampered)
    assert (r.status_code, r.json()["code"]) == (422, "voucher_token_invalid")
    forged = voucher_token.sign("another-seed", voucher_token.VoucherToken(
        v["voucher_id"], v["code"], "inclusive", v["person_key"], v["valid_until"]))
    r = await w.enrol(c["id"], number, v, voucher_code=None, qr_token=forged)
    assert (r.status_code, r.json()["code"]) == (422, "voucher_token_invalid")
    r = await w.enrol(c["id"], resident_id(2), v, voucher_code=None, qr_token=token)  # someone else's QR
    assert (r.status_code, r.json()["code"]) == (422, "voucher_not_holder")
    r = await w.enrol(c["id"], number, v, qr_token=token)  # both given
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert await count(ts, Enrolment) == 0
    assert await seats(ts, c["id"]) == 0


async def test_voucher_checks_refuse_and_change_nothing(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    code = v["code"]
    wrong_check = code[:-1] + ("A" if code[-1] != "A" else "B")
    r = await w.enrol(c["id"], number, v, voucher_code=wrong_check)
    assert (r.status_code, r.json()["code"]) == (422, "voucher_code_invalid")
    r = await w.enrol(c["id"], number, v, voucher_code=voucher_code())
    assert (r.status_code, r.json()["code"]) == (422, "voucher_unknown")
    r = await w.enrol(c["id"], resident_id(2), v)
    assert (r.status_code, r.json()["code"]) == (422, "voucher_not_holder")
    order_v = await w.voucher(resident_id(3), "order")
    r = await w.enrol(c["id"], resident_id(3), order_v)
    assert (r.status_code, r.json()["code"]) == (422, "voucher_kind_mismatch")
    r = await w.enrol(c["id"], number[:-1] + ("0" if number[-1] != "0" else "1"), v)
    assert (r.status_code, r.json()["code"]) == (422, "id_number_check_digit")
    assert await count(ts, Enrolment) == 0
    assert await seats(ts, c["id"]) == 0
    assert "training.enrolled.v1" not in await outbox_types(ts)


async def test_expired_and_revoked_vouchers_are_refused(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    n1, n2, n3 = resident_id(1), resident_id(2), resident_id(3)
    v1, v2, v3 = await w.voucher(n1), await w.voucher(n2), await w.voucher(n3, valid_days=-1)
    await feed(ts, VoucherExpired(voucher_id=v1["voucher_id"], person_key=v1["person_key"], expired_at=utcnow()),
               v1["person_key"])
    await feed(ts, VoucherRevoked(voucher_id=v2["voucher_id"], person_key=v2["person_key"], reason="fraud",
                                  revoked_by="staff-1", revoked_at=utcnow()), v2["person_key"])
    assert (await w.enrol(c["id"], n1, v1)).json()["code"] == "voucher_expired"
    assert (await w.enrol(c["id"], n2, v2)).json()["code"] == "voucher_revoked"
    r = await w.enrol(c["id"], n3, v3)  # past its validity, expiry event not arrived yet
    assert (r.status_code, r.json()["code"]) == (409, "voucher_expired")
    assert await count(ts, Enrolment) == 0


async def test_a_voucher_that_runs_out_before_the_class_ends_is_refused(ts):
    """The completion must fall inside the voucher's validity (chain link 3): enrolling a voucher that expires before
    the class's last day would train the worker for nothing."""
    w = await World(ts).setup()
    c = await w.open_class(end_date=(today() + timedelta(days=30)).isoformat())
    short, long = resident_id(1), resident_id(2)
    v_short, v_long = await w.voucher(short, valid_days=10), await w.voucher(long, valid_days=40)
    r = await w.enrol(c["id"], short, v_short)
    assert (r.status_code, r.json()["code"]) == (409, "voucher_expires_before_class_end")
    assert f"before the class's last day {today() + timedelta(days=30)}" in r.json()["detail"]
    assert (await w.enrol(c["id"], long, v_long)).status_code == 201
    assert await count(ts, Enrolment) == 1


async def test_projection_tolerates_any_order_and_duplicates(ts):
    """Expired before issued (a replay), and every event twice: the projection ends the same."""
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    key = pk_of(number)
    vid = str(uuid.uuid4())
    now = utcnow()
    expired = VoucherExpired(voucher_id=vid, person_key=key, expired_at=now)
    issued = VoucherIssued(
        voucher_id=vid, code=voucher_code(), worker_id=str(uuid.uuid4()), person_key=key, kind="inclusive",
        policy_year=now.year, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=30),
        channel="claim", categories=["rural_migrant"], living_allowance_eligible=False, issued_by="acct-1",
    )
    assert await feed(ts, expired, key, event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "e1")))
    assert await feed(ts, issued, key, event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "e2")))
    assert not await feed(ts, expired, key, event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "e1")))  # duplicate
    assert await feed(ts, issued, key)  # same content, another id (a replay): still expired
    async with ts.sessionmaker() as session:
        projection = await session.get(VoucherProjection, vid)
    assert projection.issued and projection.expired_at is not None and projection.kind == "inclusive"
    r = await w.enrol(c["id"], number, {"code": issued.code})
    assert r.json()["code"] == "voucher_expired"


async def test_voucher_bound_activates_and_submits_trainee_to_province(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    e = (await w.enrol(c["id"], number, v)).json()
    await w.bind(e, v, c["id"])
    await w.bind(e, v, c["id"])  # a replay with another event id changes nothing more
    r = await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)
    assert (r.json()["status"], r.json()["status_label"]) == ("active", "在训")
    assert (r.json()["province_status"], r.json()["province_status_label"]) == ("submitted", "已上报")
    trainee = [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == "trainee"]
    assert len(trainee) == 1  # P1: a trainee sheet of one line, keyed by the class
    assert ([(line["enrolment_id"], line["person_key"], line["identity"]["kid"]) for line in trainee[0]["trainees"]],
            trainee[0]["class_id"], trainee[0]["county_code"]) == (
        [(e["id"], pk_of(number), "dev-province-1")], c["id"], "141124")  # the identity sealed for the province


async def test_binding_rejected_compensates(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    e = (await w.enrol(c["id"], number, v)).json()
    assert await seats(ts, c["id"]) == 1
    await w.reject_binding(e, v, "already_bound")
    await w.reject_binding(e, v, "already_bound")  # replay: one compensation only
    await w.bind(e, v, c["id"])  # a stray late `bound` does not resurrect it
    r = await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)
    body = r.json()
    assert (body["status"], body["status_label"], body["rejection_reason"]) == ("rejected", "已驳回", "already_bound")
    assert body["rejection_detail"] == "bound to another enrolment"
    assert await seats(ts, c["id"]) == 0
    assert await outbox_payloads(ts, "training.enrolment_rejected.v1") == [{
        "enrolment_id": e["id"], "voucher_id": v["voucher_id"], "person_key": pk_of(number),
        "reason": "already_bound", "detail": "bound to another enrolment"}]
    # the voucher slot is free again: the same voucher may enrol anew
    r = await w.enrol(c["id"], number, v)
    assert r.status_code == 201


async def test_binds_of_one_consumer_batch_keep_event_order_and_causation(ts):
    """The batch's binds are applied together at its end, yet as one by one: a rejection after a bind of the same
    enrolment finds it active (ignored), a bind after a rejection finds it rejected; the batch's trainees go on one
    P1 trainee sheet of the class, in event order, which names its first bound event as cause."""
    w = await World(ts).setup()
    c = await w.open_class()
    (n1, n2, n3) = (resident_id(1), resident_id(2), resident_id(3))
    (v1, v2, v3) = [await w.voucher(n) for n in (n1, n2, n3)]
    (e1, e2, e3) = [(await w.enrol(c["id"], n, v)).json() for n, v in ((n1, v1), (n2, v2), (n3, v3))]

    def envelope(payload, v):
        return parse_event(build_event(payload, source="/tests", partition_key=v["person_key"])[2])

    def bound(e, v):
        return envelope(VoucherBound(voucher_id=v["voucher_id"], person_key=v["person_key"], enrolment_id=e["id"],
                                     class_id=c["id"], institution_id=w.institution_id, bound_at=utcnow()), v)

    def rejected(e, v):
        return envelope(VoucherBindingRejected(voucher_id=v["voucher_id"], person_key=v["person_key"],
                                               enrolment_id=e["id"], reason="already_bound", detail="x"), v)

    batch = [bound(e1, v1), rejected(e1, v1), rejected(e2, v2), bound(e2, v2), bound(e3, v3),
             bound({"id": "not-a-uuid"}, v3)]
    assert await ts.runtime.processors[VOUCHER_CONSUMER].apply_batch(batch) == 6
    status = {}
    for e in (e1, e2, e3):
        status[e["id"]] = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()["status"]
    assert status == {e1["id"]: "active", e2["id"]: "rejected", e3["id"]: "active"}
    assert await seats(ts, c["id"]) == 2
    async with ts.sessionmaker() as session:
        bodies = [json.loads(b) for b in (await session.scalars(
            select(kit_tables.outbox.c.body).where(kit_tables.outbox.c.event_type == "province.realname.submitted.v1")
            .order_by(kit_tables.outbox.c.seq))).all()]
        projection = await session.get(VoucherProjection, v3["voucher_id"])
    trainee = [([line["enrolment_id"] for line in b["data"]["trainees"]], b["causationid"], b["correlationid"])
               for b in bodies if b["data"]["record_type"] == "trainee"]
    assert trainee == [([e1["id"], e3["id"]], batch[0].id, batch[0].id)]
    assert projection.bound_enrolment_id == "not-a-uuid"  # the projection records every bound, ours or not


async def test_one_live_enrolment_per_voucher(ts):
    w = await World(ts).setup()
    c1, c2 = await w.open_class(), await w.open_class(name="第二期")
    number = resident_id(1)
    v = await w.voucher(number)
    assert (await w.enrol(c1["id"], number, v)).status_code == 201
    r = await w.enrol(c2["id"], number, v)
    assert (r.status_code, r.json()["code"]) == (409, "voucher_already_enrolled")
    assert await seats(ts, c2["id"]) == 0


async def test_I3_suspended_institution_cannot_enrol(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    await ts.client.post(f"/v1/institutions/{w.institution_id}/status",
                         json={"status": "suspended", "reason": "暂停招生"}, headers=w.bureau)
    number = resident_id(1)
    v = await w.voucher(number)
    r = await w.enrol(c["id"], number, v)
    assert (r.status_code, r.json()["code"]) == (409, "institution_not_approved")
    assert await count(ts, Enrolment) == 0


async def test_enrolment_roles_and_isolation(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    e, _ = await w.active_trainee(c["id"])
    other = ts.headers("training_org", org=str(uuid.uuid4()))
    r = await ts.client.get(f"/v1/enrolments/{e['id']}", headers=other)
    assert (r.status_code, r.json()["code"]) == (404, "enrolment_not_found")
    r = await ts.client.post(f"/v1/enrolments/{e['id']}/drop", json={"reason": "个人原因"}, headers=other)
    assert r.status_code == 404
    r = await ts.client.get(f"/v1/enrolments/{e['id']}", headers=ts.headers("auditor"))
    assert r.status_code == 200
    r = await ts.client.get(f"/v1/enrolments/{e['id']}", headers=ts.headers("worker"))
    assert r.status_code == 403
    number = resident_id(2)
    v = await w.voucher(number)
    r = await w.enrol(c["id"], number, v, headers=ts.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")


async def test_capacity_race_n_plus_one_into_n_seats(ts):
    """N+1 simultaneous enrolments into N seats: exactly N are taken (the atomic seat UPDATE)."""
    w = await World(ts).setup()
    n = 5
    c = await w.open_class(capacity=n)
    people = [resident_id(i) for i in range(n + 1)]
    vouchers = [await w.voucher(p) for p in people]
    results = await asyncio.gather(*(w.enrol(c["id"], p, v) for p, v in zip(people, vouchers)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * n + [409]
    assert [r.json()["code"] for r in results if r.status_code == 409] == ["class_full"]
    assert await seats(ts, c["id"]) == n
    assert await count(ts, Enrolment) == n
    assert (await outbox_types(ts)).count("training.enrolled.v1") == n


import pytest  # noqa: E402

from skillkit.contracts.vocab import BindingRejection  # noqa: E402


@pytest.mark.parametrize("reason", [r.value for r in BindingRejection])
async def test_binding_rejected_for_each_reason(ts, reason):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    e = (await w.enrol(c["id"], number, v)).json()
    await w.reject_binding(e, v, reason)
    body = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()
    assert (body["status"], body["rejection_reason"]) == ("rejected", reason)
    assert [x["reason"] for x in await outbox_payloads(ts, "training.enrolment_rejected.v1")] == [reason]
    assert await seats(ts, c["id"]) == 0


async def test_expired_qr_token_is_voucher_expired(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    token = w.qr({**v, "valid_until": utcnow() - timedelta(minutes=1)})
    r = await w.enrol(c["id"], number, v, voucher_code=None, qr_token=token)
    assert (r.status_code, r.json()["code"]) == (409, "voucher_expired")
    assert await count(ts, Enrolment) == 0


async def test_enrolment_retry_with_idempotency_key_enrols_once(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    headers = {**w.org, "Idempotency-Key": "enrol-1"}
    a = await w.enrol(c["id"], number, v, headers=headers)
    b = await w.enrol(c["id"], number, v, headers=headers)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json() == b.json() and b.headers["Idempotent-Replayed"] == "true"
    assert await count(ts, Enrolment) == 1
    assert await seats(ts, c["id"]) == 1
    assert (await outbox_types(ts)).count("training.enrolled.v1") == 1


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="SQLite runs one writer at a time: no race")
async def test_concurrent_retry_with_the_same_idempotency_key_gets_the_first_answer(ts):
    """A mobile retry sent while the first request is still running: the retry's insert waits for the first and
    collides with its enrolment; it must get the first's response replayed, not a conflict."""
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    headers = {**w.org, "Idempotency-Key": "enrol-race"}
    a, b = await asyncio.gather(w.enrol(c["id"], number, v, headers=headers),
                                w.enrol(c["id"], number, v, headers=headers))
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json() == b.json()
    assert sorted(r.headers.get("Idempotent-Replayed", "false") for r in (a, b)) == ["false", "true"]
    assert await count(ts, Enrolment) == 1
    assert (await outbox_types(ts)).count("training.enrolled.v1") == 1


async def test_projection_is_the_same_in_every_order(ts):
    """issued, expired, revoked and bound in all 24 orders, one event per batch and all in one batch (written
    grouped by kind): every projection ends identical."""
    import itertools

    from skillkit.contracts.voucher import VoucherBound

    now = utcnow()
    outcomes = set()
    for order in itertools.permutations(range(4)):
        vid, key = str(uuid.uuid4()), f"pk-{uuid.uuid4().hex}"
        events = [
            VoucherIssued(voucher_id=vid, code=voucher_code(), worker_id=str(uuid.uuid4()), person_key=key,
                          kind="order", policy_year=now.year, valid_from=now, valid_until=now + timedelta(days=9),
                          channel="bulk", categories=["rural_migrant"], living_allowance_eligible=False,
                          issued_by="s"),
            VoucherExpired(voucher_id=vid, person_key=key, expired_at=now + timedelta(days=9)),
            VoucherRevoked(voucher_id=vid, person_key=key, reason="duplicate", revoked_by="s",
                           revoked_at=now + timedelta(days=1)),
            VoucherBound(voucher_id=vid, person_key=key, enrolment_id=str(uuid.uuid4()), class_id="c",
                         institution_id="i", bound_at=now),
        ]
        for i in order:
            await feed(ts, events[i], key)
        batch_vid = str(uuid.uuid4())
        copies = [e.model_copy(update={"voucher_id": batch_vid}) for e in events]
        copies[0] = copies[0].model_copy(update={"code": voucher_code()})  # codes are unique
        batch = [parse_event(build_event(copies[i], source="/tests", partition_key=key)[2]) for i in order]
        assert await ts.runtime.processors[VOUCHER_CONSUMER].apply_batch(batch) == 4
        async with ts.sessionmaker() as session:
            for p in (await session.get(VoucherProjection, vid), await session.get(VoucherProjection, batch_vid)):
                outcomes.add((p.issued, p.kind, p.person_key == key, p.expired_at, p.revoked_at, p.revoked_reason,
                              p.bound_enrolment_id is not None, p.valid_until))
    assert len(outcomes) == 1
    [(issued, kind, same_key, expired_at, revoked_at, reason, bound, valid_until)] = outcomes
    assert (issued, kind, same_key, reason, bound) == (True, "order", True, "duplicate", True)
    assert (expired_at, revoked_at, valid_until) == (now + timedelta(days=9), now + timedelta(days=1),
                                                     now + timedelta(days=9))


async def test_enrolment_after_the_class_ended_is_refused(ts):
    w = await World(ts).setup()
    start = date.today() - timedelta(days=30)
    c = await w.open_class(start_date=start.isoformat(), end_date=(start + timedelta(days=6)).isoformat())
    number = resident_id(1)
    v = await w.voucher(number)
    r = await w.enrol(c["id"], number, v)
    assert (r.status_code, r.json()["code"]) == (409, "class_ended")
    assert await count(ts, Enrolment) == 0
