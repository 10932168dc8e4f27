"""Consumer lag per group and partition from the real broker (Tansu here, Kafka in production) through the Kafka
admin API (issue 14): the group's committed offset against the partition's end offset."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from prometheus_client import generate_latest

from subsidy_service.adapters.kafka_lag import LagReader
from subsidy_service.metrics import observe_lag

pytestmark = pytest.mark.broker


async def test_lag_is_the_end_offset_minus_the_committed_offset(broker):
    topic, group = f"lag-test-{uuid.uuid4().hex[:8]}", f"lag-group-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, f"event {n}".encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.subscribe([topic])
        for _ in range(100):  # until the group coordinator assigned the partition
            await consumer.getmany(timeout_ms=200)
            if consumer.assignment():
                break
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "")})  # two of five handled
    finally:
        await consumer.stop()
    answer = await LagReader(broker.bootstrap, timeout=10).read()
    assert answer["available"] is True, answer
    mine = next(g for g in answer["groups"] if g["group"] == group)
    assert mine == {"group": group, "lag": 3, "partitions": [
        {"topic": topic, "partition": 0, "committed": 2, "end": 5, "lag": 3}]}
    observe_lag(answer)  # and on /metrics for Grafana's consumer-lag panels
    assert f'subsidy_consumer_lag{{group="{group}",partition="0",topic="{topic}"}} 3.0' in generate_latest().decode()
