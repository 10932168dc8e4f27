"""One round trip on the real Tansu broker: the other services' events in, the eligible claim out."""

from __future__ import annotations

import json
import uuid
from typing import AsyncIterator

import pytest

from skillkit.contracts.topics import SUBSIDY_TOPIC
from skillkit.testing.harness import ServiceUnderTest, TopicProbe, publish, running_service
from subsidy_service.config import SubsidySettings
from subsidy_service.main import create

from tests.subsidy.builders import chain

pytestmark = pytest.mark.broker


@pytest.fixture
async def subsidy_on_broker(database_factory, broker) -> AsyncIterator[ServiceUnderTest]:
    settings = SubsidySettings(
        environment="test", database_url=await database_factory("sbroker"), kafka_bootstrap=broker.bootstrap
    )
    async with running_service(create, settings, "subsidy_service.migrations") as service:
        yield service


async def test_chain_events_on_the_broker_make_an_eligible_claim(subsidy_on_broker, broker):
    tag = uuid.uuid4().hex[:8]
    person, voucher = f"P-{tag}", f"V-{tag}"
    facts = chain(person=person, voucher=voucher, enrolment=f"E-{tag}", klass=f"C-{tag}", certificate=f"CERT-{tag}",
                  kind="order", days=14, outcome=dict(completed=10, employed=8))
    # Arrival order on the wire: certificate and outcome first, the voucher last.
    for fact in reversed(facts):
        key = getattr(fact.payload, "person_key", None) or fact.payload.class_id
        await publish(broker.bootstrap, fact.payload, key)
    async with TopicProbe(broker.bootstrap, SUBSIDY_TOPIC) as probe:
        event = await probe.wait_for(
            lambda e: e.type == "subsidy.claim_eligible.v1" and e.data.voucher_id == voucher
            and e.data.claim_type == "training",
            timeout=30,
        )
    assert (str(event.data.amount), event.data.rule_ids, event.data.payee_id) == ("1900.00", ["S2"], "I1")
    assert event.partition_key == person
    r = await subsidy_on_broker.client.get(f"/v1/chains/{voucher}", headers=subsidy_on_broker.headers("bureau"))
    assert r.json()["status"] == "complete"
    assert json.loads(r.text)["claims"][0]["lines"][0]["text"] == "S2: 10 天 × 150 + 4 天 × 100 = 1900.00"
