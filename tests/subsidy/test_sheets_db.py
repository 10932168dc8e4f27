"""P1 sheets: the province answers a trainee or completion sheet once, with a verdict per line. Each line is
a realname fact of its own (keyed by submission and enrolment, filed under the line's person), exactly like
a single-record answer, so the chain's real-name link keeps its rule: the newest verdict per (record type,
enrolment) stands, any rejection breaks the link, the trainee record's acceptance completes it. Through the
real consumer (the kit's EventProcessor) and PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from skillkit.db import make_engine
from skillkit.migrations import upgrade
from subsidy_service.adapters import fact_store
from subsidy_service.adapters.models import ChainRow, FactRow
from subsidy_service.consumers import CONSUMER_GROUP
from subsidy_service.domain.chain import evaluate_person
from subsidy_service.domain.facts import Fact, FactSet, payload_of
from subsidy_service.domain.policy import Policies, default_2023

from tests.subsidy.builders import Clock, as_facts, chain, envelope, fact_set, line, sheet_answer, single_answer
from tests.subsidy.helpers import claims, feed, outbox_events
from tests.subsidy.test_batches_db import cut, feed_batches
from tests.subsidy.test_order_independence_db import reset, snapshot

REJECTED_ZH = "省培训实名制系统退回（identity_mismatch）"
REJECTED_EN = "the province real-name system rejected it (identity_mismatch)"
# trainee n of class C1: attended days (and E3 for P1: a living allowance too)
DAYS = {0: 3, 1: 7, 2: 5, 3: 12}


def class_events(clock: Clock, *, rejected: int | None = 2) -> tuple[list, Fact, Fact]:
    """Four trainees of class C1 (their chains without a real-name answer), then the class's trainee sheet
    (trainee `rejected`'s line rejected) and completion sheet (all accepted), as the platform files them."""
    events = []
    for n, days in DAYS.items():
        events += [f for f in chain(person=f"P{n}", voucher=f"V{n}", enrolment=f"E{n}", certificate=f"CERT{n}",
                                    days=days, planned_days=max(DAYS.values()), e3=n == 1, realname=None,
                                    clock=clock)
                   if f.kind != "class" or n == 0]  # the class is filed once
    trainees = sheet_answer("S-trainees-C1", "trainee", "C1", [
        line(f"E{n}", f"P{n}", "rejected" if n == rejected else "accepted",
             "identity_mismatch" if n == rejected else None) for n in DAYS], clock)
    completions = sheet_answer("S-done-C1", "completion", "C1", [line(f"E{n}", f"P{n}") for n in DAYS], clock)
    return events, trainees, completions


CLOCK = Clock()
EVENTS, TRAINEES, COMPLETIONS = class_events(CLOCK)
CLASS_HISTORY = EVENTS + [TRAINEES, COMPLETIONS]


def pure_snapshot(events: list) -> dict:
    """The pure projection of every person of the class, in the database snapshot's form."""
    found = {}
    for n in DAYS:
        result = evaluate_person(f"P{n}", fact_set(events), Policies([default_2023()]))
        found.update({k: (c.state, c.amount, list(c.rule_ids), c.reason.code if c.reason else None, c.quota_slot,
                          c.level_slot) for k, c in result.claims.items()})
    return found


def training(found: dict) -> dict:
    return {k: (c.state, c.amount, c.reason_code, c.reason_zh, c.reason_en) for k, c in found.items()
            if c.claim_type != "evaluation"}


EXPECTED_TRAINING = {
    "training:V0:main": ("eligible", Decimal("300.00"), None, None, None),
    "training:V1:main": ("eligible", Decimal("700.00"), None, None, None),
    "living_allowance:V1:main": ("eligible", Decimal("105.00"), None, None, None),
    "training:V2:main": ("rejected", Decimal("500.00"), "realname_rejected", REJECTED_ZH, REJECTED_EN),
    "training:V3:main": ("eligible", Decimal("1000.00"), None, None, None),
}


@given(order=st.permutations(CLASS_HISTORY), duplicates=st.lists(st.sampled_from(CLASS_HISTORY), max_size=6),
       cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=5))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow])
async def test_a_sheet_with_one_rejected_line_breaks_exactly_that_chain_in_any_order(ss, order, duplicates, cuts):
    """Any permutation, duplication and batching of a class's events, its sheet answers included, gives the
    same claims: the rejected line's voucher is refused, the sheet's other vouchers are payable (P1, S1, S4)."""
    await reset(ss)
    events = list(order)
    for i, duplicate in enumerate(duplicates):
        events.insert((i * 5) % (len(events) + 1), duplicate)
    await feed_batches(ss, cut(events, cuts))
    found = await claims(ss)
    assert training(found) == EXPECTED_TRAINING
    assert snapshot(found) == pure_snapshot(CLASS_HISTORY)


async def test_the_chain_view_shows_the_rejected_line_and_the_sheet_behind_each_link(ss):
    await feed(ss, CLASS_HISTORY)
    r = await ss.client.get("/v1/chains/V2", headers=ss.headers("bureau"))
    body = r.json()
    links = {link["name"]: link for link in body["links"]}
    assert (r.status_code, body["status"], body["status_label"]) == (200, "broken", "链条中断")
    assert {k: links["realname"][k] for k in ("status", "status_label", "code", "zh", "en", "event_ids")} == {
        "status": "broken", "status_label": "已中断", "code": "realname_rejected", "zh": REJECTED_ZH,
        "en": REJECTED_EN, "event_ids": [TRAINEES.event_id]}
    assert [(p["code"], p["zh"], p["en"]) for p in body["problems"]] == [
        ("realname_rejected", REJECTED_ZH, REJECTED_EN)]
    assert {(c["claim_type"], c["state"], c["state_label"], c["amount"]) for c in body["claims"]} == {
        ("training", "rejected", "不予兑现", "500.00")}
    ok = (await ss.client.get("/v1/chains/V1", headers=ss.headers("bureau"))).json()
    realname = next(link for link in ok["links"] if link["name"] == "realname")
    assert (ok["status"], realname["status"], realname["event_ids"], ok["problems"]) == (
        "complete", "ok", [TRAINEES.event_id], [])


async def test_a_sheet_answer_is_stored_as_one_person_fact_per_line(ss):
    assert await feed(ss, CLASS_HISTORY) == [True] * len(CLASS_HISTORY)
    assert await feed(ss, [TRAINEES, COMPLETIONS]) == [False, False]  # a redelivered sheet: the inbox drops it
    async with ss.sessionmaker() as session:
        rows = (await session.execute(
            select(FactRow.key, FactRow.person_key, FactRow.enrolment_id, FactRow.class_id, FactRow.event_id,
                   FactRow.event_time).where(FactRow.kind == "realname").order_by(FactRow.key))).all()
    assert [tuple(r) for r in rows] == [
        (f"{sheet.payload.submission_id}|E{n}", f"P{n}", f"E{n}", "C1", sheet.event_id, sheet.time)
        for sheet in (COMPLETIONS, TRAINEES) for n in DAYS]
    async with ss.sessionmaker() as session:
        data = await session.scalar(select(FactRow.data).where(FactRow.key == "S-trainees-C1|E2"))
    assert data == {"submission_id": "S-trainees-C1", "record_type": "trainee", "class_id": "C1",
                    "enrolment_id": "E2", "person_key": "P2", "verdict": "rejected", "reason": "identity_mismatch",
                    "detail": None, "lines": None, "version": None}


async def test_line_facts_read_back_from_the_store_equal_them_as_received(ss):
    """The parse cache is keyed by event id and natural key: the lines of one sheet share an event id, and a
    restarted process (empty cache) must read each line back as itself."""
    await feed(ss, CLASS_HISTORY)
    persons = [f"P{n}" for n in DAYS]
    async with ss.sessionmaker() as session:
        conn = await session.connection()
        warm = fact_store.PersonFacts(list(await fact_store.run(conn, fact_store._PERSON_FACTS, {"persons": persons})))
        fact_store._PARSED.clear()
        cold = fact_store.PersonFacts(list(await fact_store.run(conn, fact_store._PERSON_FACTS, {"persons": persons})))
    for person in persons:
        lines = [(f.key, f.payload.person_key, f.payload.verdict.value) for f in cold.of(person).of("realname")]
        assert cold.of(person).all() == warm.of(person).all() == FactSet(
            [f for f in as_facts(CLASS_HISTORY) if f.person_key in (person, None)]).all()
        n = person[1:]
        assert lines == [(f"S-done-C1|E{n}", person, "accepted"),
                         (f"S-trainees-C1|E{n}", person, "rejected" if n == "2" else "accepted")]


async def test_an_accepted_sheet_completes_only_the_trainees_on_it(ss):
    """The sheet's own verdict (accepted: every line is) is no class-level answer: a trainee of the class
    whose record was not on the sheet still waits for the province."""
    clock = Clock()
    events, _, completions = class_events(clock, rejected=None)
    partial = sheet_answer("S-trainees-C1-a", "trainee", "C1", [line("E0", "P0"), line("E1", "P1")], clock)
    empty = sheet_answer("S-trainees-C1-b", "trainee", "C1", [], clock)
    await feed(ss, events + [partial, empty, completions])
    found = training(await claims(ss))
    assert {k: v[:3] for k, v in found.items()} == {
        "training:V0:main": ("eligible", Decimal("300.00"), None),
        "training:V1:main": ("eligible", Decimal("700.00"), None),
        "living_allowance:V1:main": ("eligible", Decimal("105.00"), None),
        "training:V2:main": ("waiting", Decimal("500.00"), "realname_missing"),
        "training:V3:main": ("waiting", Decimal("1000.00"), "realname_missing"),
    }
    async with ss.sessionmaker() as session:
        keys = set(await session.scalars(
            select(FactRow.key).where(FactRow.class_id == "C1", FactRow.kind == "realname")))
    assert keys == {"S-trainees-C1-a|E0", "S-trainees-C1-a|E1"} | {f"S-done-C1|E{n}" for n in DAYS}


async def test_a_rejected_completion_line_breaks_that_chain(ss):
    clock = Clock()
    events, trainees, _ = class_events(clock, rejected=None)
    completions = sheet_answer("S-done-C1", "completion", "C1", [
        line(f"E{n}", f"P{n}", "rejected" if n == 3 else "accepted", detail="结业人员不在册" if n == 3 else None)
        for n in DAYS], clock)
    await feed(ss, events + [trainees, completions])
    found = training(await claims(ss))
    assert found["training:V3:main"] == ("rejected", Decimal("1000.00"), "realname_rejected",
                                         "省培训实名制系统退回（结业人员不在册）",
                                         "the province real-name system rejected it (结业人员不在册)")
    assert {k: v[:2] for k, v in found.items() if k != "training:V3:main"} == {
        "training:V0:main": ("eligible", Decimal("300.00")), "training:V1:main": ("eligible", Decimal("700.00")),
        "living_allowance:V1:main": ("eligible", Decimal("105.00")),
        "training:V2:main": ("eligible", Decimal("500.00"))}


async def test_an_older_sheet_verdict_after_a_newer_single_verdict_changes_nothing(ss):
    """The newest verdict per (record type, enrolment) stands, whether it came alone or on a sheet."""
    clock = Clock()
    events = chain(realname=None, clock=clock)
    older_sheet = sheet_answer("S-trainees-C1", "trainee", "C1", [line("E1", "P1", "rejected", "identity_mismatch")],
                               clock)
    newer_single = single_answer("S-E1-resent", "trainee", "C1", clock, enrolment="E1", person="P1")
    await feed(ss, events + [newer_single])
    before, outbox = await claims(ss), await outbox_events(ss)
    assert (before["training:V1:main"].state, before["training:V1:main"].amount) == ("eligible", Decimal("500.00"))
    assert await feed(ss, [older_sheet]) == [True]  # stored (another submission), but not the newest verdict
    after = await claims(ss)
    assert {k: (c.state, c.amount, c.updated_at) for k, c in after.items()} == {
        k: (c.state, c.amount, c.updated_at) for k, c in before.items()}
    assert await outbox_events(ss) == outbox
    async with ss.sessionmaker() as session:
        row = await session.get(ChainRow, "V1")
    realname = next(link for link in row.links if link["name"] == "realname")
    assert (realname["status"], realname["event_ids"]) == ("ok", [newer_single.event_id])


async def test_a_newer_sheet_verdict_overrides_an_older_single_one(ss):
    clock = Clock()
    events = chain(realname=None, clock=clock)
    older_single = single_answer("S-E1", "trainee", "C1", clock, enrolment="E1", person="P1")
    newer_sheet = sheet_answer("S-trainees-C1", "trainee", "C1", [line("E1", "P1", "rejected", "identity_mismatch")],
                               clock)
    await feed(ss, events + [newer_sheet, older_single])  # arrival order does not matter
    training_claim = (await claims(ss))["training:V1:main"]
    assert (training_claim.state, training_claim.reason_zh, training_claim.reason_en) == (
        "rejected", REJECTED_ZH, REJECTED_EN)


async def test_a_single_record_trainee_answer_still_completes_the_chain(ss):
    """The contract still allows a trainee record answered on its own (enrolment and person on the answer)."""
    events = chain(realname_sheet=False)
    [answer] = [f for f in events if f.kind == "realname"]
    assert (answer.payload.enrolment_id, answer.payload.lines) == ("E1", None)
    await feed(ss, events)
    found = await claims(ss)
    assert (found["training:V1:main"].state, found["training:V1:main"].amount) == ("eligible", Decimal("500.00"))
    async with ss.sessionmaker() as session:
        row = (await session.execute(select(FactRow.key, FactRow.person_key, FactRow.event_id)
                                     .where(FactRow.kind == "realname"))).one()
    assert tuple(row) == ("S-E1|E1", "P1", answer.event_id)


async def test_a_class_record_answer_stays_a_class_fact(ss):
    """A class record is answered with no enrolment and no lines: one fact of the class, filed under no
    person, reaching every trainee of the class through the class scope."""
    clock = Clock()
    events, trainees, completions = class_events(clock, rejected=None)
    klass = single_answer("S-class-C1", "class", "C1", clock, verdict="rejected", reason="trained_elsewhere_this_year")
    await feed(ss, events + [trainees, completions, klass])
    found = training(await claims(ss))
    reason = ("省培训实名制系统退回（trained_elsewhere_this_year）",
              "the province real-name system rejected it (trained_elsewhere_this_year)")
    assert {k: (v[0], v[2], v[3:]) for k, v in found.items()} == {
        k: ("rejected", "realname_rejected", reason) for k in EXPECTED_TRAINING}
    async with ss.sessionmaker() as session:
        row = (await session.execute(select(FactRow.key, FactRow.person_key, FactRow.enrolment_id)
                                     .where(FactRow.event_id == klass.event_id))).one()
    assert tuple(row) == ("S-class-C1", None, None)


async def test_concurrent_sheets_and_trainee_events_never_miss_each_other(ss):
    """Each trainee's events, the trainee sheet and the completion sheet in batches of their own, applied at
    once: the line facts take the person locks, so each re-evaluation sees the others' rows."""
    await reset(ss)
    batches = [[f for f in EVENTS if f.person_key == f"P{n}" or (n == 0 and f.kind == "class")] for n in DAYS]
    batches += [[TRAINEES], [COMPLETIONS]]
    assert sum(len(b) for b in batches) == len(CLASS_HISTORY)
    processor = ss.runtime.processors[CONSUMER_GROUP]
    await asyncio.gather(*(processor.apply_batch([envelope(f) for f in batch]) for batch in batches))
    assert training(await claims(ss)) == EXPECTED_TRAINING


async def test_migration_0003_rekeys_the_stored_trainee_answers(database_factory):
    """Realname facts stored before sheets were keyed by submission alone; 0003 appends the enrolment to
    those about one trainee (a class record keeps its key), so the new code finds the same row."""
    url = await database_factory("subsidy0003")
    await asyncio.to_thread(upgrade, "subsidy_service.migrations", url, "0002")
    engine = make_engine(url)
    single = chain(realname_sheet=False)[4]
    klass = single_answer("S-class-C1", "class", "C1", Clock())
    try:
        async with engine.begin() as conn:
            for answer, key in ((single, "S-E1"), (klass, "S-class-C1")):
                await conn.execute(FactRow.__table__.insert().values(
                    kind="realname", key=key, event_type=answer.type, event_id=answer.event_id,
                    event_time=answer.time, person_key=answer.payload.person_key,
                    enrolment_id=answer.payload.enrolment_id, class_id="C1",
                    data=answer.payload.model_dump(mode="json"), received_at=answer.time))
        await asyncio.to_thread(upgrade, "subsidy_service.migrations", url, "head")
        async with engine.connect() as conn:
            rows = (await conn.execute(select(FactRow.key, FactRow.event_type, FactRow.data)
                                       .order_by(FactRow.key))).all()
            assert await conn.scalar(select(func.count()).select_from(FactRow)) == 2
    finally:
        await engine.dispose()
    assert [r.key for r in rows] == ["S-E1|E1", "S-class-C1"]
    # each stored key is the key the code computes from the stored payload
    assert [Fact(r.event_type, "x", single.time, payload_of(r.event_type, _json(r.data))).key for r in rows] == [
        "S-E1|E1", "S-class-C1"]


def _json(data) -> str:
    import json

    return data if isinstance(data, str) else json.dumps(data)
