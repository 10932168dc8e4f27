"""A broker that comes back without its data (issue 18): the running consumer goes on with what is written after,
nothing applied twice. Here the recreated partitions stay short (a fetch beyond their end is reset by the client);
the case the consumer's own check (`KafkaConsumerRunner.rewind_past_end`) exists for — positions beyond the end
while the recreated log grows — shows only under the whole-loop chaos test's load (its logs show the check firing
in every service after the broker restart, BENCHMARKS.md "Whole-loop chaos")."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from certification_service.adapters.models import kit_tables as cert_tables
from certification_service.config import CertificationSettings
from certification_service.main import create as create_certification
from skillkit.contracts.voucher import WorkerRegistered
from skillkit.tansu import TansuBroker
from skillkit.testing.harness import eventually, publish, running_service

pytestmark = pytest.mark.broker
BEFORE, AFTER = 40, 4


def _registered(n: int) -> tuple[WorkerRegistered, str]:
    key = f"broker-loss-person-{n:03d}"
    return WorkerRegistered(worker_id=f"00000000-0000-4000-8000-{n:012d}", person_key=key, masked_name="张*",
                            township="临泉镇", categories=["rural_migrant"], on_behalf=False,
                            registered_by="test"), key


async def test_consumer_reads_a_partition_again_when_the_broker_lost_its_log(database_factory) -> None:
    broker = TansuBroker()
    broker.start()
    try:
        url = await database_factory("brokerloss", migrated="certification_service.migrations")
        settings = CertificationSettings(environment="test", database_url=url,
                                         kafka_bootstrap=broker.bootstrap, run_periodic=False)
        async with running_service(create_certification, settings, "certification_service.migrations") as cs:
            async def applied() -> int:
                async with cs.sessionmaker() as session:
                    return await session.scalar(select(func.count()).select_from(cert_tables.inbox))

            for n in range(BEFORE):
                payload, key = _registered(n)
                await publish(broker.bootstrap, payload, key, source="/linxian/voucher-service")
            await eventually(lambda: _equals(applied, BEFORE), timeout=60)

            # the broker dies and comes back empty on the same address (Tansu's memory storage)
            assert broker._proc is not None
            broker._proc.kill()
            broker._proc.wait()
            broker._proc = None
            await asyncio.sleep(1)
            broker.start()
            # a few records: every partition's new end stays below the consumer's old position (~BEFORE / 4)
            for n in range(BEFORE, BEFORE + AFTER):
                payload, key = _registered(n)
                await publish(broker.bootstrap, payload, key, source="/linxian/voucher-service")
            await eventually(lambda: _equals(applied, BEFORE + AFTER), timeout=90, interval=0.5)
    finally:
        broker.stop()


async def _equals(count, n: int) -> bool:
    return await count() == n
