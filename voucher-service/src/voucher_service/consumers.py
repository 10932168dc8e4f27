"""The voucher service's consumer: training, certification and subsidy events that move vouchers."""

from skillkit.contracts.topics import CERTIFICATION_TOPIC, SUBSIDY_TOPIC, TRAINING_TOPIC, VOUCHER_TOPIC
from skillkit.runtime import ConsumerSpec

from voucher_service.handlers import lifecycle, notifications

CONSUMER_NAME = "voucher-service"

voucher_consumer = ConsumerSpec(
    name=CONSUMER_NAME,
    topics=[TRAINING_TOPIC, CERTIFICATION_TOPIC, SUBSIDY_TOPIC],
    handlers={
        "training.enrolled.v1": lifecycle.on_training_enrolled,
        "training.enrolment_rejected.v1": lifecycle.on_enrolment_rejected,
        "training.dropped.v1": lifecycle.on_training_dropped,
        "training.started.v1": lifecycle.on_started,
        "training.completed.v1": lifecycle.on_completed,
        "certificate.issued.v1": lifecycle.on_certificate_issued,
        "certificate.revoked.v1": lifecycle.on_certificate_revoked,
        "subsidy.claim_paid.v1": lifecycle.on_claim_paid,
    },
    before_commit=lifecycle.end_of_batch,  # the batch's starts, completions, certificates and events, set-based
)

NOTIFICATION_CONSUMER = "voucher-notifications"

# Its own consumer group: the lifecycle consumer above never waits for a message to be queued (docs/voucher-service.md).
notification_consumer = ConsumerSpec(
    name=NOTIFICATION_CONSUMER,
    topics=[VOUCHER_TOPIC, TRAINING_TOPIC, CERTIFICATION_TOPIC, SUBSIDY_TOPIC],
    handlers={
        "voucher.issued.v1": notifications.on_voucher_issued,
        "voucher.bound.v1": notifications.on_voucher_bound,
        "training.enrolment_rejected.v1": notifications.on_enrolment_rejected,
        "certificate.issued.v1": notifications.on_certificate_issued,
        "subsidy.claim_paid.v1": notifications.on_claim_paid,
    },
    before_commit=notifications.end_of_batch,
)
