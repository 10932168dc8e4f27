"""Feeding facts through the real consumer (the kit's EventProcessor) and reading the projection."""

from __future__ import annotations

from sqlalchemy import select

from subsidy_service.adapters.models import Claim, kit_tables
from subsidy_service.consumers import CONSUMER_GROUP

from tests.subsidy.builders import envelope


async def feed(ss, facts) -> list[bool]:
    processor = ss.runtime.processors[CONSUMER_GROUP]
    return [await processor.apply(envelope(f)) for f in facts]


async def claims(ss) -> dict[str, Claim]:
    async with ss.sessionmaker() as session:
        rows = await session.scalars(select(Claim))
        return {f"{c.claim_type}:{c.subject_id}:{c.part}": c for c in rows}


async def outbox_events(ss) -> list[tuple[str, bytes]]:
    async with ss.sessionmaker() as session:
        rows = (await session.execute(select(kit_tables.outbox).order_by(kit_tables.outbox.c.seq))).all()
    return [(r.event_type, r.body) for r in rows]
