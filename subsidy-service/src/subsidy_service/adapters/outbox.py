"""The subsidy service's outbox writer."""

from skillkit.outbox import Outbox

from subsidy_service.adapters.models import kit_tables

outbox = Outbox(kit_tables, source="/linxian/subsidy-service")
