"""Subsidy consumer throughput on PostgreSQL: complete chains' events applied one per transaction and in
partition batches, against a baseline in the same run (the kit's inbox alone, with a handler that does
nothing). `python -m bench.subsidy_consumer --chains 300`"""

from __future__ import annotations

import argparse
import asyncio
import time

from skillkit.consumer import EventProcessor
from skillkit.testing.harness import running_service
from skillkit.testing.infra import create_pg_database, drop_pg_database
from subsidy_service.adapters.models import kit_tables
from subsidy_service.config import SubsidySettings
from subsidy_service.consumers import CONSUMER_GROUP
from subsidy_service.main import create

from tests.subsidy.builders import Clock, chain, envelope


def chain_events(chains: int, prefix: str) -> list:
    """Inclusive chains, 20 trainees a class; events in the order one partition would deliver them."""
    events = []
    clock = Clock()
    for n in range(chains):
        klass = f"{prefix}-C{n // 20}"
        events += [envelope(f) for f in chain(person=f"{prefix}-P{n}", voucher=f"{prefix}-V{n}",
                                             enrolment=f"{prefix}-E{n}", klass=klass, institution="I1", days=7,
                                             certificate=f"{prefix}-CERT{n}", clock=clock)]
    return events


async def timed(label: str, apply, events: list, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        await apply(events[start : start + batch])
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {len(events) / seconds:8.0f} events/s")
    return seconds


async def main(chains: int, batch: int) -> None:
    url = await create_pg_database("benchsubsidy")
    try:
        settings = SubsidySettings(environment="test", database_url=url, run_relay=False, run_consumers=False,
                                   run_periodic=False, log_level="WARNING")
        async with running_service(create, settings, "subsidy_service.migrations") as service:
            processor = service.runtime.processors[CONSUMER_GROUP]

            async def nothing(session, envelope) -> None:
                return None

            noop = EventProcessor("bench-noop", {t: nothing for t in processor.handlers}, service.sessionmaker,
                                  kit_tables)
            per_chain = len(chain_events(1, "x"))
            print(f"subsidy consumer, {chains} chains x {per_chain} events, PostgreSQL, one process")
            base = await timed("baseline: inbox only, one per transaction", noop.apply_batch,
                               chain_events(chains, "a"), 1)
            single = await timed("subsidy: one event per transaction", processor.apply_batch,
                                 chain_events(chains, "b"), 1)
            batched = await timed(f"subsidy: batches of {batch}", processor.apply_batch,
                                  chain_events(chains, "c"), batch)
            print(f"  chains/s: one per transaction {chains / single:.0f}, batched {chains / batched:.0f}; "
                  f"baseline {chains / base:.0f}")
    finally:
        await drop_pg_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chains", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.chains, args.batch))
