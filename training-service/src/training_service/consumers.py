"""What the training service consumes: the voucher events (projection and the enrolment saga's answers) and the
province real-name system's verdicts (P1)."""

from __future__ import annotations

from functools import partial

from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, VOUCHER_TOPIC
from skillkit.runtime import ConsumerSpec

from training_service.adapters.outbox import outbox
from training_service.config import TrainingSettings
from training_service.handlers import province
from training_service.handlers.enrolments import (
    on_binding_rejected,
    on_voucher_bound,
    on_voucher_expired,
    on_voucher_issued,
    on_voucher_revoked,
)

VOUCHER_CONSUMER = "training-service"
PROVINCE_CONSUMER = "training-service-province"


def consumer_specs(settings: TrainingSettings) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name=VOUCHER_CONSUMER,
            topics=[VOUCHER_TOPIC],
            handlers={
                "voucher.issued.v1": on_voucher_issued,
                "voucher.bound.v1": partial(on_voucher_bound, settings=settings),
                "voucher.binding_rejected.v1": on_binding_rejected,
                "voucher.expired.v1": on_voucher_expired,
                "voucher.revoked.v1": on_voucher_revoked,
            },
            before_commit=outbox.write_deferred,  # the batch's P1 trainee submissions in one outbox INSERT
        ),
        ConsumerSpec(
            name=PROVINCE_CONSUMER,
            topics=[PROVINCE_INBOUND_TOPIC],
            handlers={"province.realname.answered.v1": province.on_answered},
        ),
    ]
