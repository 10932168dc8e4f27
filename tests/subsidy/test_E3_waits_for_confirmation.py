"""Eligibility on evidence (issue 13): the money that rests on a category waits for the category's confirmation —
the S4 allowance for E3, order and project training for E1, entrepreneurship for E2 (a founder with a licence under a
year old at the enrolment) — and the chain says so in words; when `worker.category_reviewed.v1` arrives the claims are
re-evaluated and become eligible. Inclusive training does not wait. Pure evaluation, then the real consumer on
PostgreSQL and the Tansu broker."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import AsyncIterator

import pytest

from skillkit.contracts.topics import SUBSIDY_TOPIC
from skillkit.testing.harness import ServiceUnderTest, TopicProbe, eventually, publish, running_service
from subsidy_service.config import SubsidySettings
from subsidy_service.domain.chain import evaluate_person
from subsidy_service.domain.policy import Policies, default_2023
from subsidy_service.main import create

from tests.subsidy.builders import Clock, category_review, chain, fact_set

TR, LA = "training:V1:main", "living_allowance:V1:main"
WAITING_E3 = ("人员类别（脱贫劳动力）为本人申报，尚待乡镇或人社局工作人员、主管部门名单核实（E3）",
              "the category (poverty_alleviated_labour) is only claimed: it awaits confirmation by township or bureau "
              "staff or the owning office's roster (E3)")


def evaluated(facts):
    return evaluate_person("P1", fact_set(facts), Policies([default_2023()]))


def link(result, name: str):
    return next(link for link in result.chains["V1"].links if link.name == name)


def test_E3_allowance_waits_and_says_what_is_missing_then_pays_on_confirmation():
    clock = Clock()
    facts = chain(days=6, e3=True, confirmed=False, clock=clock)
    result = evaluated(facts)
    training, allowance = result.claims[TR], result.claims[LA]
    assert (training.state, training.amount) == ("eligible", Decimal("600.00"))  # inclusive: no category gate
    assert (allowance.state, allowance.amount) == ("waiting", Decimal("90.00"))
    assert [(r.code, r.zh, r.en) for r in allowance.missing] == [("category_unconfirmed", *WAITING_E3)]
    e3 = link(result, "allowance_category")
    assert (e3.label, e3.status, e3.reason.zh) == ("生活费补贴人员类别核实", "missing", WAITING_E3[0])
    assert [l.name for l in result.chains["V1"].links].count("category") == 0  # inclusive: no E1 link

    review = category_review("P1", "poverty_alleviated_labour", clock, source="rural_revitalisation")
    result = evaluated(facts + [review])
    assert (result.claims[LA].state, result.claims[LA].amount) == ("eligible", Decimal("90.00"))
    e3 = link(result, "allowance_category")
    assert (e3.status, e3.event_ids, e3.note) == ("ok", (review.event_id,),
                                                  "已核实：脱贫劳动力（档案 P1-poverty_alleviated_labour）")


def test_E3_a_register_confirming_what_was_not_declared_grants_the_allowance():
    clock = Clock()
    facts = chain(days=4, clock=clock)  # declared 农村转移就业劳动者 only
    assert LA not in evaluated(facts).claims
    result = evaluated(facts + [category_review("P1", "monitored_household", clock, source="rural_revitalisation")])
    assert (result.claims[LA].state, result.claims[LA].amount) == ("eligible", Decimal("60.00"))


def test_E1_order_training_waits_and_a_rejection_refuses_it():
    clock = Clock()
    facts = chain(kind="order", days=14, confirmed=False, clock=clock, outcome=dict(completed=10, employed=8))
    result = evaluated(facts)
    assert (result.claims[TR].state, result.claims[TR].amount) == ("waiting", Decimal("1900.00"))
    e1 = link(result, "category")
    assert (e1.label, e1.status, e1.reason.code, e1.reason.zh) == (
        "人员类别核实", "missing", "category_unconfirmed",
        "人员类别（农村转移就业劳动者）为本人申报，尚待乡镇或人社局工作人员、主管部门名单核实（E1）")
    assert result.chains["V1"].status == "waiting"

    rejected = category_review("P1", "rural_migrant", clock, status="rejected")
    result = evaluated(facts + [rejected])
    assert (result.claims[TR].state, result.claims[TR].reason.zh) == (
        "rejected", "人员类别（农村转移就业劳动者）经核实不符（E1）")
    # the newest review stands: confirmed later, the claim is eligible
    result = evaluated(facts + [rejected, category_review("P1", "rural_migrant", clock)])
    assert (result.claims[TR].state, result.claims[TR].amount) == ("eligible", Decimal("1900.00"))


def test_E2_founder_licence_is_checked_at_the_enrolment_date():
    def founder(licence: date):
        clock = Clock()
        facts = chain(kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training",
                      outcome=dict(attended=10, passed=10, licensed=2), categories=["new_business_founder"],
                      confirmed=False, clock=clock)  # enrolled on 2023-03-01
        return evaluated(facts + [category_review("P1", "new_business_founder", clock, licence_issued_on=licence)])

    fresh = founder(date(2022, 3, 2))
    assert [(fresh.claims[k].state, fresh.claims[k].amount) for k in ("training:V1:S6-80", "training:V1:S6-20")] == [
        ("eligible", Decimal("1440.00")), ("eligible", Decimal("360.00"))]
    stale = founder(date(2022, 3, 1))
    claim = stale.claims["training:V1:S6-80"]
    assert (claim.state, claim.rule_ids, claim.reason.zh) == (
        "rejected", ("S6", "E2"), "营业执照签发于 2022-03-01，报名时（2023-03-01）已满一年，不属于创业初期创业者（E2）")
    after = founder(date(2023, 3, 2))  # a licence after the enrolment: not a founder when enrolling
    assert after.claims["training:V1:S6-80"].reason.code == "founder_licence_not_within_year"


def test_E2_a_confirmed_founder_not_yet_enrolled_waits_for_the_enrolment():
    clock = Clock()
    facts = [f for f in chain(kind="entrepreneurship", course="SYB", days=None, cert_type=None, realname=None,
                              categories=["new_business_founder"], confirmed=False, clock=clock)
             if f.kind == "voucher"]
    review = category_review("P1", "new_business_founder", clock, licence_issued_on=date(2022, 12, 1))
    gate = link(evaluated(facts + [review]), "category")
    assert (gate.status, gate.reason.code, gate.event_ids) == ("missing", "enrolment_missing", (review.event_id,))


@pytest.fixture
async def subsidy_on_broker(database_factory, broker) -> AsyncIterator[ServiceUnderTest]:
    settings = SubsidySettings(
        environment="test", database_url=await database_factory("sevidence"), kafka_bootstrap=broker.bootstrap
    )
    async with running_service(create, settings, "subsidy_service.migrations") as service:
        yield service


@pytest.mark.broker
async def test_E3_confirmation_on_the_broker_makes_the_waiting_claims_eligible(subsidy_on_broker, broker):
    tag = uuid.uuid4().hex[:8]
    person, voucher = f"P-{tag}", f"V-{tag}"
    clock = Clock()
    facts = chain(person=person, voucher=voucher, enrolment=f"E-{tag}", klass=f"C-{tag}", certificate=f"CERT-{tag}",
                  kind="order", days=14, e3=True, confirmed=False, clock=clock,
                  outcome=dict(completed=10, employed=8))
    for fact in facts:
        await publish(broker.bootstrap, fact.payload, getattr(fact.payload, "person_key", None) or fact.payload.class_id)
    staff = subsidy_on_broker.headers("bureau")

    async def chain_view():
        r = await subsidy_on_broker.client.get(f"/v1/chains/{voucher}", headers=staff)
        body = r.json() if r.status_code == 200 else None
        return body if body and {c["claim_type"] for c in body["claims"]} == {"training", "living_allowance"} and all(
            l["status"] == "ok" for l in body["links"] if l["name"] in ("certificate", "class_outcome")) else None

    view = await eventually(chain_view, timeout=30)
    assert view["status"] == "waiting"
    gates = {l["name"]: (l["label"], l["status"], l["code"], l["zh"]) for l in view["links"]
             if l["name"] in ("category", "allowance_category")}
    assert gates == {
        "category": ("人员类别核实", "missing", "category_unconfirmed",
                     "人员类别（脱贫劳动力）为本人申报，尚待乡镇或人社局工作人员、主管部门名单核实（E1）"),
        "allowance_category": ("生活费补贴人员类别核实", "missing", "category_unconfirmed", WAITING_E3[0])}
    assert {(c["claim_type"], c["state"], c["amount"]) for c in view["claims"]} == {
        ("training", "waiting", "1900.00"), ("living_allowance", "waiting", "210.00")}

    review = category_review(person, "poverty_alleviated_labour", clock, source="rural_revitalisation")
    await publish(broker.bootstrap, review.payload, person)
    async with TopicProbe(broker.bootstrap, SUBSIDY_TOPIC) as probe:
        for claim_type, amount in (("training", "1900.00"), ("living_allowance", "210.00")):
            event = await probe.wait_for(lambda e: e.type == "subsidy.claim_eligible.v1" and
                                         e.data.voucher_id == voucher and e.data.claim_type == claim_type, timeout=30)
            assert str(event.data.amount) == amount
    r = await subsidy_on_broker.client.get(f"/v1/chains/{voucher}", headers=staff)
    assert r.json()["status"] == "complete"
    assert {c["claim_type"]: (c["state"], c["amount"]) for c in r.json()["claims"]} == {
        "training": ("eligible", "1900.00"), "living_allowance": ("eligible", "210.00")}
