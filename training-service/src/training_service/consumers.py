"""What the training service consumes: the voucher events (projection and the enrolment saga's answers), the
province real-name system's verdicts and notices (P1), and the certification events whose certificates it reports
to the province (P1)."""

from __future__ import annotations

from functools import partial

from skillkit.contracts.topics import CERTIFICATION_TOPIC, PROVINCE_INBOUND_TOPIC, VOUCHER_TOPIC
from skillkit.runtime import ConsumerSpec

from training_service.config import TrainingSettings
from training_service.handlers import binding, certificates, province, realname
from training_service.handlers.enrolments import on_voucher_expired, on_voucher_issued, on_voucher_revoked

VOUCHER_CONSUMER = "training-service"
PROVINCE_CONSUMER = "training-service-province"
CERTIFICATION_CONSUMER = "training-service-certification"


def consumer_specs(settings: TrainingSettings) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name=VOUCHER_CONSUMER,
            topics=[VOUCHER_TOPIC],
            handlers={
                "voucher.issued.v1": on_voucher_issued,
                "voucher.bound.v1": partial(binding.on_voucher_bound, settings=settings),
                "voucher.binding_rejected.v1": binding.on_binding_rejected,
                "voucher.expired.v1": on_voucher_expired,
                "voucher.revoked.v1": on_voucher_revoked,
            },
            before_commit=binding.before_commit,  # the batch's binds; one P1 trainee sheet per class; one outbox INSERT
        ),
        ConsumerSpec(
            name=PROVINCE_CONSUMER,
            topics=[PROVINCE_INBOUND_TOPIC],
            handlers={"province.realname.answered.v1": province.on_answered,
                      "province.realname.notified.v1": realname.on_notified},
            before_commit=province.store_verdicts,  # the batch's verdicts and their lines: a fixed few statements
        ),
        ConsumerSpec(
            name=CERTIFICATION_CONSUMER,
            topics=[CERTIFICATION_TOPIC],
            handlers={
                "evaluation_institution.filed.v1": certificates.on_institution_filed,
                "certificate.issued.v1": partial(certificates.on_certificate_issued, settings=settings),
            },
            before_commit=certificates.before_commit,  # P1: the certificate records, one outbox INSERT
        ),
    ]
