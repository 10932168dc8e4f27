"""The voucher lifecycle driven by other services' events (issued → bound → in_training → completed →
certified → redeemed). Every handler is idempotent and never moves a voucher backwards, so late,
duplicated or reordered events change nothing they should not.

Each transition is one conditional UPDATE whose WHERE clause is the rule (which statuses it may leave, which
enrolment it belongs to): the database applies it under the row lock, so no handler reads the voucher first
and a late or foreign event simply matches no row. The statements are built once, at import.

A consumer batch is a whole poll (up to 200 records across partitions, per-partition order kept), and the
uploads upstream put runs of the same type in it (a class's enrolments, starts, completions, certificates).
Bindings, starts, completions and certificates are therefore deferred: each handler queues its parameters and
`write_deferred` writes the queue with one statement per kind (bindings: one UPDATE … FROM unnest(…); the others:
an executemany), before any other handler of the batch and at the end of the batch (the consumer's
`before_commit`). Starts, completions and certificates commute (forward-only, certificates only add); a binding
writes the queue first when its voucher already has a queued binding, start or completion, and bindings are
written before the other transitions, so each event still sees exactly the state it would have seen event by
event. Every other handler writes the queue first.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Executable, Row, and_, bindparam, case, exists, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.certification import CertificateIssued, CertificateRevoked
from skillkit.contracts.subsidy import ClaimPaid
from skillkit.contracts.training import (
    TrainingCompleted,
    TrainingDropped,
    TrainingEnrolled,
    TrainingEnrolmentRejected,
    TrainingStarted,
)
from skillkit.contracts.vocab import BindingRejection
from skillkit.contracts.voucher import VoucherBindingRejected, VoucherBound, VoucherRedeemed
from skillkit.county import county_time
from skillkit.db import is_postgres, utcnow
from skillkit.events import Envelope, EventPayload, causation_id_var, correlation_id_var
from skillkit.inserts import insert_or_skip_statement
from skillkit.locks import lock_key, take_locks

from voucher_service.adapters.models import PersonCertificate, Voucher
from voucher_service.adapters.outbox import outbox
from voucher_service.handlers import notifications
from voucher_service.domain import validity

V = Voucher.__table__
C = PersonCertificate.__table__


def _status_in(statuses: tuple[str, ...]) -> ColumnElement[bool]:
    # Plain comparisons instead of IN (…): an IN list is an "expanding" parameter, which executemany refuses.
    return or_(*(V.c.status == status for status in statuses))


# Core statements on the tables (not the ORM classes): no identity map to keep in sync, no ORM bulk-update
# bookkeeping. Bind names carry a `p_` prefix because a bind named like a SET column is reserved.
_BIND = (
    update(V)
    .where(V.c.id == bindparam("p_id"), V.c.status == validity.ISSUED, V.c.valid_until > bindparam("p_now"),
           V.c.kind == bindparam("p_kind"), V.c.person_key == bindparam("p_person_key"))
    .values(status=validity.BOUND, enrolment_id=bindparam("p_enrolment_id"), class_id=bindparam("p_class_id"),
            institution_id=bindparam("p_institution_id"), occupation_code=bindparam("p_occupation_code"),
            bound_at=bindparam("p_now"), updated_at=bindparam("p_now"))
    .returning(V.c.id)
)
# The batch's bindings in one statement (PostgreSQL): the queued enrolments go as arrays, unnested, and the
# WHERE clause is _BIND's. Each voucher appears at most once in the arrays (see `_queue_binding`).
_BIND_MANY = text(
    "UPDATE vouchers AS v SET status = :bound, enrolment_id = t.enrolment_id, class_id = t.class_id,"
    " institution_id = t.institution_id, occupation_code = t.occupation_code, bound_at = :now, updated_at = :now"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:kinds AS varchar[]), CAST(:person_keys AS varchar[]),"
    " CAST(:enrolment_ids AS varchar[]), CAST(:class_ids AS varchar[]), CAST(:institution_ids AS varchar[]),"
    " CAST(:occupation_codes AS varchar[]))"
    " AS t(id, kind, person_key, enrolment_id, class_id, institution_id, occupation_code)"
    " WHERE v.id = t.id AND v.status = :issued AND v.valid_until > :now AND v.kind = t.kind"
    " AND v.person_key = t.person_key"
    " RETURNING v.id"
).bindparams(bound=validity.BOUND, issued=validity.ISSUED)
# Read only when the binding did not happen, to say why (under the row lock, like the binding itself).
_BINDING_STATE = select(
    V.c.code, V.c.status, V.c.kind, V.c.person_key, V.c.valid_until, V.c.enrolment_id, V.c.revoked_reason
).where(V.c.id == bindparam("p_id")).with_for_update()
_RELEASE = (
    update(V)
    .where(V.c.id == bindparam("p_id"), V.c.enrolment_id == bindparam("p_enrolment_id"),
           _status_in((validity.BOUND, validity.IN_TRAINING)))
    .values(status=validity.ISSUED, enrolment_id=None, class_id=None, institution_id=None, occupation_code=None,
            bound_at=None, updated_at=bindparam("p_now"))
)
_START = (
    update(V)
    .where(V.c.id == bindparam("p_id"), V.c.enrolment_id == bindparam("p_enrolment_id"),
           _status_in(validity.earlier_than(validity.IN_TRAINING)))
    .values(status=validity.IN_TRAINING, updated_at=bindparam("p_now"))
)
# A certificate of the voucher's occupation seen earlier (and not revoked) certifies it on completion.
_HELD = exists().where(C.c.person_key == V.c.person_key, C.c.occupation_code == V.c.occupation_code,
                       C.c.revoked.is_(False))
_COMPLETE = (
    update(V)
    .where(V.c.id == bindparam("p_id"), V.c.enrolment_id == bindparam("p_enrolment_id"),
           # a completed voucher whose certificate was recorded meanwhile is certified by a redelivery
           or_(_status_in(validity.earlier_than(validity.COMPLETED)),
               and_(V.c.status == validity.COMPLETED, _HELD)))
    .values(status=case((_HELD, validity.CERTIFIED), else_=validity.COMPLETED), updated_at=bindparam("p_now"))
)
_CERTIFY = (
    update(V)
    .where(V.c.person_key == bindparam("p_person_key"), V.c.occupation_code == bindparam("p_occupation_code"),
           V.c.status == validity.COMPLETED)
    .values(status=validity.CERTIFIED, updated_at=bindparam("p_now"))
)
_REVOKE_CERTIFICATE = update(C).where(C.c.certificate_id == bindparam("p_certificate_id")).values(revoked=True)
_REDEEM = (
    update(V)
    .where(V.c.id == bindparam("p_id"), V.c.status.not_in((validity.REDEEMED, validity.REVOKED)))
    .values(status=validity.REDEEMED, claim_id=bindparam("p_claim_id"), ended_at=bindparam("p_paid_at"),
            updated_at=bindparam("p_now"))
    .returning(V.c.person_key)
)

_DEFERRED = "voucher_lifecycle_deferred"
_PERSONS = "voucher_lifecycle_persons"
_VOUCHERS = "voucher_lifecycle_vouchers"  # the vouchers a queued start or completion names
_BINDINGS = "voucher_lifecycle_bindings"  # voucher id -> (enrolment, its event's id, correlation id), event order
LOCK_NAMESPACE = 0x5643  # "VC": the voucher consumer's advisory-lock namespace


def _defer(session: AsyncSession, statement: Executable, params: dict[str, Any], person_key: str,
           voucher: uuid.UUID | None = None) -> None:
    queued: dict[Executable, list[dict[str, Any]]] = session.info.setdefault(_DEFERRED, {})
    queued.setdefault(statement, []).append(params)
    session.info.setdefault(_PERSONS, set()).add(person_key)
    if voucher is not None:
        session.info.setdefault(_VOUCHERS, set()).add(voucher)


async def write_deferred(session: AsyncSession) -> None:
    """Runs the queued bindings, then the queued transitions, each statement once for all its events (also the
    consumer's before_commit).

    Bindings go first: a start or completion queued before a binding of the same voucher makes the binding
    write the queue before it is queued (`on_training_enrolled`), so every queued transition of a voucher with
    a queued binding came after it.

    A completion (training topic) and a certificate (certification topic) of one person can be applied by two
    batches at the same moment; each would miss the other's uncommitted row and the voucher would stay
    "completed". The persons' advisory locks, taken first in one statement in sorted order, make the second
    wait and then see the first."""
    bindings = session.info.pop(_BINDINGS, None)
    queued = session.info.pop(_DEFERRED, None)
    persons = session.info.pop(_PERSONS, set())
    session.info.pop(_VOUCHERS, None)
    if bindings:
        await _bind_all(session, bindings)
    await take_locks(session, [(LOCK_NAMESPACE, key, True) for key in sorted({lock_key(p) for p in persons})])
    for statement, params in (queued or {}).items():
        await session.execute(statement, params)


async def end_of_batch(session: AsyncSession) -> None:
    """The consumer's before_commit: the queued transitions, then the batch's events in one INSERT (the consumer
    spec then writes the subscribe messages the batch queued, voucher_service.consumers)."""
    await write_deferred(session)
    await outbox.write_deferred(session)


def _emit(session: AsyncSession, payload: EventPayload, person_key: str, subject: str) -> None:
    """One outbox event, built while the handler runs (its causation and correlation ids are the consumed
    event's) and written with the batch's other events in one INSERT at the end of the batch."""
    outbox.defer(session, payload, partition_key=person_key, subject=subject)


def _uuid(voucher_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(voucher_id)
    except ValueError:
        return None


def _binding_refusal(voucher: Row[Any] | None, event: TrainingEnrolled) -> tuple[BindingRejection, str] | None:
    if voucher is None:
        return BindingRejection.UNKNOWN_VOUCHER, f"no voucher {event.voucher_id}"
    if voucher.status == validity.REVOKED:
        return BindingRejection.REVOKED, f"voucher {voucher.code} was revoked ({voucher.revoked_reason})"
    if voucher.status == validity.EXPIRED or voucher.valid_until <= utcnow():
        return BindingRejection.EXPIRED, f"voucher {voucher.code} expired at {county_time(voucher.valid_until)}"
    if voucher.status != validity.ISSUED:
        return BindingRejection.ALREADY_BOUND, f"voucher {voucher.code} is already bound to enrolment {voucher.enrolment_id}"
    if voucher.kind != event.kind:
        return BindingRejection.WRONG_KIND, f"voucher {voucher.code} is a {voucher.kind} voucher, the class is {event.kind}"
    if voucher.person_key != event.person_key:
        return BindingRejection.NOT_HOLDER, f"voucher {voucher.code} belongs to someone else"
    return None


async def on_training_enrolled(session: AsyncSession, envelope: Envelope) -> None:
    """Answers the training service's enrolment with `voucher.bound` or `voucher.binding_rejected`.

    The binding is queued and the batch's bindings are tried together (`_bind_all`, in `write_deferred`): one
    UPDATE that holds every condition of `_binding_refusal`, instead of one per enrolment. A binding whose
    voucher already has one queued, or a queued start or completion, writes the queue first, so it sees the
    state the events before it left, as applied one by one."""
    event: TrainingEnrolled = envelope.payload
    key = _uuid(event.voucher_id)
    if key is None:
        await write_deferred(session)
        _reject(session, event, BindingRejection.UNKNOWN_VOUCHER, f"no voucher {event.voucher_id}")
        return
    if key in session.info.get(_BINDINGS, ()) or key in session.info.get(_VOUCHERS, ()):
        await write_deferred(session)
    session.info.setdefault(_BINDINGS, {})[key] = (event, envelope.id, envelope.correlation_id or envelope.id)


async def _bind_all(session: AsyncSession, bindings: dict[uuid.UUID, tuple[TrainingEnrolled, str, str]]) -> None:
    """Binds the queued enrolments' vouchers, then answers each in event order, its event built with the
    causation and correlation ids of the enrolment it answers (as if built while that handler ran). Only a
    voucher that was not bound is read, to tell a redelivery of the same enrolment from a refusal and why. An
    issued voucher never carries an enrolment, so trying the binding first cannot rebind a redelivery."""
    now = utcnow()
    enrolments = [event for event, _, _ in bindings.values()]
    if is_postgres(session):
        bound = set(await session.scalars(_BIND_MANY, dict(
            now=now, ids=list(bindings), kinds=[e.kind for e in enrolments],
            person_keys=[e.person_key for e in enrolments], enrolment_ids=[e.enrolment_id for e in enrolments],
            class_ids=[e.class_id for e in enrolments], institution_ids=[e.institution_id for e in enrolments],
            occupation_codes=[e.occupation_code for e in enrolments])))
    else:
        bound = {key for key, event in zip(bindings, enrolments) if await session.scalar(_BIND, dict(
            p_id=key, p_now=now, p_kind=event.kind, p_person_key=event.person_key, p_enrolment_id=event.enrolment_id,
            p_class_id=event.class_id, p_institution_id=event.institution_id,
            p_occupation_code=event.occupation_code)) is not None}
    for key, (event, causation, correlation) in bindings.items():
        correlation_token, causation_token = correlation_id_var.set(correlation), causation_id_var.set(causation)
        try:
            if key in bound:
                payload = VoucherBound(
                    voucher_id=str(key), person_key=event.person_key, enrolment_id=event.enrolment_id,
                    class_id=event.class_id, institution_id=event.institution_id, bound_at=now,
                )
                _emit(session, payload, event.person_key, str(key))
                notifications.queue_bound(session, payload)
            else:
                await _not_bound(session, key, event)
        finally:
            correlation_id_var.reset(correlation_token)
            causation_id_var.reset(causation_token)


async def _not_bound(session: AsyncSession, key: uuid.UUID, event: TrainingEnrolled) -> None:
    voucher = (await session.execute(_BINDING_STATE, dict(p_id=key))).first()
    if voucher is not None and voucher.enrolment_id == event.enrolment_id:
        return  # this enrolment was already bound (a redelivery under a new event id)
    refusal = _binding_refusal(voucher, event)
    if refusal is None:  # changed between the UPDATE and the read: the kit retries the batch
        raise RuntimeError(f"voucher {event.voucher_id} changed while binding enrolment {event.enrolment_id}")
    _reject(session, event, *refusal)


def _reject(session: AsyncSession, event: TrainingEnrolled, reason: BindingRejection, detail: str) -> None:
    _emit(session, VoucherBindingRejected(
        voucher_id=event.voucher_id, person_key=event.person_key, enrolment_id=event.enrolment_id,
        reason=reason, detail=detail,
    ), event.person_key, event.voucher_id)


async def _release(session: AsyncSession, voucher_id: str, enrolment_id: str) -> None:
    """Saga compensation: an enrolment that will not go ahead gives its voucher back."""
    await write_deferred(session)
    key = _uuid(voucher_id)
    if key is not None:
        await session.execute(_RELEASE, dict(p_id=key, p_enrolment_id=enrolment_id, p_now=utcnow()))


async def on_enrolment_rejected(session: AsyncSession, envelope: Envelope) -> None:
    event: TrainingEnrolmentRejected = envelope.payload
    await _release(session, event.voucher_id, event.enrolment_id)


async def on_training_dropped(session: AsyncSession, envelope: Envelope) -> None:
    event: TrainingDropped = envelope.payload
    await _release(session, event.voucher_id, event.enrolment_id)


async def on_started(session: AsyncSession, envelope: Envelope) -> None:
    """The enrolment's first attended day: bound → in_training (once per enrolment)."""
    event: TrainingStarted = envelope.payload
    key = _uuid(event.voucher_id)
    if key is not None:
        _defer(session, _START, dict(p_id=key, p_enrolment_id=event.enrolment_id, p_now=utcnow()), event.person_key,
               key)


async def on_completed(session: AsyncSession, envelope: Envelope) -> None:
    event: TrainingCompleted = envelope.payload
    key = _uuid(event.voucher_id)
    if key is not None:
        _defer(session, _COMPLETE, dict(p_id=key, p_enrolment_id=event.enrolment_id, p_now=utcnow()),
               event.person_key, key)


async def on_certificate_issued(session: AsyncSession, envelope: Envelope) -> None:
    """Remembers the certificate (for a completion still to come) and certifies completed vouchers of its
    occupation. A redelivered certificate is not written again (a revocation seen since stays)."""
    event: CertificateIssued = envelope.payload
    _defer(session, insert_or_skip_statement(session.bind.dialect.name, C, ["certificate_id"]), dict(
        certificate_id=event.certificate_id, person_key=event.person_key, occupation_code=event.occupation_code,
        revoked=False), event.person_key)
    _defer(session, _CERTIFY, dict(p_person_key=event.person_key, p_occupation_code=event.occupation_code,
                                   p_now=utcnow()), event.person_key)


async def on_certificate_revoked(session: AsyncSession, envelope: Envelope) -> None:
    event: CertificateRevoked = envelope.payload
    await write_deferred(session)
    await session.execute(_REVOKE_CERTIFICATE, dict(p_certificate_id=event.certificate_id))


async def on_claim_paid(session: AsyncSession, envelope: Envelope) -> None:
    """A paid training claim redeems its voucher (兑现) and announces it."""
    event: ClaimPaid = envelope.payload
    await write_deferred(session)
    if event.claim_type != "training" or event.voucher_id is None:
        return
    key = _uuid(event.voucher_id)
    if key is None:
        return
    person_key = await session.scalar(_REDEEM, dict(p_id=key, p_claim_id=event.claim_id, p_paid_at=event.paid_at,
                                                    p_now=utcnow()))
    if person_key is None:
        return
    _emit(session, VoucherRedeemed(voucher_id=str(key), person_key=person_key, claim_id=event.claim_id,
                                         redeemed_at=event.paid_at), person_key, str(key))
