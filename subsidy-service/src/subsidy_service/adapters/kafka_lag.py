"""Consumer lag per group and partition, read from the broker (Kafka admin API and offset fetches): the group's committed offset
against the partition's end offset. Works on Apache Kafka and on Tansu. Every consumer group of the platform is
listed, not only the subsidy service's own, since the dashboard watches the whole pipeline.

The answer is cached for a few seconds (a dashboard refresh must not open admin connections per request) and
bounded by a timeout: a broker that does not answer gives `available: false` with the reason, never a hung page.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
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
        # The admin API's OffsetFetch for a whole group (`list_consumer_group_offsets`) is not answered by Tansu 0.6
        # (it closes the connection); a consumer's per-partition OffsetFetch is, on Tansu and Kafka alike. So: the
        # groups and topics from the admin API, the end offsets from a group-less consumer, and each group's
        # committed offsets from a consumer of that group id that never subscribes (it does not join the group).
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=int(self.timeout * 1000))
        try:
            await admin.start()
            groups = sorted({g[0] if isinstance(g, tuple) else g.group_id for g in await admin.list_consumer_groups()})
            topics = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
        finally:
            await admin.close()
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            await reader.start()
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(reader.partitions_for_topic(t) or ())]
            ends = await reader.end_offsets(partitions) if partitions else {}
        finally:
            await reader.stop()
        out = []
        for group in groups:
            member = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
            rows = []
            try:
                await member.start()
                for tp in partitions:
                    committed = await member.committed(tp)
                    if committed is None:
                        continue  # the group never consumed this partition
                    end = ends.get(tp)
                    rows.append({"topic": tp.topic, "partition": tp.partition, "committed": committed, "end": end,
                                 "lag": None if end is None else max(0, end - committed)})
            finally:
                await member.stop()
            out.append({"group": group, "lag": sum(r["lag"] or 0 for r in rows), "partitions": rows})
        return out
