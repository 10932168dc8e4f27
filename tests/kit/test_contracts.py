"""Event contracts: the AsyncAPI document is current, and envelopes carry no plaintext ID number."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillkit.asyncapi import build_document, render
from skillkit.contracts.topics import ALL_TOPICS
from skillkit.contracts.voucher import WorkerRegistered
from skillkit.events import InvalidEvent, build_event, parse_event, registry

ROOT = Path(__file__).resolve().parents[2]


def test_asyncapi_document_is_current():
    checked_in = (ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8")
    assert checked_in == render(), "docs/asyncapi.json is stale: run `make asyncapi`"


def test_every_event_type_is_versioned_and_documented_on_its_topic():
    document = build_document()
    documented = {m["name"] for m in document["components"]["messages"].values()}
    assert documented == {t.name for t in registry.all()}
    for event_type in registry.all():
        assert event_type.name.rsplit(".", 1)[1].startswith("v"), event_type.name
        assert event_type.topic in ALL_TOPICS


def test_envelope_round_trip_and_strict_validation():
    payload = WorkerRegistered(worker_id="w", person_key="pk", masked_name="张*", township="临泉镇",
                               categories=["rural_migrant"], on_behalf=False, registered_by="s")
    event_id, event_type, body = build_event(payload, source="/t", partition_key="pk")
    parsed = parse_event(body)
    assert (parsed.id, parsed.type, parsed.partition_key, parsed.data) == (event_id, "worker.registered.v1", "pk", payload)
    with pytest.raises(InvalidEvent, match="payload invalid"):
        parse_event(body.replace(b'"township"', b'"town"'))
    with pytest.raises(InvalidEvent, match="unknown event type"):
        parse_event(body.replace(b"worker.registered.v1", b"worker.registered.v9"))


def test_issue16_each_service_writes_as_the_producer_its_topic_names():
    """Consumers dead-letter an event whose source is not its topic's producer: the outboxes must write exactly it."""
    from certification_service.adapters.outbox import outbox as certification
    from skillkit.contracts.topics import (
        CERTIFICATION_TOPIC, PROVINCE_SOURCE, SUBSIDY_TOPIC, TOPIC_PRODUCERS, TRAINING_TOPIC, VOUCHER_TOPIC,
    )
    from subsidy_service.adapters.outbox import outbox as subsidy
    from training_service.adapters.outbox import outbox as training
    from testsupport.province_simulator import SOURCE as simulator
    from voucher_service.adapters.outbox import outbox as voucher

    assert {topic: TOPIC_PRODUCERS[topic] for topic in (VOUCHER_TOPIC, TRAINING_TOPIC, CERTIFICATION_TOPIC,
                                                        SUBSIDY_TOPIC)} == {
        VOUCHER_TOPIC: voucher.source, TRAINING_TOPIC: training.source,
        CERTIFICATION_TOPIC: certification.source, SUBSIDY_TOPIC: subsidy.source}
    assert simulator == PROVINCE_SOURCE
