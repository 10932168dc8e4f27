"""The batch projection on a real database: a consumer batch stores its facts and re-evaluates its persons once,
set-wise. Batches of any size and cut, in any order, with duplicates and restatements inside one batch, applied
concurrently, give the pure projection; the statements of a batch do not grow with its size; attendance sheet
answers touch nothing; a policy table published elsewhere is used at once."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from skillkit.contracts.province import RealnameAnswered
from subsidy_service.adapters import fact_store
from subsidy_service.adapters.models import ChainRow, FactRow, Person, PolicyTableRow
from subsidy_service.consumers import CONSUMER_GROUP
from subsidy_service.domain.policy import default_2023

from tests.subsidy.builders import Clock, certificate, chain, envelope, fact, outcome_fact, voucher_revoked, fact_set
from tests.subsidy.helpers import claims, feed, outbox_events
from tests.subsidy.test_order_independence_db import HISTORY, expected, reset, snapshot


async def feed_batches(ss, batches) -> list[int]:
    processor = ss.runtime.processors[CONSUMER_GROUP]
    return [await processor.apply_batch([envelope(f) for f in batch]) for batch in batches]


def cut(facts: list, cuts: list[int]) -> list[list]:
    points = sorted({c % (len(facts) + 1) for c in cuts} | {0, len(facts)})
    return [facts[a:b] for a, b in zip(points, points[1:]) if b > a]


@given(order=st.permutations(HISTORY), duplicates=st.lists(st.sampled_from(HISTORY), max_size=8),
       cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow])
async def test_batches_of_any_cut_give_the_pure_projection(ss, order, duplicates, cuts):
    await reset(ss)
    facts = list(order)
    for i, duplicate in enumerate(duplicates):  # duplicates land inside batches as well as across them
        facts.insert((i * 7) % (len(facts) + 1), duplicate)
    await feed_batches(ss, cut(facts, cuts))
    assert snapshot(await claims(ss)) == expected()


async def test_a_whole_history_in_one_batch_gives_the_pure_projection(ss):
    await reset(ss)
    assert await feed_batches(ss, [HISTORY + HISTORY[:3]]) == [len(HISTORY)]
    assert snapshot(await claims(ss)) == expected()


async def test_facts_parsed_from_the_store_equal_the_facts_as_received(ss):
    """A restarted process (empty parse cache) reads the stored facts back as they were received, so the
    projection does not depend on which facts the process parsed itself."""
    await reset(ss)
    half = len(HISTORY) // 2
    await feed_batches(ss, [HISTORY[:half]])
    async with ss.sessionmaker() as session:
        conn = await session.connection()
        warm = fact_store.PersonFacts(list(await fact_store.run(conn, fact_store._PERSON_FACTS, {"persons": ["P1"]}))).of("P1")
        fact_store._PARSED.clear()
        cold = fact_store.PersonFacts(list(await fact_store.run(conn, fact_store._PERSON_FACTS, {"persons": ["P1"]}))).of("P1")
    assert cold.all() == warm.all() == fact_set(HISTORY[:half]).all()
    await feed_batches(ss, [HISTORY[half:]])
    assert snapshot(await claims(ss)) == expected()


async def test_two_versions_of_a_fact_in_one_batch_keep_the_newest_whatever_their_order(ss):
    clock = Clock()
    facts = chain(kind="order", days=14, clock=clock)
    old = outcome_fact("C1", "I1", "order", clock, completed=10, employed=9)
    new = outcome_fact("C1", "I1", "order", clock, completed=10, employed=5)
    for batch in ([*facts, new, old], [*facts, old, new]):
        await reset(ss)
        await feed_batches(ss, [batch])
        training = (await claims(ss))["training:V1:main"]
        assert (training.state, training.amount, training.rule_ids) == ("eligible", Decimal("1000.00"), ["S2", "S1"])
        async with ss.sessionmaker() as session:
            stored = await session.scalar(select(FactRow).where(FactRow.kind == "class_outcome"))
        assert stored.event_id == new.event_id


async def test_one_batch_emits_each_transition_once(ss):
    await reset(ss)
    clock = Clock()
    facts = chain(clock=clock)
    await feed_batches(ss, [facts])
    eligible = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.claim_eligible.v1"]
    assert sorted((e["claim_type"], e["amount"]) for e in eligible) == [("evaluation", "400.00"), ("training", "500.00")]
    await feed_batches(ss, [[voucher_revoked("P1", "V1", clock), certificate("P1", "CERT2", clock, level=4)]])
    events = await outbox_events(ss)
    voided = [json.loads(b)["data"] for t, b in events if t == "subsidy.claim_voided.v1"]
    assert sorted((v["claim_type"], v["reason_code"], v["state"]) for v in voided) == [
        ("evaluation", "voucher_revoked", "void"), ("training", "voucher_revoked", "void")]
    assert [t for t, _ in events].count("subsidy.claim_eligible.v1") == 2  # CERT2 has no voucher left: waits


async def test_concurrent_batches_of_a_class_and_its_trainees_never_miss_each_other(ss):
    """Each trainee's events in a batch of their own, the class outcome in another, all applied at once (each
    batch locks all its scopes, then all its persons, in sorted order: no deadlock, and the scope locks make
    every claim see the outcome; without them this fails)."""
    clock = Clock()
    batches = [chain(person=f"P{i}", voucher=f"V{i}", enrolment=f"E{i}", certificate=f"CERT{i}", kind="order",
                     days=11, clock=clock) for i in range(8)]
    batches.append([outcome_fact("C1", "I1", "order", clock, completed=8, employed=7)])
    rng = random.Random(3)
    for _ in range(3):
        await reset(ss)
        for batch in batches:
            rng.shuffle(batch)
        rng.shuffle(batches)
        await asyncio.gather(*(feed_batches(ss, [batch]) for batch in batches))
        found = await claims(ss)
        assert {found[f"training:V{i}:main"].amount for i in range(8)} == {Decimal("1600.00")}
        assert {found[f"training:V{i}:main"].state for i in range(8)} == {"eligible"}


async def test_the_statements_of_a_batch_do_not_grow_with_its_size(ss):
    """Set-wise: a batch of 20 trainees' events costs the statements of a batch of 2."""
    engine = ss.runtime.engine
    counted: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        counted.append(statement)

    async def statements(trainees: int, prefix: str) -> int:
        clock = Clock()
        facts = []
        for i in range(trainees):
            facts += chain(person=f"{prefix}{i}", voucher=f"{prefix}V{i}", enrolment=f"{prefix}E{i}",
                           klass=f"{prefix}C", certificate=f"{prefix}CERT{i}", clock=clock)
        del counted[:]
        await feed_batches(ss, [facts])
        return len(counted)

    await reset(ss)
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        await statements(1, "w")  # the first batch after the seed also reads the policy tables
        assert await statements(2, "a") == await statements(20, "b")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def test_attendance_sheet_answers_touch_no_person_and_no_chain(ss):
    """P1 attendance sheets: one answer per class and day, without enrolment or person. Even a rejection is not
    a chain fact: the class's persons are not locked or re-evaluated, nothing is stored but the inbox row."""
    await reset(ss)
    clock = Clock()
    await feed(ss, chain(clock=clock) + chain(person="P2", voucher="V2", enrolment="E2", certificate="CERT2",
                                              clock=clock))

    async def state():
        async with ss.sessionmaker() as session:
            persons = dict((await session.execute(select(Person.person_key, Person.updated_at))).all())
            chains = dict((await session.execute(select(ChainRow.voucher_id, ChainRow.updated_at))).all())
            facts = await session.scalar(select(func.count()).select_from(FactRow))
        return persons, chains, facts

    before = await state()
    sheets = [fact(RealnameAnswered(submission_id=f"S-att-C1-{d}", record_type="attendance", class_id="C1",
                                    verdict="rejected", reason="identity_mismatch"), clock) for d in range(3)]
    assert await feed_batches(ss, [sheets]) == [3]
    assert await state() == before
    assert {k: c.state for k, c in (await claims(ss)).items() if k.startswith("training")} == {
        "training:V1:main": "eligible", "training:V2:main": "eligible"}


async def test_a_policy_table_published_by_another_replica_is_used_at_once(ss):
    """The parsed tables are cached on a stamp read with the facts, so a version written by another process
    (no re-evaluation here) is seen by the very next batch."""
    await reset(ss)
    clock = Clock()
    await feed(ss, chain(clock=clock, realname=None))
    assert (await claims(ss))["training:V1:main"].state == "waiting"
    table = default_2023()
    async with ss.sessionmaker() as session:
        from skillkit.db import utcnow

        session.add(PolicyTableRow(policy_year=2023, version=2, effective_from=date(2023, 1, 1),
                                   effective_to=table.effective_to,
                                   body={**table.rule_values(), "realname_required": False},
                                   changed_by="replica-2", changed_at=utcnow(), note=None))
        await session.commit()
    await feed(ss, [certificate("P1", "CERT5", clock, level=4)])  # any later event re-evaluates the person
    training = (await claims(ss))["training:V1:main"]
    assert (training.state, training.amount, training.table_version) == ("eligible", Decimal("500.00"), 2)
