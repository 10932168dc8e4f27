"""The voucher lifecycle driven by events: binding saga answers, idempotency, order independence."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from skillkit.contracts.certification import CertificateIssued
from skillkit.contracts.subsidy import ClaimPaid
from skillkit.contracts.certification import CertificateRevoked
from skillkit.contracts.training import (
    TrainingCompleted,
    TrainingDropped,
    TrainingEnrolled,
    TrainingEnrolmentRejected,
    TrainingStarted,
)
from skillkit.db import utcnow
from skillkit.events import Envelope
from voucher_service.adapters.models import Voucher, kit_tables
from voucher_service.consumers import CONSUMER_NAME

from tests.voucher.helpers import claimed, registered_worker
from tests.voucher.ids import resident_id


def envelope(payload, key="pk") -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type=payload.__event_type__, source="/tests", time=utcnow(), subject=None,
                    partition_key=key, correlation_id=None, causation_id=None, data=payload)


def enrolled(v, *, enrolment_id="e-1", kind=None, person_key=None) -> TrainingEnrolled:
    return TrainingEnrolled(
        enrolment_id=enrolment_id, class_id="c-1", institution_id="org-1", voucher_id=v["id"],
        person_key=person_key or v["_person_key"], kind=kind or v["kind"], occupation_code="4-10-01-05", level=5,
        class_start=date(2026, 12, 1), class_end=date(2026, 12, 8),
    )


@pytest.fixture
async def voucher(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    async with vs.sessionmaker() as session:
        v["_person_key"] = await session.scalar(select(Voucher.person_key).where(Voucher.id == uuid.UUID(v["id"])))
    return v


async def apply(vs, payload):
    return await vs.runtime.processors[CONSUMER_NAME].apply(envelope(payload))


async def last_event(vs):
    async with vs.sessionmaker() as session:
        row = (await session.execute(select(kit_tables.outbox).order_by(kit_tables.outbox.c.seq.desc()).limit(1))).first()
    from skillkit.events import parse_event
    return parse_event(row.body)


async def status(vs, v) -> str:
    async with vs.sessionmaker() as session:
        return await session.scalar(select(Voucher.status).where(Voucher.id == uuid.UUID(v["id"])))


async def test_enrolment_binds_the_voucher(vs, voucher):
    assert await apply(vs, enrolled(voucher)) is True
    event = await last_event(vs)
    assert event.type == "voucher.bound.v1" and event.data.enrolment_id == "e-1"
    assert event.partition_key == voucher["_person_key"]
    assert await status(vs, voucher) == "bound"


async def test_same_event_twice_is_applied_once(vs, voucher):
    once = envelope(enrolled(voucher))
    processor = vs.runtime.processors[CONSUMER_NAME]
    assert await processor.apply(once) is True
    assert await processor.apply(once) is False
    async with vs.sessionmaker() as session:
        bound = await session.scalar(select(kit_tables.outbox.c.event_type).where(
            kit_tables.outbox.c.event_type == "voucher.bound.v1"))
        inbox = list(await session.scalars(select(kit_tables.inbox.c.event_id)))
    assert bound == "voucher.bound.v1" and inbox == [once.id]


async def test_redelivery_of_same_enrolment_under_new_event_id_does_not_reject(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply(vs, enrolled(voucher))
    assert (await last_event(vs)).type == "voucher.bound.v1"


@pytest.mark.parametrize(
    "case, reason",
    [("wrong_kind", "wrong_kind"), ("not_holder", "not_holder"), ("already_bound", "already_bound"),
     ("revoked", "revoked"), ("expired", "expired"), ("unknown", "unknown_voucher")],
)
async def test_binding_rejections(vs, voucher, case, reason):
    payload = enrolled(voucher)
    if case == "wrong_kind":
        payload = enrolled(voucher, kind="order")
    elif case == "not_holder":
        payload = enrolled(voucher, person_key="f" * 64)
    elif case == "already_bound":
        await apply(vs, enrolled(voucher, enrolment_id="e-0"))
    elif case == "revoked":
        await vs.client.post(f"/v1/vouchers/{voucher['id']}/revoke", json={"reason": "ineligible"}, headers=vs.headers("bureau"))
    elif case == "expired":
        async with vs.sessionmaker() as session:
            await session.execute(update(Voucher).values(valid_until=utcnow() - timedelta(minutes=1)))
            await session.commit()
    elif case == "unknown":
        payload = payload.model_copy(update={"voucher_id": str(uuid.uuid4())})
    before = await status(vs, voucher)
    await apply(vs, payload)
    event = await last_event(vs)
    assert event.type == "voucher.binding_rejected.v1" and event.data.reason == reason
    assert await status(vs, voucher) == before


async def test_rejected_enrolment_releases_the_voucher(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply(vs, TrainingEnrolmentRejected(enrolment_id="e-1", voucher_id=voucher["id"],
                                              person_key=voucher["_person_key"], reason="province", detail="x"))
    assert await status(vs, voucher) == "issued"
    await apply(vs, enrolled(voucher, enrolment_id="e-2"))
    assert (await last_event(vs)).type == "voucher.bound.v1"


def started(v, *, enrolment_id="e-1", first_day=date(2026, 12, 1)) -> TrainingStarted:
    return TrainingStarted(enrolment_id=enrolment_id, voucher_id=v["id"], class_id="c-1", person_key=v["_person_key"],
                           first_day=first_day, checked_at=utcnow())


def completed(v, *, enrolment_id="e-1") -> TrainingCompleted:
    return TrainingCompleted(enrolment_id=enrolment_id, voucher_id=v["id"], class_id="c-1",
                             person_key=v["_person_key"], attended_days=7, passed=True, completed_on=date(2026, 12, 8))


def certificate(v, *, certificate_id="cert-1", occupation_code="4-10-01-05") -> CertificateIssued:
    return CertificateIssued(certificate_id=certificate_id, certificate_no="N1", person_key=v["_person_key"],
                             certificate_type="skill_level", occupation_code=occupation_code, level=5,
                             issued_on=date(2026, 12, 20), institution_id="ev-1", evaluation_id="ev")


async def test_full_lifecycle_in_order_and_with_a_late_start(vs, voucher):
    pk = voucher["_person_key"]
    await apply(vs, enrolled(voucher))
    assert await apply(vs, started(voucher)) is True
    assert await status(vs, voucher) == "in_training"
    await apply(vs, completed(voucher))
    assert await status(vs, voucher) == "completed"
    # training.started for the same enrolment again (the training service re-sent it): never backwards
    await apply(vs, started(voucher, first_day=date(2026, 11, 30)))
    assert await status(vs, voucher) == "completed"
    await apply(vs, certificate(voucher))
    assert await status(vs, voucher) == "certified"
    await apply(vs, started(voucher))
    assert await status(vs, voucher) == "certified"
    await apply(vs, ClaimPaid(claim_id="claim-1", claim_type="training", voucher_id=voucher["id"], person_key=pk,
                              amount="700.00", paid_at=datetime(2027, 1, 5, tzinfo=timezone.utc)))
    assert await status(vs, voucher) == "redeemed"
    event = await last_event(vs)
    assert event.type == "voucher.redeemed.v1" and event.data.claim_id == "claim-1"
    assert event.data.voucher_id == voucher["id"] and event.partition_key == pk
    async with vs.sessionmaker() as session:
        row = (await session.execute(select(Voucher.claim_id, Voucher.ended_at).where(
            Voucher.id == uuid.UUID(voucher["id"])))).one()
    assert row == ("claim-1", datetime(2027, 1, 5, tzinfo=timezone.utc))


async def test_started_moves_only_a_bound_voucher_of_that_enrolment(vs, voucher):
    await apply(vs, started(voucher))  # before the binding: not this voucher's enrolment yet
    assert await status(vs, voucher) == "issued"
    await apply(vs, enrolled(voucher, enrolment_id="e-2"))
    await apply(vs, started(voucher, enrolment_id="e-1"))  # another enrolment's start
    assert await status(vs, voucher) == "bound"
    await apply(vs, started(voucher, enrolment_id="e-2"))
    assert await status(vs, voucher) == "in_training"


async def test_started_on_a_revoked_voucher_changes_nothing(vs, voucher):
    await apply(vs, enrolled(voucher))
    r = await vs.client.post(f"/v1/vouchers/{voucher['id']}/revoke", json={"reason": "fraud"}, headers=vs.headers("bureau"))
    assert r.status_code == 200, r.text
    await apply(vs, started(voucher))
    await apply(vs, completed(voucher))
    assert await status(vs, voucher) == "revoked"


async def test_per_day_check_ins_are_not_consumed(vs, voucher):
    """training.started replaces training.checked_in (one event per enrolment instead of one per day)."""
    await apply(vs, enrolled(voucher))
    processor = vs.runtime.processors[CONSUMER_NAME]
    check_in = dataclasses.replace(envelope(started(voucher)), type="training.checked_in.v1")
    assert await processor.apply(check_in) is False
    assert await status(vs, voucher) == "bound"
    async with vs.sessionmaker() as session:
        assert await session.scalar(select(kit_tables.inbox.c.event_id).where(
            kit_tables.inbox.c.event_id == check_in.id)) is None


async def test_dropped_after_start_releases_the_voucher_and_a_late_start_does_not_rebind(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply(vs, started(voucher))
    await apply(vs, TrainingDropped(enrolment_id="e-1", voucher_id=voucher["id"], person_key=voucher["_person_key"],
                                    reason="moved away"))
    assert await status(vs, voucher) == "issued"
    async with vs.sessionmaker() as session:
        row = (await session.execute(select(Voucher.enrolment_id, Voucher.class_id, Voucher.bound_at).where(
            Voucher.id == uuid.UUID(voucher["id"])))).one()
    assert tuple(row) == (None, None, None)
    await apply(vs, started(voucher))
    assert await status(vs, voucher) == "issued"


async def test_release_of_another_enrolment_changes_nothing(vs, voucher):
    await apply(vs, enrolled(voucher, enrolment_id="e-2"))
    await apply(vs, TrainingEnrolmentRejected(enrolment_id="e-1", voucher_id=voucher["id"],
                                              person_key=voucher["_person_key"], reason="province", detail="x"))
    assert await status(vs, voucher) == "bound"


async def test_completion_after_completion_is_a_no_op(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply(vs, completed(voucher))
    async with vs.sessionmaker() as session:
        before = await session.scalar(select(Voucher.updated_at).where(Voucher.id == uuid.UUID(voucher["id"])))
    await apply(vs, completed(voucher))
    async with vs.sessionmaker() as session:
        after = await session.scalar(select(Voucher.updated_at).where(Voucher.id == uuid.UUID(voucher["id"])))
    assert (await status(vs, voucher), after) == ("completed", before)


async def test_certificate_of_another_occupation_or_revoked_does_not_certify(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply(vs, certificate(voucher, certificate_id="cert-other", occupation_code="4-03-02-01"))
    await apply(vs, certificate(voucher, certificate_id="cert-1"))
    await apply(vs, CertificateRevoked(certificate_id="cert-1", person_key=voucher["_person_key"], reason="fraud",
                                       revoked_at=utcnow()))
    # the certificate delivered again after its revocation stays revoked
    await apply(vs, certificate(voucher, certificate_id="cert-1"))
    await apply(vs, completed(voucher))
    assert await status(vs, voucher) == "completed"


async def test_certificate_certifies_only_completed_vouchers(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply(vs, started(voucher))
    await apply(vs, certificate(voucher))
    assert await status(vs, voucher) == "in_training"
    await apply(vs, completed(voucher))
    assert await status(vs, voucher) == "certified"


async def test_claim_paid_for_a_revoked_voucher_or_another_claim_type_changes_nothing(vs, voucher):
    pk = voucher["_person_key"]
    paid_at = datetime(2027, 1, 5, tzinfo=timezone.utc)
    await apply(vs, ClaimPaid(claim_id="claim-e", claim_type="evaluation", voucher_id=voucher["id"], person_key=pk,
                              amount="400.00", paid_at=paid_at))
    assert await status(vs, voucher) == "issued"
    await vs.client.post(f"/v1/vouchers/{voucher['id']}/revoke", json={"reason": "fraud"}, headers=vs.headers("bureau"))
    await apply(vs, ClaimPaid(claim_id="claim-1", claim_type="training", voucher_id=voucher["id"], person_key=pk,
                              amount="700.00", paid_at=paid_at))
    assert await status(vs, voucher) == "revoked"
    assert (await last_event(vs)).type == "voucher.revoked.v1"


async def test_malformed_voucher_id_is_an_unknown_voucher(vs, voucher):
    await apply(vs, enrolled(voucher).model_copy(update={"voucher_id": "not-a-uuid"}))
    event = await last_event(vs)
    assert (event.type, event.data.reason) == ("voucher.binding_rejected.v1", "unknown_voucher")
    await apply(vs, started(voucher).model_copy(update={"voucher_id": "not-a-uuid"}))
    assert await status(vs, voucher) == "issued"


async def test_certificate_before_completion_still_certifies(vs, voucher):
    pk = voucher["_person_key"]
    await apply(vs, enrolled(voucher))
    await apply(vs, CertificateIssued(certificate_id="cert-1", certificate_no="N1", person_key=pk,
                                      certificate_type="skill_level", occupation_code="4-10-01-05", level=5,
                                      issued_on=date(2026, 12, 20), institution_id="ev-1", evaluation_id="ev"))
    assert await status(vs, voucher) == "bound"
    await apply(vs, TrainingCompleted(enrolment_id="e-1", voucher_id=voucher["id"], class_id="c-1", person_key=pk,
                                      attended_days=7, passed=True, completed_on=date(2026, 12, 8)))
    assert await status(vs, voucher) == "certified"



async def apply_batch(vs, *payloads) -> int:
    """One consumer batch (one transaction), as one partition's records reach the kit."""
    return await vs.runtime.processors[CONSUMER_NAME].apply_batch([envelope(p) for p in payloads])


@pytest.fixture
async def vouchers(vs):
    """Three workers with an inclusive voucher each."""
    out = []
    for n in range(3):
        await registered_worker(vs, sub=f"acct-{n}", id_number=resident_id(seq=f"{600 + n}"))
        v = await claimed(vs, sub=f"acct-{n}")
        async with vs.sessionmaker() as session:
            v["_person_key"] = await session.scalar(select(Voucher.person_key).where(Voucher.id == uuid.UUID(v["id"])))
        out.append(v)
    return out


async def test_one_batch_binds_starts_completes_and_certifies_several_vouchers(vs, vouchers):
    a, b, c = vouchers
    e = {v["id"]: f"e-{n}" for n, v in enumerate(vouchers)}
    assert await apply_batch(vs, *(enrolled(v, enrolment_id=e[v["id"]]) for v in vouchers),
                             *(started(v, enrolment_id=e[v["id"]]) for v in vouchers),
                             completed(a, enrolment_id=e[a["id"]]), completed(b, enrolment_id=e[b["id"]])) == 8
    assert [await status(vs, v) for v in vouchers] == ["completed", "completed", "in_training"]
    assert await apply_batch(vs, certificate(a, certificate_id="cert-a"), certificate(c, certificate_id="cert-c")) == 2
    assert [await status(vs, v) for v in vouchers] == ["certified", "completed", "in_training"]
    await apply_batch(vs, completed(c, enrolment_id=e[c["id"]]))
    assert await status(vs, c) == "certified"  # its certificate came first


async def test_in_one_batch_a_late_start_after_the_completion_does_not_move_back(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply_batch(vs, completed(voucher), started(voucher))
    assert await status(vs, voucher) == "completed"


async def test_in_one_batch_a_drop_after_the_start_releases_and_a_rebinding_follows(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply_batch(vs, started(voucher),
                      TrainingDropped(enrolment_id="e-1", voucher_id=voucher["id"], person_key=voucher["_person_key"],
                                      reason="moved away"),
                      enrolled(voucher, enrolment_id="e-2"), started(voucher, enrolment_id="e-1"))
    assert await status(vs, voucher) == "bound"
    async with vs.sessionmaker() as session:
        assert await session.scalar(select(Voucher.enrolment_id).where(Voucher.id == uuid.UUID(voucher["id"]))) == "e-2"


async def test_in_one_batch_a_certificate_revoked_after_its_issue_stays_revoked(vs, voucher):
    await apply(vs, enrolled(voucher))
    await apply_batch(vs, certificate(voucher), CertificateRevoked(
        certificate_id="cert-1", person_key=voucher["_person_key"], reason="fraud", revoked_at=utcnow()))
    await apply(vs, completed(voucher))
    assert await status(vs, voucher) == "completed"


async def test_a_failing_batch_leaves_nothing_of_its_deferred_transitions(vs, voucher, monkeypatch):
    """All or nothing: the deferred statements run inside the batch's transaction."""
    await apply(vs, enrolled(voucher))
    processor = vs.runtime.processors[CONSUMER_NAME]

    async def broken(session, envelope):
        raise RuntimeError("boom")

    monkeypatch.setitem(processor.handlers, "certificate.revoked.v1", broken)
    with pytest.raises(RuntimeError):
        await apply_batch(vs, started(voucher), completed(voucher), CertificateRevoked(
            certificate_id="cert-x", person_key=voucher["_person_key"], reason="fraud", revoked_at=utcnow()))
    assert await status(vs, voucher) == "bound"


async def test_in_one_batch_each_event_sees_the_state_left_by_the_events_before_it(vs, voucher):
    """Started, dropped, then the same enrolment bound again (re-sent under a new event id): event by event
    the voucher ends bound, so the queued start must be written before the drop, not after the rebinding."""
    await apply(vs, enrolled(voucher))
    await apply_batch(vs, started(voucher),
                      TrainingDropped(enrolment_id="e-1", voucher_id=voucher["id"], person_key=voucher["_person_key"],
                                      reason="moved away"),
                      enrolled(voucher))
    assert await status(vs, voucher) == "bound"


async def test_a_certificate_applied_while_the_completion_commits_still_certifies(vs, voucher):
    """The completion (training topic) and the certificate (certification topic) of one person are applied by
    two batches at the same moment: the completion's transaction has moved the voucher but not committed when
    the certificate's runs. The person lock makes the certificate wait and then see the completed voucher;
    without it the voucher would stay "completed"."""
    import asyncio

    from skillkit.consumer import EventProcessor
    from skillkit.db import is_postgres
    from voucher_service.consumers import lifecycle_consumer
    from voucher_service.handlers import lifecycle

    async with vs.sessionmaker() as session:
        if not is_postgres(session):
            pytest.skip("SQLite runs one writer at a time: no interleaving to test")
    await apply(vs, enrolled(voucher))
    await apply(vs, started(voucher))
    moved, release = asyncio.Event(), asyncio.Event()

    async def complete_then_hold(session) -> None:
        await lifecycle.end_of_batch(session)
        moved.set()
        await release.wait()  # committed only after the certificate's batch has started

    holding = EventProcessor("holding", lifecycle_consumer().by_type, vs.sessionmaker, kit_tables,
                             before_commit=complete_then_hold)
    completion = asyncio.create_task(holding.apply(envelope(completed(voucher))))
    await moved.wait()
    certification = asyncio.create_task(apply(vs, certificate(voucher)))
    await asyncio.sleep(0.5)
    assert not certification.done()  # waiting for the person's lock
    release.set()
    assert await completion is True and await certification is True
    assert await status(vs, voucher) == "certified"


async def test_one_batch_of_bindings_answers_each_enrolment_in_order_with_its_causation(vs, vouchers):
    """The batch's bindings are tried together; the answers still come in event order, each caused by the
    enrolment it answers, and each enrolment sees what the events before it left: a start that came before its
    own enrolment changes nothing, a second enrolment of a voucher bound in the same batch is refused."""
    a, b, c = vouchers
    batch = [envelope(p) for p in (
        started(a, enrolment_id="e-a"),  # before its enrolment: matches nothing
        enrolled(a, enrolment_id="e-a"),
        enrolled(b, enrolment_id="e-b", kind="order"),
        enrolled(c, enrolment_id="e-c"),
        enrolled(c, enrolment_id="e-c2"),  # the same voucher again, another enrolment
        enrolled(a, enrolment_id="e-a"),  # the same enrolment again under a new event id: no answer
    )]
    assert await vs.runtime.processors[CONSUMER_NAME].apply_batch(batch) == 6
    assert [await status(vs, v) for v in vouchers] == ["bound", "issued", "bound"]
    from skillkit.events import parse_event
    async with vs.sessionmaker() as session:
        bodies = list(await session.scalars(select(kit_tables.outbox.c.body).where(
            kit_tables.outbox.c.event_type.in_(("voucher.bound.v1", "voucher.binding_rejected.v1")))
            .order_by(kit_tables.outbox.c.seq)))
    answers = [parse_event(body) for body in bodies]
    assert [(e.type, e.data.enrolment_id, getattr(e.data, "reason", None), e.causation_id) for e in answers] == [
        ("voucher.bound.v1", "e-a", None, batch[1].id),
        ("voucher.binding_rejected.v1", "e-b", "wrong_kind", batch[2].id),
        ("voucher.bound.v1", "e-c", None, batch[3].id),
        ("voucher.binding_rejected.v1", "e-c2", "already_bound", batch[4].id),
    ]
