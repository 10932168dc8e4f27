"""The certification service's outbox writer."""

from skillkit.outbox import Outbox

from certification_service.adapters.models import kit_tables

outbox = Outbox(kit_tables, source="/linxian/certification-service")
