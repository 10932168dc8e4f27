"""The consumer handlers on a real database: facts in any order with duplicates give the same claims;
events on transitions; revocation before and after payment; the worker projection."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from skillkit.testing import plugin

from subsidy_service.adapters import fact_store
from subsidy_service.adapters.models import Base, ChainRow, Claim, FactRow, Person, Recovery
from subsidy_service.jobs.policy_seed import seed_policy_tables

from tests.subsidy.builders import (
    Clock,
    certificate,
    certificate_revoked,
    chain,
    linked,
    outcome_fact,
    registered,
    voucher_revoked,
)
from tests.subsidy.helpers import claims, feed, outbox_events
from tests.subsidy.settlement_support import pay_through_settlement


async def test_complete_order_chain_becomes_eligible_with_exact_amount(ss):
    facts = chain(kind="order", days=14, outcome=dict(completed=10, employed=8))
    await feed(ss, facts)
    found = await claims(ss)
    training = found["training:V1:main"]
    assert (training.state, training.amount, training.rule_ids) == ("eligible", Decimal("1900.00"), ["S2"])
    assert training.lines[0]["text"] == "S2: 10 天 × 150 + 4 天 × 100 = 1900.00"
    assert (training.payee_type, training.payee_id, training.table_year, training.table_version) == (
        "institution", "I1", 2023, 1)
    assert found["evaluation:CERT1:main"].amount == Decimal("400.00")
    events = await outbox_events(ss)
    eligible = [json.loads(body)["data"] for t, body in events if t == "subsidy.claim_eligible.v1"]
    assert sorted((e["claim_type"], e["amount"]) for e in eligible) == [("evaluation", "400.00"), ("training", "1900.00")]


async def test_duplicates_are_ignored_by_the_inbox(ss):
    facts = chain(days=5)
    assert all(await feed(ss, facts))
    assert not any(await feed(ss, facts))
    events = await outbox_events(ss)
    assert [t for t, _ in events].count("subsidy.claim_eligible.v1") == 2


def snapshot(found: dict[str, Claim]) -> dict:
    return {k: (c.state, c.amount, c.rule_ids, c.reason_code, c.quota_slot, c.level_slot, c.lines, c.payee_id)
            for k, c in found.items()}


async def test_any_order_with_duplicates_gives_the_same_claims(ss):
    clock = Clock()
    facts = chain(kind="order", days=12, e3=True, clock=clock, outcome=dict(completed=10, employed=7))
    facts += chain(voucher="V2", enrolment="E2", klass="C2", kind="inclusive", days=4, certificate="CERT2",
                   clock=clock)
    facts += chain(voucher="V3", enrolment="E3", klass="C3", kind="inclusive", days=6, certificate="CERT3",
                   clock=clock, level=4)
    facts.append(outcome_fact("C1", "I1", "order", clock, completed=10, employed=9))  # restated, newer wins
    facts.append(certificate("P1", "CERT9", clock, issued_on=facts[0].time.date()))
    await feed(ss, facts)
    expected = snapshot(await claims(ss))
    assert expected["training:V1:main"][:2] == ("eligible", Decimal("1700.00"))  # 9/10 employed: S2
    assert expected["living_allowance:V1:main"][:2] == ("eligible", Decimal("180.00"))
    assert {expected["training:V2:main"][0], expected["training:V3:main"][0]} == {"eligible", "rejected"}
    rng = random.Random(5)
    for _ in range(2):
        await ss.wipe(Base.metadata)
        await seed_policy_tables(ss.runtime.sessionmaker)
        shuffled = facts + rng.sample(facts, 6)
        rng.shuffle(shuffled)
        await feed(ss, shuffled)
        assert snapshot(await claims(ss)) == expected


async def test_older_restatement_never_overwrites_a_newer_fact(ss):
    clock = Clock()
    facts = chain(kind="order", days=14, clock=clock)
    old = outcome_fact("C1", "I1", "order", clock, completed=10, employed=9)
    new = outcome_fact("C1", "I1", "order", clock, completed=10, employed=5)
    await feed(ss, facts + [new, old])
    training = (await claims(ss))["training:V1:main"]
    assert (training.amount, training.rule_ids) == (Decimal("1000.00"), ["S2", "S1"])
    async with ss.sessionmaker() as session:
        stored = await session.scalar(select(FactRow).where(FactRow.kind == "class_outcome"))
    assert stored.event_id == new.event_id


async def test_class_outcome_arriving_first_is_applied_when_the_enrolment_arrives(ss):
    clock = Clock()
    facts = chain(kind="order", days=14, clock=clock, outcome=dict(completed=10, employed=8))
    outcome = next(f for f in facts if f.kind == "class_outcome")
    await feed(ss, [outcome] + [f for f in facts if f is not outcome])
    assert (await claims(ss))["training:V1:main"].amount == Decimal("1900.00")


async def test_voucher_revoked_before_payment_voids_and_emits(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock))
    await feed(ss, [voucher_revoked("P1", "V1", clock)])
    training = (await claims(ss))["training:V1:main"]
    assert (training.state, training.reason_code) == ("void", "voucher_revoked")
    assert training.reason_zh == "培训券已作废（fraud）"
    voided = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.claim_voided.v1"]
    assert sorted((v["claim_type"], v["reason_code"], v["state"]) for v in voided) == [
        ("evaluation", "voucher_revoked", "void"), ("training", "voucher_revoked", "void")]
    async with ss.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Recovery)) == 0


async def test_certificate_revoked_after_payment_opens_a_recovery(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock))
    training = (await claims(ss))["training:V1:main"]
    await pay_through_settlement(ss, "I1")
    assert (await claims(ss))["training:V1:main"].state == "paid"
    await feed(ss, [certificate_revoked("P1", "CERT1", clock)])
    found = await claims(ss)
    assert (found["training:V1:main"].state, found["training:V1:main"].amount) == ("paid", Decimal("500.00"))
    assert found["training:V1:main"].recovery_pending is True
    assert found["evaluation:CERT1:main"].state == "void"  # not yet paid: voided
    async with ss.sessionmaker() as session:
        recovery = await session.scalar(select(Recovery))
    assert (recovery.amount, recovery.reason_code, recovery.payee_id) == (Decimal("500.00"), "certificate_revoked", "I1")
    types = [t for t, _ in await outbox_events(ss)]
    assert "subsidy.recovery_opened.v1" in types and "subsidy.claim_paid.v1" in types


async def test_voucher_revoked_after_payment_opens_one_recovery_per_paid_claim(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock))
    before = await claims(ss)
    await pay_through_settlement(ss, "I1")
    await pay_through_settlement(ss, "EV1", "evaluation_institution")
    assert [c.state for k, c in sorted((await claims(ss)).items()) if k in before] == ["paid", "paid"]
    await feed(ss, [voucher_revoked("P1", "V1", clock)])
    await feed(ss, [voucher_revoked("P1", "V1", clock)])  # revoked again (a second event): nothing more is opened
    after = await claims(ss)
    assert [(after[k].state, after[k].amount, after[k].recovery_pending) for k in ("training:V1:main", "evaluation:CERT1:main")] == [
        ("paid", Decimal("500.00"), True), ("paid", Decimal("400.00"), True)]
    async with ss.sessionmaker() as session:
        recoveries = (await session.scalars(select(Recovery))).all()
    assert sorted((r.payee_type, r.amount, r.reason_code, r.state) for r in recoveries) == [
        ("evaluation_institution", Decimal("400.00"), "voucher_revoked", "open"),
        ("institution", Decimal("500.00"), "voucher_revoked", "open")]
    opened = [t for t, _ in await outbox_events(ss) if t == "subsidy.recovery_opened.v1"]
    assert len(opened) == 2


async def test_declared_claim_is_voided_with_the_reason_when_its_voucher_is_revoked(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock))
    async with ss.sessionmaker() as session:  # declaration is the payment flow's step: set it as that flow would
        await session.execute(text("UPDATE claims SET state = 'declared' WHERE claim_type = 'training'"))
        await session.commit()
    await feed(ss, [voucher_revoked("P1", "V1", clock)])
    training = (await claims(ss))["training:V1:main"]
    assert (training.state, training.reason_code, training.amount, training.quota_slot) == (
        "void", "voucher_revoked", Decimal("500.00"), None)
    voided = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.claim_voided.v1"]
    assert ("training", "voucher_revoked", "void") in [(v["claim_type"], v["reason_code"], v["state"]) for v in voided]
    async with ss.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Recovery)) == 0


async def test_paid_inclusive_claim_keeps_its_E4_slot(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock, days=5))
    first = (await claims(ss))["training:V1:main"]
    await pay_through_settlement(ss, "I1")
    # A second inclusive voucher completed earlier in the year arrives late: it cannot take the paid slot.
    from datetime import date

    await feed(ss, chain(voucher="V2", enrolment="E2", klass="C2", certificate="CERT2", days=3, clock=clock,
                         completed_on=date(2023, 6, 2), start=date(2023, 5, 25), cert_on=date(2023, 6, 20)))
    found = await claims(ss)
    assert found["training:V1:main"].state == "paid" and found["training:V1:main"].quota_slot == "inclusive"
    assert (found["training:V2:main"].state, found["training:V2:main"].reason_code) == ("rejected", "e4_limit")


async def test_E4_and_E5_are_unique_constraints_in_the_database(ss):
    import pytest
    from sqlalchemy.exc import IntegrityError

    await feed(ss, chain(days=5))
    async with ss.sessionmaker() as session:
        row = await session.scalar(select(Claim).where(Claim.claim_type == "training"))
        clone = Claim(**{c.key: getattr(row, c.key) for c in Claim.__table__.columns if c.key != "id"})
        clone.subject_id = "V-OTHER"
        session.add(clone)
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()
        ev = await session.scalar(select(Claim).where(Claim.claim_type == "evaluation"))
        clone = Claim(**{c.key: getattr(ev, c.key) for c in Claim.__table__.columns if c.key != "id"})
        clone.subject_id = "CERT-OTHER"
        session.add(clone)
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_chain_row_records_links_and_event_ids(ss):
    facts = chain(realname=None)
    await feed(ss, facts)
    async with ss.sessionmaker() as session:
        row = await session.get(ChainRow, "V1")
    assert row.status == "waiting"
    links = {link["name"]: link for link in row.links}
    assert links["voucher"]["event_ids"] == [facts[0].event_id]
    assert links["realname"]["code"] == "realname_missing"


async def test_worker_projection_maps_the_newest_account_subject(ss):
    clock = Clock()
    reg = registered("P1", None, clock)
    link = linked("P1", "acct-7", clock)
    await feed(ss, [link, reg])
    async with ss.sessionmaker() as session:
        person = await session.get(Person, "P1")
    assert (person.account_subject, person.worker_id, person.masked_name) == ("acct-7", "W-P1", "张*")


async def test_evaluation_institution_suspended_after_the_certificate_holds_its_claim(ss):
    from tests.subsidy.builders import evaluation_institution

    clock = Clock()
    await feed(ss, chain(clock=clock))
    assert (await claims(ss))["evaluation:CERT1:main"].state == "eligible"
    await feed(ss, [evaluation_institution("EV1", "revoked", clock)])
    evaluation = (await claims(ss))["evaluation:CERT1:main"]
    assert (evaluation.state, evaluation.reason_code) == ("held", "evaluation_institution_suspended")
    voided = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.claim_voided.v1"]
    assert [(v["claim_type"], v["state"]) for v in voided] == [("evaluation", "held")]
    r = await ss.client.post(f"/v1/claims/{evaluation.id}/review", json={"approved": True}, headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["state"]) == (200, "eligible")


async def test_province_answers_on_attendance_records_are_not_chain_facts(ss):
    from skillkit.contracts.province import RealnameAnswered

    from tests.subsidy.builders import fact

    clock = Clock()
    attendance = fact(RealnameAnswered(submission_id="S-att-1", record_type="attendance", class_id="C1",
                                       enrolment_id="E1", person_key="P1", verdict="rejected",
                                       reason="identity_mismatch"), clock)
    await feed(ss, chain(clock=clock) + [attendance])
    assert (await claims(ss))["training:V1:main"].state == "eligible"
    async with ss.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(FactRow).where(FactRow.kind == "realname")) == 1


async def test_payable_report_says_who_gets_what_and_why(ss):
    from subsidy_service.report import payable_report

    await feed(ss, chain(kind="order", days=14, e3=True, outcome=dict(completed=10, employed=8)))
    async with ss.sessionmaker() as session:
        text = await payable_report(session, year=2023)
    assert "培训机构 I1: 1 笔, 1900.00 元" in text
    assert "      S2: 10 天 × 150 + 4 天 × 100 = 1900.00" in text
    assert "劳动者 W-P1: 1 笔, 210.00 元" in text
    assert "评价机构 EV1: 1 笔, 400.00 元" in text
    assert text.endswith("合计 total: 2510.00 元 in 3 claims to 3 payees")


async def test_consumer_spec_covers_the_chain_events_and_ignores_the_rest(ss):
    from datetime import datetime, timezone

    from skillkit.contracts.training import TrainingStarted
    from skillkit.events import registry
    from subsidy_service.config import SubsidySettings
    from subsidy_service.consumers import CONSUMER_GROUP, consumer_specs

    from tests.subsidy.builders import envelope, fact

    [spec] = consumer_specs(SubsidySettings())
    assert spec.name == CONSUMER_GROUP == "subsidy-service"
    assert spec.topics == ["skills.voucher.v1", "skills.training.v1", "skills.certification.v1",
                           "province.realname.inbound.v1"]
    assert all(registry.get(t).topic in spec.topics for t in spec.by_type)
    assert {"voucher.issued.v1", "voucher.bound.v1", "training.completed.v1", "class.outcome_reported.v1",
            "certificate.issued.v1", "certificate.revoked.v1", "province.realname.answered.v1",
            "worker.registered.v1", "worker.account_linked.v1", "institution.suspended.v1",
            "evaluation_institution.filed.v1"} <= set(spec.by_type)
    started = fact(TrainingStarted(enrolment_id="E1", voucher_id="V1", class_id="C1", person_key="P1",
                                   first_day=datetime(2023, 6, 2).date(),
                                   checked_at=datetime(2023, 6, 2, 1, tzinfo=timezone.utc)), Clock())
    assert await ss.runtime.processors[CONSUMER_GROUP].apply(envelope(started)) is False


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="the planner's choices are PostgreSQL's")
async def test_the_facts_query_reads_facts_by_index_only(ss):
    """Without statistics (a table not yet analysed) or with a generic plan cached while the table was small, the
    planner scanned the whole facts table (fact_store.person_facts); the statements after it plan as usual."""
    await feed(ss, chain(days=5))
    # the backend's scans not yet reported to the statistics, the feed's included: counted before and after
    scans = text("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'facts'")
    async with ss.runtime.sessionmaker() as session:
        conn = await session.connection()
        before = (await session.execute(scans)).one()
        for _ in range(8):  # PostgreSQL considers a generic plan from the sixth execution on
            facts = await fact_store.person_facts(conn, ["P1"])
        after = (await session.execute(scans)).one()
        assert [f.kind for f in facts.of("P1").of("voucher")] == ["voucher"]
        assert after.seq_scan - before.seq_scan == 0 and after.idx_scan - before.idx_scan >= 8
        settings = dict((await session.execute(text(
            "SELECT name, setting FROM pg_settings WHERE name IN ('enable_seqscan', 'jit')"))).all())
        defaults = dict((await session.execute(text(
            "SELECT name, reset_val FROM pg_settings WHERE name IN ('enable_seqscan', 'jit')"))).all())
        assert settings == defaults and settings["enable_seqscan"] == "on"
