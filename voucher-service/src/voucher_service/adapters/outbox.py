"""The voucher service's outbox writer."""

from skillkit.outbox import Outbox

from voucher_service.adapters.models import kit_tables

outbox = Outbox(kit_tables, source="/linxian/voucher-service")
