"""What the certification service consumes: the voucher service's workers (for matching candidates, E7, T4)."""

from __future__ import annotations

from skillkit.contracts.topics import TRAINING_TOPIC, VOUCHER_TOPIC
from skillkit.runtime import ConsumerSpec

from certification_service.handlers.completions import on_completed, on_enrolled
from certification_service.handlers.workers import on_worker_account_linked, on_worker_registered, write_projection

CONSUMER_GROUP = "certification-service"

consumers = [
    ConsumerSpec(
        name=CONSUMER_GROUP,
        topics=[VOUCHER_TOPIC, TRAINING_TOPIC],
        handlers={
            "worker.registered.v1": on_worker_registered,
            "worker.account_linked.v1": on_worker_account_linked,
            # P3 培训一人，评价一人: every completed trainee is to be evaluated
            "training.enrolled.v1": on_enrolled,
            "training.completed.v1": on_completed,
        },
        before_commit=write_projection,
    )
]
