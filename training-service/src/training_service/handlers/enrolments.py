"""Enrolment by voucher: the training side of the enrolment saga.

1. The institution posts the scanned QR token (verified offline) or the typed code and the trainee's ID.
2. The service checks its projection of the voucher, takes a seat atomically, stores the enrolment as
   `pending` and emits `training.enrolled`.
3. The voucher service answers `voucher.bound` (-> `active`) or `voucher.binding_rejected` (-> `rejected`,
   the seat is released and `training.enrolment_rejected` is emitted: nothing half-done remains).
"""

from __future__ import annotations

import logging
import uuid

import jwt
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import voucher_token
from skillkit.auth import Principal
from skillkit.contracts.training import TrainingEnrolled, TrainingEnrolmentRejected
from skillkit.contracts.voucher import (
    VoucherBindingRejected,
    VoucherBound,
    VoucherExpired,
    VoucherIssued,
    VoucherRevoked,
)
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.events import Envelope
from skillkit.pii import PiiCipher, blind_index, normalise_resident_id, person_key
from skillkit.problems import Problem

from training_service.adapters.models import Enrolment, Institution, TrainingClass, VoucherProjection
from training_service.adapters.outbox import outbox
from training_service.api.schemas import EnrolmentIn
from training_service.config import TrainingSettings
from training_service.domain.rules import normalise_voucher_code
from training_service.handlers import province
from training_service.handlers.common import class_for

log = logging.getLogger("training_service.enrolments")

LIVE = "1"



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
        raise Problem(422, "voucher_unknown", "no issued voucher with this code is known to the training service")
    return voucher


async def enrol(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID, data: EnrolmentIn
) -> Enrolment:
    training_class = await class_for(session, principal, class_id)
    institution = await session.get(Institution, training_class.institution_id)
    assert institution is not None
    if institution.status != "approved":
        raise Problem(409, "institution_not_approved", f"I3: the institution is {institution.status}; it takes no enrolment")
    if training_class.status == "pending_approval":
        raise Problem(409, "class_not_approved", "S2: the order class awaits the bureau's approval; no enrolment before it")
    if training_class.status != "open":
        raise Problem(409, f"class_{training_class.status}", f"the class is {training_class.status}; it takes no enrolment")
    now = utcnow()
    if local_date(now) > training_class.end_date:
        raise Problem(409, "class_ended", f"the class ended on {training_class.end_date}")

    number = normalise_resident_id(data.id_number, local_date(now))
    trainee_key = person_key(number, settings.person_key_secret)
    voucher = await _voucher(session, settings, data, trainee_key)
    if voucher.revoked_at is not None:
        raise Problem(409, "voucher_revoked", "the voucher was revoked")
    if voucher.expired_at is not None or (voucher.valid_until is not None and voucher.valid_until <= now):
        raise Problem(409, "voucher_expired", "the voucher has expired")
    if voucher.person_key != trainee_key:
        raise Problem(422, "voucher_not_holder", "the voucher belongs to someone else than this trainee")
    if voucher.kind != training_class.kind:
        raise Problem(422, "voucher_kind_mismatch", f"a {voucher.kind} voucher does not fit a {training_class.kind} class")
    if await session.scalar(select(Enrolment.id).where(Enrolment.voucher_id == voucher.voucher_id,
                                                        Enrolment.live_slot == LIVE)):
        raise Problem(409, "voucher_already_enrolled", "the voucher is already used by another enrolment")
    if await session.scalar(select(Enrolment.id).where(Enrolment.class_id == training_class.id,
                                                        Enrolment.person_key == trainee_key,
                                                        Enrolment.live_slot == LIVE)):
        raise Problem(409, "trainee_already_enrolled", "the trainee is already enrolled in this class")

    # Capacity under concurrency: one atomic conditional UPDATE. On PostgreSQL it takes the class row's
    # lock until commit, and a concurrent UPDATE re-checks `seats_taken < capacity` after that commit.
    taken = await session.execute(
        update(TrainingClass)
        .where(TrainingClass.id == training_class.id, TrainingClass.seats_taken < TrainingClass.capacity)
        .values(seats_taken=TrainingClass.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise Problem(409, "class_full", f"all {training_class.capacity} seats of the class are taken")

    enrolment = Enrolment(
        id=uuid.uuid4(),
        class_id=training_class.id,
        institution_id=training_class.institution_id,
        voucher_id=voucher.voucher_id,
        voucher_code=voucher.code,
        live_slot=LIVE,
        person_key=trainee_key,
        trainee_name=data.trainee_name,
        id_number_encrypted=PiiCipher(settings.pii_encryption_key).encrypt(number),
        id_blind_index=blind_index(number, settings.blind_index_secret),
        status="pending",
        province_status="none",
        enrolled_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(enrolment)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same voucher enrolled concurrently in another class
        raise Problem(409, "voucher_already_enrolled", "the voucher is already used by another enrolment") from exc
    await outbox.add(
        session,
        TrainingEnrolled(
            enrolment_id=str(enrolment.id),
            class_id=str(training_class.id),
            institution_id=str(training_class.institution_id),
            voucher_id=voucher.voucher_id,
            person_key=trainee_key,
            kind=training_class.kind,
            occupation_code=training_class.occupation_code,
            level=training_class.level,
            class_start=training_class.start_date,
            class_end=training_class.end_date,
        ),
        partition_key=trainee_key,
        subject=str(enrolment.id),
    )
    return enrolment


async def release_seat(session: AsyncSession, class_id: uuid.UUID) -> None:
    await session.execute(
        update(TrainingClass)
        .where(TrainingClass.id == class_id, TrainingClass.seats_taken > 0)
        .values(seats_taken=TrainingClass.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


# ---- the voucher projection and the saga's answers (consumer "training-service") --------------------------------
# Every handler is idempotent and monotonic: events may come twice and in any order (replays).


async def _projection(session: AsyncSession, voucher_id: str, holder: str) -> VoucherProjection:
    voucher = await session.get(VoucherProjection, voucher_id)
    if voucher is None:
        voucher = VoucherProjection(voucher_id=voucher_id, person_key=holder, issued=False, updated_at=utcnow())
        session.add(voucher)
    return voucher


async def on_voucher_issued(session: AsyncSession, envelope: Envelope) -> None:
    event: VoucherIssued = envelope.payload
    voucher = await _projection(session, event.voucher_id, event.person_key)
    voucher.code = event.code
    voucher.person_key = event.person_key
    voucher.kind = str(event.kind)
    voucher.policy_year = event.policy_year
    voucher.valid_from = event.valid_from
    voucher.valid_until = event.valid_until
    voucher.issued = True
    voucher.updated_at = utcnow()


async def on_voucher_expired(session: AsyncSession, envelope: Envelope) -> None:
    event: VoucherExpired = envelope.payload
    voucher = await _projection(session, event.voucher_id, event.person_key)
    if voucher.expired_at is None or event.expired_at < voucher.expired_at:
        voucher.expired_at = event.expired_at
    voucher.updated_at = utcnow()


async def on_voucher_revoked(session: AsyncSession, envelope: Envelope) -> None:
    event: VoucherRevoked = envelope.payload
    voucher = await _projection(session, event.voucher_id, event.person_key)
    if voucher.revoked_at is None:
        voucher.revoked_at = event.revoked_at
        voucher.revoked_reason = str(event.reason)
    voucher.updated_at = utcnow()


async def on_voucher_bound(session: AsyncSession, envelope: Envelope, settings: TrainingSettings) -> None:
    event: VoucherBound = envelope.payload
    voucher = await _projection(session, event.voucher_id, event.person_key)
    voucher.bound_enrolment_id = event.enrolment_id
    voucher.updated_at = utcnow()
    enrolment = await _our_enrolment(session, event.enrolment_id)
    if enrolment is None:
        return
    if enrolment.status != "pending":
        if enrolment.status == "rejected":
            log.warning("voucher bound to an enrolment already rejected", extra={"enrolment_id": event.enrolment_id})
        return
    enrolment.status = "active"
    enrolment.bound_at = event.bound_at
    enrolment.updated_at = utcnow()
    training_class = await session.get(TrainingClass, enrolment.class_id)
    assert training_class is not None
    await province.submit(session, settings, "trainee", training_class, enrolment)  # P1


async def on_binding_rejected(session: AsyncSession, envelope: Envelope) -> None:
    event: VoucherBindingRejected = envelope.payload
    enrolment = await _our_enrolment(session, event.enrolment_id)
    if enrolment is None or enrolment.status != "pending":
        return  # not ours, or already answered
    await reject_enrolment(session, enrolment, str(event.reason), event.detail)


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


async def _our_enrolment(session: AsyncSession, enrolment_id: str) -> Enrolment | None:
    try:
        ident = uuid.UUID(enrolment_id)
    except ValueError:
        return None
    return await session.get(Enrolment, ident)
