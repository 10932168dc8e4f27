"""The voucher lifecycle driven by other services' events (issued → bound → in_training → completed →
certified → redeemed). Every handler is idempotent and never moves a voucher backwards, so late,
duplicated or reordered events change nothing they should not."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.certification import CertificateIssued, CertificateRevoked
from skillkit.contracts.subsidy import ClaimPaid
from skillkit.contracts.training import (
    TrainingCheckedIn,
    TrainingCompleted,
    TrainingDropped,
    TrainingEnrolled,
    TrainingEnrolmentRejected,
)
from skillkit.contracts.vocab import BindingRejection
from skillkit.contracts.voucher import VoucherBindingRejected, VoucherBound, VoucherRedeemed
from skillkit.db import utcnow
from skillkit.events import Envelope

from voucher_service.adapters.models import PersonCertificate, Voucher
from voucher_service.adapters.outbox import outbox
from voucher_service.domain import validity


async def _voucher(session: AsyncSession, voucher_id: str) -> Voucher | None:
    try:
        key = uuid.UUID(voucher_id)
    except ValueError:
        return None
    return await session.get(Voucher, key, with_for_update=True)


def _binding_refusal(voucher: Voucher | None, event: TrainingEnrolled) -> tuple[BindingRejection, str] | None:
    if voucher is None:
        return BindingRejection.UNKNOWN_VOUCHER, f"no voucher {event.voucher_id}"
    if voucher.status == validity.REVOKED:
        return BindingRejection.REVOKED, f"voucher {voucher.code} was revoked ({voucher.revoked_reason})"
    if voucher.status == validity.EXPIRED or voucher.valid_until <= utcnow():
        return BindingRejection.EXPIRED, f"voucher {voucher.code} expired at {voucher.valid_until.isoformat()}"
    if voucher.status != validity.ISSUED:
        return BindingRejection.ALREADY_BOUND, f"voucher {voucher.code} is already bound to enrolment {voucher.enrolment_id}"
    if voucher.kind != event.kind:
        return BindingRejection.WRONG_KIND, f"voucher {voucher.code} is a {voucher.kind} voucher, the class is {event.kind}"
    if voucher.person_key != event.person_key:
        return BindingRejection.NOT_HOLDER, f"voucher {voucher.code} belongs to someone else"
    return None


async def on_training_enrolled(session: AsyncSession, envelope: Envelope) -> None:
    """Answers the training service's enrolment with `voucher.bound` or `voucher.binding_rejected`."""
    event: TrainingEnrolled = envelope.payload
    voucher = await _voucher(session, event.voucher_id)
    if voucher is not None and voucher.enrolment_id == event.enrolment_id:
        return  # this enrolment was already bound (a redelivery under a new event id)
    refusal = _binding_refusal(voucher, event)
    if refusal is not None:
        reason, detail = refusal
        await outbox.add(
            session,
            VoucherBindingRejected(
                voucher_id=event.voucher_id, person_key=event.person_key, enrolment_id=event.enrolment_id,
                reason=reason, detail=detail,
            ),
            partition_key=event.person_key,
            subject=event.voucher_id,
        )
        return
    assert voucher is not None
    now = utcnow()
    voucher.status = validity.BOUND
    voucher.enrolment_id = event.enrolment_id
    voucher.class_id = event.class_id
    voucher.institution_id = event.institution_id
    voucher.occupation_code = event.occupation_code
    voucher.bound_at = now
    voucher.updated_at = now
    await outbox.add(
        session,
        VoucherBound(
            voucher_id=str(voucher.id), person_key=voucher.person_key, enrolment_id=event.enrolment_id,
            class_id=event.class_id, institution_id=event.institution_id, bound_at=now,
        ),
        partition_key=voucher.person_key,
        subject=str(voucher.id),
    )


async def _release(session: AsyncSession, voucher_id: str, enrolment_id: str) -> None:
    """Saga compensation: an enrolment that will not go ahead gives its voucher back."""
    voucher = await _voucher(session, voucher_id)
    if voucher is None or voucher.enrolment_id != enrolment_id:
        return
    if voucher.status not in (validity.BOUND, validity.IN_TRAINING):
        return
    voucher.status = validity.ISSUED
    voucher.enrolment_id = voucher.class_id = voucher.institution_id = voucher.occupation_code = None
    voucher.bound_at = None
    voucher.updated_at = utcnow()


async def on_enrolment_rejected(session: AsyncSession, envelope: Envelope) -> None:
    event: TrainingEnrolmentRejected = envelope.payload
    await _release(session, event.voucher_id, event.enrolment_id)


async def on_training_dropped(session: AsyncSession, envelope: Envelope) -> None:
    event: TrainingDropped = envelope.payload
    await _release(session, event.voucher_id, event.enrolment_id)


async def _advance(session: AsyncSession, voucher_id: str, enrolment_id: str, target: str) -> Voucher | None:
    voucher = await _voucher(session, voucher_id)
    if voucher is None or voucher.enrolment_id != enrolment_id:
        return None
    new_status = validity.advanced(voucher.status, target)
    if new_status != voucher.status:
        voucher.status = new_status
        voucher.updated_at = utcnow()
    return voucher


async def on_checked_in(session: AsyncSession, envelope: Envelope) -> None:
    event: TrainingCheckedIn = envelope.payload
    await _advance(session, event.voucher_id, event.enrolment_id, validity.IN_TRAINING)


async def on_completed(session: AsyncSession, envelope: Envelope) -> None:
    event: TrainingCompleted = envelope.payload
    voucher = await _advance(session, event.voucher_id, event.enrolment_id, validity.COMPLETED)
    if voucher is None or voucher.status != validity.COMPLETED:
        return
    held = await session.scalar(
        select(PersonCertificate.certificate_id).where(
            PersonCertificate.person_key == voucher.person_key,
            PersonCertificate.occupation_code == voucher.occupation_code,
            PersonCertificate.revoked.is_(False),
        )
    )
    if held is not None:
        voucher.status = validity.CERTIFIED


async def on_certificate_issued(session: AsyncSession, envelope: Envelope) -> None:
    event: CertificateIssued = envelope.payload
    if await session.get(PersonCertificate, event.certificate_id) is None:
        session.add(PersonCertificate(certificate_id=event.certificate_id, person_key=event.person_key,
                                      occupation_code=event.occupation_code))
    completed = await session.scalars(
        select(Voucher).where(
            Voucher.person_key == event.person_key,
            Voucher.status == validity.COMPLETED,
            Voucher.occupation_code == event.occupation_code,
        ).with_for_update()
    )
    for voucher in completed:
        voucher.status = validity.CERTIFIED
        voucher.updated_at = utcnow()


async def on_certificate_revoked(session: AsyncSession, envelope: Envelope) -> None:
    event: CertificateRevoked = envelope.payload
    certificate = await session.get(PersonCertificate, event.certificate_id)
    if certificate is not None:
        certificate.revoked = True


async def on_claim_paid(session: AsyncSession, envelope: Envelope) -> None:
    """A paid training claim redeems its voucher (兑现) and announces it."""
    event: ClaimPaid = envelope.payload
    if event.claim_type != "training" or event.voucher_id is None:
        return
    voucher = await _voucher(session, event.voucher_id)
    if voucher is None or voucher.status in (validity.REDEEMED, validity.REVOKED):
        return
    voucher.status = validity.REDEEMED
    voucher.claim_id = event.claim_id
    voucher.ended_at = event.paid_at
    voucher.updated_at = utcnow()
    await outbox.add(
        session,
        VoucherRedeemed(voucher_id=str(voucher.id), person_key=voucher.person_key, claim_id=event.claim_id,
                        redeemed_at=event.paid_at),
        partition_key=voucher.person_key,
        subject=str(voucher.id),
    )
