"""The voucher service's consumers: training, certification and subsidy events that move vouchers (and queue the
worker's messages), and its own voucher.issued for the messages."""

from __future__ import annotations

from skillkit.contracts.certification import CertificateIssued, CertificateRevoked
from skillkit.contracts.subsidy import ClaimPaid, PaymentReturned
from skillkit.contracts.topics import CERTIFICATION_TOPIC, SUBSIDY_TOPIC, TRAINING_TOPIC, VOUCHER_TOPIC
from skillkit.contracts.training import (
    TrainingCompleted,
    TrainingDropped,
    TrainingEnrolled,
    TrainingEnrolmentRejected,
    TrainingStarted,
)
from skillkit.contracts.voucher import VoucherIssued
from skillkit.runtime import ConsumerSpec

from voucher_service.config import VoucherSettings
from voucher_service.handlers import lifecycle, notifications

CONSUMER_NAME = "voucher-service"

async def _rejected(session, envelope) -> None:  # type: ignore[no-untyped-def]
    await lifecycle.on_enrolment_rejected(session, envelope)
    await notifications.on_enrolment_rejected(session, envelope)


async def _certificate(session, envelope) -> None:  # type: ignore[no-untyped-def]
    await lifecycle.on_certificate_issued(session, envelope)
    await notifications.on_certificate_issued(session, envelope)


async def _paid(session, envelope) -> None:  # type: ignore[no-untyped-def]
    await lifecycle.on_claim_paid(session, envelope)
    await notifications.on_claim_paid(session, envelope)


async def _end_of_batch(session) -> None:  # type: ignore[no-untyped-def]
    await lifecycle.end_of_batch(session)
    await notifications.end_of_batch(session)  # after the bindings: they queue voucher.bound's message


async def _end_of_batch_quiet(session) -> None:  # type: ignore[no-untyped-def]
    await lifecycle.end_of_batch(session)
    notifications.discard(session)


def lifecycle_consumer(notify: bool = True) -> ConsumerSpec:
    """With `notify`, the events it consumes also queue the worker's subscribe messages (handlers/notifications)."""
    return ConsumerSpec(
        name=CONSUMER_NAME,
        topics=[TRAINING_TOPIC, CERTIFICATION_TOPIC, SUBSIDY_TOPIC],
        handlers={
            TrainingEnrolled: lifecycle.on_training_enrolled,
            TrainingEnrolmentRejected: _rejected if notify else lifecycle.on_enrolment_rejected,
            TrainingDropped: lifecycle.on_training_dropped,
            TrainingStarted: lifecycle.on_started,
            TrainingCompleted: lifecycle.on_completed,
            CertificateIssued: _certificate if notify else lifecycle.on_certificate_issued,
            CertificateRevoked: lifecycle.on_certificate_revoked,
            ClaimPaid: _paid if notify else lifecycle.on_claim_paid,
            # a returned transfer moves no voucher (it stays redeemed: docs/voucher-service.md); it tells the worker
            **({PaymentReturned: notifications.on_payment_returned} if notify else {}),
        },
        # the batch's starts, completions, certificates and events; then its messages (or none)
        before_commit=_end_of_batch if notify else _end_of_batch_quiet,
    )

NOTIFICATION_CONSUMER = "voucher-notifications"

# The service's own topic, for voucher.issued: issuing (a claim, a roster of hundreds) stays as it was.
notification_consumer = ConsumerSpec(
    name=NOTIFICATION_CONSUMER,
    topics=[VOUCHER_TOPIC],
    handlers={VoucherIssued: notifications.on_voucher_issued},
    before_commit=notifications.end_of_batch,
)


def consumer_specs(settings: VoucherSettings) -> list[ConsumerSpec]:
    if not settings.notifications_enabled:
        return [lifecycle_consumer(notify=False)]
    return [lifecycle_consumer(notify=True), notification_consumer]
