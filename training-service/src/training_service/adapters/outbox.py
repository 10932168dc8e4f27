"""The training service's outbox writer."""

from skillkit.outbox import Event, Outbox

from training_service.adapters.models import kit_tables

outbox = Outbox(kit_tables, source="/linxian/training-service")

__all__ = ["Event", "outbox"]
