"""The training service's outbox writer, and events deferred to the end of a consumer batch."""

from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.events import EventPayload
from skillkit.outbox import Outbox

from training_service.adapters.models import kit_tables

outbox = Outbox(kit_tables, source="/linxian/training-service")

Event = tuple[EventPayload, str, str | None]  # payload, partition key, subject: what Outbox.add_many takes

_DEFERRED = "training_service.deferred_events"


def defer(session: AsyncSession, event: Event) -> None:
    """A consumer handler's event, written with the batch's other events in one INSERT (`write_deferred`)."""
    session.info.setdefault(_DEFERRED, []).append(event)


async def write_deferred(session: AsyncSession) -> None:
    """The consumers' `before_commit`: runs once per batch, inside its transaction, so the events stay atomic
    with the handlers' effects."""
    await outbox.add_many(session, session.info.pop(_DEFERRED, []))
