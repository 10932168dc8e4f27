"""Enrolment by voucher: the training side of the enrolment saga.

1. The institution posts the scanned QR token (verified offline) or the typed code and the trainee's ID.
2. The service checks its projection of the voucher, takes a seat atomically, stores the enrolment as
   `pending` and emits `training.enrolled`.
3. The voucher service answers `voucher.bound` (-> `active`) or `voucher.binding_rejected` (-> `rejected`,
   the seat is released and `training.enrolment_rejected` is emitted: nothing half-done remains).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import jwt
from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import voucher_token
from skillkit.auth import Principal
from skillkit.contracts.training import TrainingEnrolled, TrainingEnrolmentRejected
from skillkit.contracts.voucher import (
    VoucherExpired,
    VoucherIssued,
    VoucherRevoked,
)
from skillkit.county import county_time, day_start, local_date
from skillkit.db import utcnow
from training_service import clock
from skillkit.events import Envelope
from skillkit.inserts import dialect_insert
from skillkit.pii import PiiCipher, blind_index, cipher_for, normalise_resident_id, person_key
from skillkit.problems import Problem

from training_service.adapters.models import LIVE, Enrolment, Institution, TrainingClass, VoucherProjection
from training_service.adapters.outbox import Event, outbox
from training_service.config import TrainingSettings
from training_service.handlers.inputs import EnrolmentIn
from training_service.domain.rules import normalise_voucher_code
from training_service.handlers.common import class_for
from training_service.handlers.interests import confirm_by_enrolment

async def _voucher(session: AsyncSession, settings: TrainingSettings, data: EnrolmentIn, trainee_key: str) -> VoucherProjection:
    if data.qr_token is not None:
        try:
            token = voucher_token.verify(settings.voucher_qr_public_key, data.qr_token)
        except voucher_token.InvalidVoucherToken as exc:
            if isinstance(exc.__cause__, jwt.ExpiredSignatureError):  # a genuine token past the voucher's validity
                raise Problem(409, "voucher_expired", "the voucher has expired") from exc
            raise Problem(422, "voucher_token_invalid", str(exc)) from exc
        if token.person_key != trainee_key:
            raise Problem(422, "voucher_not_holder", "the voucher belongs to someone else than this trainee")
        voucher = await session.get(VoucherProjection, token.voucher_id)
    else:
        code = normalise_voucher_code(data.voucher_code or "")
        voucher = await session.scalar(select(VoucherProjection).where(VoucherProjection.code == code))
    if voucher is None or not voucher.issued:
        raise voucher_unknown()
    return voucher


def voucher_unknown() -> Problem:
    # Also while the voucher's issued event has not reached the training service yet: a client may retry.
    return Problem(422, "voucher_unknown", "no issued voucher with this code is known to the training service")


async def check_class_takes_enrolment(session: AsyncSession, training_class: TrainingClass, now: datetime) -> None:
    institution = await session.get(Institution, training_class.institution_id)
    assert institution is not None
    if institution.status != "approved":
        raise Problem(409, "institution_not_approved", f"I3: the institution is {institution.status}; it takes no enrolment")
    if training_class.status == "pending_approval":
        raise Problem(409, "class_not_approved", "S2/S1: the class awaits the bureau's approval; no enrolment before it")
    if training_class.status != "open":
        raise Problem(409, f"class_{training_class.status}", f"the class is {training_class.status}; it takes no enrolment")
    if local_date(now) > training_class.end_date:
        raise Problem(409, "class_ended", f"the class ended on {training_class.end_date}")


def check_voucher_fits(voucher: VoucherProjection, trainee_key: str, training_class: TrainingClass, now: datetime) -> None:
    """The projection's checks of an issued voucher for this trainee and class (no I/O)."""
    if voucher.revoked_at is not None:
        raise Problem(409, "voucher_revoked", "the voucher was revoked")
    if voucher.expired_at is not None or (voucher.valid_until is not None and voucher.valid_until <= now):
        raise Problem(409, "voucher_expired", "the voucher has expired")
    if voucher.person_key != trainee_key:
        raise Problem(422, "voucher_not_holder", "the voucher belongs to someone else than this trainee")
    if voucher.kind != training_class.kind:
        raise Problem(422, "voucher_kind_mismatch", f"a {voucher.kind} voucher does not fit a {training_class.kind} class")
    # The completion must lie inside the voucher's validity (the chain's link 3): a voucher that runs out before
    # the class ends would take the trainee through the whole class and then pay nothing.
    if voucher.valid_until is not None and voucher.valid_until <= day_start(training_class.end_date):
        raise Problem(
            409, "voucher_expires_before_class_end",
            f"the voucher is valid until {county_time(voucher.valid_until)}, before the class's last day "
            f"{training_class.end_date}: the training would end outside its validity",
        )


def voucher_already_enrolled() -> Problem:
    return Problem(409, "voucher_already_enrolled", "the voucher is already used by another enrolment")


def trainee_already_enrolled() -> Problem:
    return Problem(409, "trainee_already_enrolled", "the trainee is already enrolled in this class")


def class_full(training_class: TrainingClass) -> Problem:
    return Problem(409, "class_full", f"all {training_class.capacity} seats of the class are taken")


def new_enrolment(
    settings: TrainingSettings, cipher: PiiCipher, principal: Principal, training_class: TrainingClass,
    voucher: VoucherProjection, trainee_key: str, trainee_name: str, number: str, now: datetime,
) -> Enrolment:
    return Enrolment(
        id=uuid.uuid4(),
        class_id=training_class.id,
        institution_id=training_class.institution_id,
        voucher_id=voucher.voucher_id,
        voucher_code=voucher.code,
        live_slot=LIVE,
        person_key=trainee_key,
        trainee_name=trainee_name,
        id_number_encrypted=cipher.encrypt(number),
        id_blind_index=blind_index(number, settings.blind_index_secret),
        status="pending",
        province_status="none",
        enrolled_by=principal.subject,
        created_at=now,
        updated_at=now,
    )


def enrolled_event(training_class: TrainingClass, enrolment: Enrolment) -> Event:
    return (
        TrainingEnrolled(
            enrolment_id=str(enrolment.id),
            class_id=str(training_class.id),
            institution_id=str(training_class.institution_id),
            voucher_id=enrolment.voucher_id,
            person_key=enrolment.person_key,
            kind=training_class.kind,
            occupation_code=training_class.occupation_code,
            level=training_class.level,
            class_start=training_class.start_date,
            class_end=training_class.end_date,
        ),
        enrolment.person_key,
        str(enrolment.id),
    )


async def enrol(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID, data: EnrolmentIn
) -> Enrolment:
    training_class = await class_for(session, principal, class_id)
    now = clock.now()
    await check_class_takes_enrolment(session, training_class, now)
    number = normalise_resident_id(data.id_number, local_date(now))
    trainee_key = person_key(number, settings.person_key_secret)
    voucher = await _voucher(session, settings, data, trainee_key)
    check_voucher_fits(voucher, trainee_key, training_class, now)
    if await session.scalar(select(Enrolment.id).where(Enrolment.voucher_id == voucher.voucher_id,
                                                        Enrolment.live_slot == LIVE)):
        raise voucher_already_enrolled()
    if await session.scalar(select(Enrolment.id).where(Enrolment.class_id == training_class.id,
                                                        Enrolment.person_key == trainee_key,
                                                        Enrolment.live_slot == LIVE)):
        raise trainee_already_enrolled()

    # Capacity under concurrency: one atomic conditional UPDATE. On PostgreSQL it takes the class row's
    # lock until commit, and a concurrent UPDATE re-checks `seats_taken < capacity` after that commit.
    taken = await session.execute(
        update(TrainingClass)
        .where(TrainingClass.id == training_class.id, TrainingClass.seats_taken < TrainingClass.capacity)
        .values(seats_taken=TrainingClass.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise class_full(training_class)

    cipher = cipher_for(settings)
    enrolment = new_enrolment(settings, cipher, principal, training_class, voucher, trainee_key, data.trainee_name,
                              number, now)
    session.add(enrolment)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same voucher enrolled concurrently in another class
        raise voucher_already_enrolled() from exc
    payload, key, subject = enrolled_event(training_class, enrolment)
    await outbox.add(session, payload, partition_key=key, subject=subject)
    await confirm_by_enrolment(session, training_class.id, trainee_key, voucher.code, enrolment.id)  # P9
    return enrolment


async def release_seat(session: AsyncSession, class_id: uuid.UUID, seats: int = 1) -> None:
    if seats == 0:
        return
    await session.execute(
        update(TrainingClass)
        .where(TrainingClass.id == class_id, TrainingClass.seats_taken >= seats)
        .values(seats_taken=TrainingClass.seats_taken - seats)
        .execution_options(synchronize_session=False)
    )


# ---- the voucher projection (consumer "training-service"; the saga's answers are in handlers/binding.py) ------
# Every handler is idempotent and monotonic: events may come twice and in any order (replays).


_PROJECTION = "training_service.pending_projection"


def defer_projection(session: AsyncSession, voucher_id: str, holder: str, **changes) -> None:
    """Queues one INSERT .. ON CONFLICT DO UPDATE (no read first: the voucher may be unknown yet, events come in any
    order) for `write_projection`, which the consumer's before_commit runs for the whole batch."""
    changes["updated_at"] = utcnow()
    pending = session.info.setdefault(_PROJECTION, {})
    pending.setdefault(tuple(changes), []).append({"voucher_id": voucher_id, "person_key": holder, "issued": False,
                                                   **changes})


async def write_projection(session: AsyncSession) -> None:
    """The batch's projection changes, one executemany per event kind (was one statement per event). Grouping by
    kind may reorder events of different kinds, which the statements make harmless: each kind sets its own columns
    and they only move one way (issued becomes true, the earliest expiry and the first revocation stand). Run on
    the connection: it does not autoflush the session."""
    pending: dict[tuple[str, ...], list[dict]] = session.info.pop(_PROJECTION, {})
    if not pending:
        return
    connection = await session.connection()
    for columns, rows in pending.items():
        await connection.execute(projection_upsert(connection.dialect.name, columns), rows)


@functools.cache
def projection_upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """Built once per event kind, with bind parameters only, so SQLAlchemy's compiled cache serves every event
    (building and compiling the ON CONFLICT clause per event cost more CPU than the round trip)."""
    table = VoucherProjection.__table__
    insert = dialect_insert(dialect, table)
    return insert.on_conflict_do_update(
        index_elements=["voucher_id"], set_={name: _monotonic(table, insert.excluded, name) for name in columns})


def _monotonic(table, excluded, name: str):
    """The projection moves one way only: the earliest expiry stands, the first revocation stands."""
    if name == "expired_at":
        current = table.c.expired_at
        return case((or_(current.is_(None), excluded.expired_at < current), excluded.expired_at), else_=current)
    if name in ("revoked_at", "revoked_reason"):
        return case((table.c.revoked_at.is_(None), excluded[name]), else_=table.c[name])
    return excluded[name]


async def on_voucher_issued(session: AsyncSession, envelope: Envelope) -> None:
    event: VoucherIssued = envelope.payload
    defer_projection(
        session, event.voucher_id, event.person_key, code=event.code, person_key=event.person_key,
        kind=str(event.kind), policy_year=event.policy_year, valid_from=event.valid_from,
        valid_until=event.valid_until, issued=True,
    )


async def on_voucher_expired(session: AsyncSession, envelope: Envelope) -> None:
    event: VoucherExpired = envelope.payload
    defer_projection(session, event.voucher_id, event.person_key, expired_at=event.expired_at)


async def on_voucher_revoked(session: AsyncSession, envelope: Envelope) -> None:
    event: VoucherRevoked = envelope.payload
    # revoked_reason before revoked_at: each CASE reads the row as it was before this UPDATE anyway
    defer_projection(session, event.voucher_id, event.person_key, revoked_reason=str(event.reason),
                             revoked_at=event.revoked_at)


async def reject_enrolment(session: AsyncSession, enrolment: Enrolment, reason: str, detail: str) -> None:
    """Compensation: the enrolment is rejected, its seat and voucher slot are released, and it is announced."""
    enrolment.status = "rejected"
    enrolment.live_slot = None
    enrolment.rejection_reason = reason
    enrolment.rejection_detail = detail
    enrolment.updated_at = utcnow()
    await release_seat(session, enrolment.class_id)
    await outbox.add(
        session,
        TrainingEnrolmentRejected(
            enrolment_id=str(enrolment.id),
            voucher_id=enrolment.voucher_id,
            person_key=enrolment.person_key,
            reason=reason,
            detail=detail,
        ),
        partition_key=enrolment.person_key,
        subject=str(enrolment.id),
    )
