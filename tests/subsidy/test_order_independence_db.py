"""Order independence through the real handlers and database: hypothesis permutations with duplicates
(a smaller number of examples than the pure tests), and concurrent events of one person."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_service.adapters.models import Base
from subsidy_service.domain.chain import evaluate_person
from subsidy_service.domain.policy import Policies, default_2023
from subsidy_service.jobs.policy_seed import seed_policy_tables

from tests.subsidy.builders import (
    Clock,
    certificate,
    chain,
    fact_set,
    line,
    outcome_fact,
    sheet_answer,
    suspended,
    voucher_revoked,
)
from tests.subsidy.helpers import claims, feed


def history() -> list:
    clock = Clock()
    facts = chain(kind="order", days=13, e3=True, clock=clock, outcome=dict(completed=10, employed=8))
    facts += chain(voucher="V2", enrolment="E2", klass="C2", kind="project", days=4, certificate="CERT2", level=4,
                   clock=clock)
    facts += chain(voucher="V3", enrolment="E3", klass="C3", kind="inclusive", days=12, certificate="CERT3",
                   clock=clock, institution="I3")
    facts.append(outcome_fact("C1", "I1", "order", clock, completed=10, employed=6))
    facts.append(certificate("P1", "CERT4", clock, level=4))
    facts.append(suspended("I3", clock))
    facts.append(voucher_revoked("P1", "V2", clock))
    # P1: the completion records come back on the classes' sheets, among other trainees' lines
    facts.append(sheet_answer("S-done-C1", "completion", "C1", [line("E8", "P8"), line("E1", "P1")], clock))
    facts.append(sheet_answer("S-done-C3", "completion", "C3", [
        line("E3", "P1", "rejected", "trained_elsewhere_this_year"), line("E7", "P7")], clock))
    return facts


HISTORY = history()


def snapshot(found) -> dict:
    return {k: (c.state, c.amount, list(c.rule_ids), c.reason_code, c.quota_slot, c.level_slot) for k, c in found.items()}


def expected() -> dict:
    result = evaluate_person("P1", fact_set(HISTORY), Policies([default_2023()]))
    return {k: (c.state, c.amount, list(c.rule_ids), c.reason.code if c.reason else None, c.quota_slot, c.level_slot)
            for k, c in result.claims.items()}


async def reset(ss) -> None:
    await ss.wipe(Base.metadata)
    await seed_policy_tables(ss.runtime.sessionmaker)


@given(order=st.permutations(HISTORY), duplicates=st.lists(st.sampled_from(HISTORY), max_size=5))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow])
async def test_handlers_give_the_pure_projection_in_any_order(ss, order, duplicates):
    await reset(ss)
    await feed(ss, list(order) + duplicates)
    assert snapshot(await claims(ss)) == expected()


async def test_concurrent_events_of_one_person_never_race(ss):
    await reset(ss)
    await asyncio.gather(*(feed(ss, [f]) for f in HISTORY))
    # Whatever interleaving the database allowed, the row locks make the result the pure projection.
    assert snapshot(await claims(ss)) == expected()
    assert expected()["training:V1:main"][:2] == ("eligible", Decimal("1000.00"))
    assert expected()["training:V3:main"][:4] == ("rejected", Decimal("1000.00"), ["S1"], "realname_rejected")


async def test_class_events_and_enrolments_applied_concurrently_never_miss_each_other(ss):
    """The class outcome (keyed by class) and each trainee's enrolment (keyed by person) race on purpose;
    the scope locks make every trainee's claim see the outcome."""
    import random

    clock = Clock()
    people = [f"P{i}" for i in range(8)]
    facts = []
    for i, person in enumerate(people):
        facts += chain(person=person, voucher=f"V{i}", enrolment=f"E{i}", certificate=f"CERT{i}", kind="order",
                       days=11, clock=clock)
    facts.append(outcome_fact("C1", "I1", "order", clock, completed=8, employed=7))
    rng = random.Random(11)
    for _ in range(2):
        await reset(ss)
        shuffled = facts[:]
        rng.shuffle(shuffled)
        await asyncio.gather(*(feed(ss, [f]) for f in shuffled))
        found = await claims(ss)
        assert {found[f"training:V{i}:main"].amount for i in range(8)} == {Decimal("1600.00")}
        assert {found[f"training:V{i}:main"].state for i in range(8)} == {"eligible"}
