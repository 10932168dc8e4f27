"""deploy/runbooks/dlq_redrive.py against the real broker: lists dead letters, re-drives only the chosen
ones, unchanged and with their key, to the topic they came from, and leaves the dead-letter topic alone."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from skillkit.bus import ensure_topics

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "runbooks" / "dlq_redrive.py"

pytestmark = pytest.mark.broker


def run_script(bootstrap: str, *args: str) -> tuple[list[dict], str]:
    """As the runbook runs it: `python - ARGS < dlq_redrive.py`."""
    result = subprocess.run(
        [sys.executable, "-", "--bootstrap", bootstrap, *args],
        stdin=SCRIPT.open("rb"), capture_output=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    lines = [json.loads(line) for line in result.stdout.decode().splitlines() if line.strip()]
    return lines, result.stderr.decode()


async def behind(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], end: dict) -> bool:
    """Whether some partition has records before the end offsets taken at the start."""
    return any([await consumer.position(tp) < end[tp] for tp in partitions])


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records = []
        while await behind(consumer, partitions, end):
            for batch in (await consumer.getmany(timeout_ms=2000)).values():
                records += [(r.key, r.value) for r in batch]
        return records
    finally:
        await consumer.stop()


async def test_lists_and_redrives_only_the_selected_dead_letters(broker) -> None:
    suffix = uuid.uuid4().hex[:8]
    source, dlq = f"deploytest.source.{suffix}", f"dlq.deploytest-{suffix}.v1"
    await ensure_topics(broker.bootstrap, [source, dlq], 4)
    events = [
        {"id": f"evt-{n}", "type": "voucher.issued.v1", "specversion": "1.0", "source": "test", "data": {}}
        for n in range(2)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for n, event in enumerate(events):
            await producer.send_and_wait(
                dlq, value=json.dumps(event).encode(), key=f"person-{n}".encode(), partition=0,
                headers=[("dlq.reason", b"handler_failed"), ("dlq.error", f"boom {n}".encode()),
                         ("dlq.topic", source.encode()), ("dlq.partition", b"1"), ("dlq.offset", str(n).encode()),
                         ("dlq.consumer", b"deploytest")],
            )
    finally:
        await producer.stop()

    listed, summary = await asyncio.to_thread(run_script, broker.bootstrap, "--topic", dlq)
    assert [(l["id"], l["type"], l["reason"], l["error"], l["topic"], l["consumer"]) for l in listed] == [
        ("evt-0", "voucher.issued.v1", "handler_failed", "boom 0", source, "deploytest"),
        ("evt-1", "voucher.issued.v1", "handler_failed", "boom 1", source, "deploytest"),
    ]
    assert "2 dead letters selected, 0 re-driven" in summary
    assert await read_all(broker.bootstrap, source) == []  # listing changes nothing

    redriven, summary = await asyncio.to_thread(
        run_script, broker.bootstrap, "--topic", dlq, "--redrive", "--event-id", "evt-1"
    )
    assert [(l["id"], l["redriven"]) for l in redriven] == [("evt-1", True)]
    assert "1 dead letters selected, 1 re-driven" in summary
    assert await read_all(broker.bootstrap, source) == [(b"person-1", json.dumps(events[1]).encode())]
    assert len(await read_all(broker.bootstrap, dlq)) == 2  # the dead-letter topic keeps its letters
