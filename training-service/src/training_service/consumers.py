"""What the training service consumes: the voucher events (projection and the enrolment saga's answers), the
province real-name system's verdicts and notices (P1), and the certification events whose certificates it reports
to the province (P1)."""

from __future__ import annotations

from functools import partial

from skillkit.contracts.certification import CertificateIssued, EvaluationInstitutionFiled
from skillkit.contracts.province import RealnameAnswered, RealnameNotified
from skillkit.contracts.topics import CERTIFICATION_TOPIC, PROVINCE_INBOUND_TOPIC, VOUCHER_TOPIC
from skillkit.contracts.voucher import (
    VoucherBindingRejected,
    VoucherBound,
    VoucherExpired,
    VoucherIssued,
    VoucherRevoked,
)
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
                VoucherIssued: on_voucher_issued,
                VoucherBound: partial(binding.on_voucher_bound, settings=settings),
                VoucherBindingRejected: binding.on_binding_rejected,
                VoucherExpired: on_voucher_expired,
                VoucherRevoked: on_voucher_revoked,
            },
            before_commit=binding.before_commit,  # the batch's binds; one P1 trainee sheet per class; one outbox INSERT
        ),
        ConsumerSpec(
            name=PROVINCE_CONSUMER,
            topics=[PROVINCE_INBOUND_TOPIC],
            handlers={RealnameAnswered: province.on_answered,
                      RealnameNotified: realname.on_notified},
            before_commit=province.store_verdicts,  # the batch's verdicts and their lines: a fixed few statements
        ),
        ConsumerSpec(
            name=CERTIFICATION_CONSUMER,
            topics=[CERTIFICATION_TOPIC],
            handlers={
                EvaluationInstitutionFiled: certificates.on_institution_filed,
                CertificateIssued: partial(certificates.on_certificate_issued, settings=settings),
            },
            before_commit=certificates.before_commit,  # P1: the certificate records, one outbox INSERT
        ),
    ]
