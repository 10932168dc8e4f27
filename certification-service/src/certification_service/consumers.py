"""What the certification service consumes: the voucher service's workers (for matching candidates, E7, T4)."""

from __future__ import annotations

from skillkit.contracts.topics import TRAINING_TOPIC, VOUCHER_TOPIC
from skillkit.contracts.training import TrainingCompleted, TrainingEnrolled
from skillkit.contracts.voucher import WorkerAccountLinked, WorkerRegistered
from skillkit.runtime import ConsumerSpec

from certification_service.config import CertificationSettings
from certification_service.handlers.completions import on_completed, on_enrolled
from certification_service.handlers.workers import on_worker_account_linked, on_worker_registered, write_projection

CONSUMER_GROUP = "certification-service"


def consumer_specs(settings: CertificationSettings) -> list[ConsumerSpec]:
    return [ConsumerSpec(
        name=CONSUMER_GROUP,
        topics=[VOUCHER_TOPIC, TRAINING_TOPIC],
        handlers={
            WorkerRegistered: on_worker_registered,
            WorkerAccountLinked: on_worker_account_linked,
            # P3 培训一人，评价一人: every completed trainee is to be evaluated
            TrainingEnrolled: on_enrolled,
            TrainingCompleted: on_completed,
        },
        before_commit=write_projection,
    )]
