"""List or re-drive the events on a dead-letter topic (deploy/runbooks/dead-letters.md).

Runs inside any service container (the image has aiokafka; the script is fed on standard input):

    docker compose exec -T subsidy-service python - --topic dlq.subsidy-service.v1 < deploy/runbooks/dlq_redrive.py
    docker compose exec -T subsidy-service python - --topic dlq.subsidy-service.v1 --redrive \\
        --event-id 0193f2c1-... < deploy/runbooks/dlq_redrive.py

Without --redrive it only lists: one JSON line per dead letter (partition, offset, reason, error, original
topic, event id and type). With --redrive it republishes the selected records, unchanged (same value, same
key, so the same partition and per-person order), to the topic they came from (header `dlq.topic`). Every
consumer group on that topic sees them again; the ones that already applied them record a duplicate in
their inbox and change nothing. The dead-letter topic is read without a consumer group and never changed,
so re-running is safe; use --from-offset to skip letters already re-driven.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="List or re-drive a dead-letter topic")
    parser.add_argument("--topic", required=True, help="dead-letter topic, e.g. dlq.subsidy-service.v1")
    parser.add_argument("--bootstrap", default=os.environ.get("SKILLS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--redrive", action="store_true", help="republish the selected letters")
    parser.add_argument("--event-id", action="append", default=[], help="only these CloudEvents ids")
    parser.add_argument("--type", action="append", default=[], help="only these event types")
    parser.add_argument("--reason", choices=["invalid", "handler_failed"], help="only this dlq.reason")
    parser.add_argument("--from-offset", type=int, default=0, help="skip letters below this offset")
    return parser.parse_args(argv)


def describe(record: Any) -> dict[str, Any]:
    headers = {key: value.decode(errors="replace") for key, value in (record.headers or [])}
    try:
        event = json.loads(record.value)
        event_id, event_type = event.get("id"), event.get("type")
    except (ValueError, AttributeError):
        event_id = event_type = None
    return {
        "partition": record.partition,
        "offset": record.offset,
        "reason": headers.get("dlq.reason"),
        "error": headers.get("dlq.error"),
        "topic": headers.get("dlq.topic"),
        "source_partition": headers.get("dlq.partition"),
        "source_offset": headers.get("dlq.offset"),
        "consumer": headers.get("dlq.consumer"),
        "id": event_id,
        "type": event_type,
    }


def selected(letter: dict[str, Any], args: argparse.Namespace) -> bool:
    return (
        letter["offset"] >= args.from_offset
        and (not args.event_id or letter["id"] in args.event_id)
        and (not args.type or letter["type"] in args.type)
        and (args.reason is None or letter["reason"] == args.reason)
    )


async def behind(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], end: dict) -> bool:
    """Whether some partition has records before the end offsets taken at the start."""
    return any([await consumer.position(tp) < end[tp] for tp in partitions])


async def run(args: argparse.Namespace) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    producer = None
    redriven = listed = 0
    try:
        if args.topic not in await consumer.topics():
            print(f"no topic {args.topic}", file=sys.stderr)
            return 1
        partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        if args.redrive:
            producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
            await producer.start()
        idle = 0
        while idle < 5 and await behind(consumer, partitions, end):
            batches = await consumer.getmany(timeout_ms=2000, max_records=500)
            idle = 0 if batches else idle + 1
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    letter = describe(record)
                    if not selected(letter, args):
                        continue
                    listed += 1
                    if producer is not None:
                        if not letter["topic"]:
                            print(json.dumps({**letter, "redriven": False, "why": "no dlq.topic header"}))
                            continue
                        await producer.send_and_wait(letter["topic"], value=record.value, key=record.key)
                        letter["redriven"] = True
                        redriven += 1
                    print(json.dumps(letter, ensure_ascii=False), flush=True)
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
    print(f"{listed} dead letters selected, {redriven} re-driven", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args(sys.argv[1:]))))
