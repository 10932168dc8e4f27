"""The subsidy service's consumer: every fact the chain needs, from the voucher, training and certification
topics and the province's answers (consumer group "subsidy-service")."""

from __future__ import annotations

from typing import Iterable

from skillkit.contracts.topics import CERTIFICATION_TOPIC, PROVINCE_INBOUND_TOPIC, TRAINING_TOPIC, VOUCHER_TOPIC
from skillkit.runtime import ConsumerSpec

from skillkit.events import Envelope, EventPayload, registry
from sqlalchemy.ext.asyncio import AsyncSession

from subsidy_service.config import SubsidySettings
from subsidy_service.domain.facts import CONSUMED_TYPES
from subsidy_service.handlers.payees import PAYEE_EVENTS, remember_payee
from subsidy_service.handlers.projection import handle_event, project_batch

CONSUMER_GROUP = "subsidy-service"


def consumer_specs(settings: SubsidySettings) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name=CONSUMER_GROUP,
            topics=[VOUCHER_TOPIC, TRAINING_TOPIC, CERTIFICATION_TOPIC, PROVINCE_INBOUND_TOPIC],
            handlers={**{payload: handle_event for payload in _payloads(CONSUMED_TYPES)},
                      **{payload: _payee_and_fact for payload in _payloads(PAYEE_EVENTS)}},
            before_commit=project_batch,
        )
    ]


async def _payee_and_fact(session: AsyncSession, envelope: Envelope) -> None:
    """An institution's registration names a payee (settlement); an evaluation institution's is a chain fact too."""
    await remember_payee(session, envelope)
    await handle_event(session, envelope)


def _payloads(event_types: Iterable[str]) -> list[type[EventPayload]]:
    """The payload classes of the chain's fact types (domain/facts.py keys the facts by type name)."""
    return [registry.get(event_type).payload for event_type in event_types]  # type: ignore[union-attr]
