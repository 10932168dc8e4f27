"""`python -m skillkit.tail TOPIC [--bootstrap HOST:PORT]`: print a topic's events from the beginning."""

from __future__ import annotations

import argparse
import asyncio
import json

from aiokafka import AIOKafkaConsumer


async def tail(topic: str, bootstrap: str, idle_seconds: float) -> None:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=int(idle_seconds * 1000))
            if not batches:
                return
            for records in batches.values():
                for record in records:
                    print(json.dumps(json.loads(record.value), ensure_ascii=False, indent=2))
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print a topic's CloudEvents")
    parser.add_argument("topic")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="stop after this long without new events")
    args = parser.parse_args()
    asyncio.run(tail(args.topic, args.bootstrap, args.idle_seconds))


if __name__ == "__main__":
    main()
