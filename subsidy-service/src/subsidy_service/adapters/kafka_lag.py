"""Consumer lag per group and partition, read from the broker (Kafka admin API): the group's committed offset
against the partition's end offset. Works on Apache Kafka and on Tansu. Every consumer group of the platform is
listed, not only the subsidy service's own, since the dashboard watches the whole pipeline.

The answer is cached for a few seconds (a dashboard refresh must not open admin connections per request) and
bounded by a timeout: a broker that does not answer gives `available: false` with the reason, never a hung page.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

CACHE_SECONDS = 10.0


class LagReader:
    def __init__(self, bootstrap: str, timeout: float = 3.0) -> None:
        self.bootstrap = bootstrap
        self.timeout = timeout
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def read(self) -> dict[str, Any]:
        async with self._lock:  # one admin round trip at a time; the others take its answer
            if self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            try:
                answer = {"available": True, "source": "kafka_admin",
                          "groups": await asyncio.wait_for(self._groups(), self.timeout)}
            except Exception as exc:  # the broker is down or refuses the admin API: say so, keep the page up
                answer = {"available": False, "source": "kafka_admin",
                          "reason": f"{exc.__class__.__name__}: {exc}"[:300], "groups": []}
            self._cached = (time.monotonic(), answer)
            return answer

    async def _groups(self) -> list[dict[str, Any]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=int(self.timeout * 1000))
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await admin.start()
        try:
            await consumer.start()
            try:
                groups = sorted({g[0] if isinstance(g, tuple) else g.group_id
                                 for g in await admin.list_consumer_groups()})
                committed = {g: await admin.list_consumer_group_offsets(g) for g in groups}
                partitions = sorted({tp for offsets in committed.values() for tp in offsets})
                ends = await consumer.end_offsets(partitions) if partitions else {}
            finally:
                await consumer.stop()
        finally:
            await admin.close()
        out = []
        for group in groups:
            rows = []
            for tp, meta in sorted(committed[group].items()):
                end = ends.get(tp)
                offset = meta.offset if meta.offset is not None and meta.offset >= 0 else None
                lag = None if end is None or offset is None else max(0, end - offset)
                rows.append({"topic": tp.topic, "partition": tp.partition, "committed": offset, "end": end,
                             "lag": lag})
            out.append({"group": group, "lag": sum(r["lag"] or 0 for r in rows), "partitions": rows})
        return out
