"""P1 in the chain: corrections (a record's next version; the chain follows the newest version's answer, whatever
the arrival order) and the province's own messages (withdrawn: the claim waits for the corrected version;
trained elsewhere after the fact: the claim is void, with the reason). Through the real consumer on PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from skillkit.contracts.province import RealnameNotified
from subsidy_service.domain.facts import Fact

from tests.subsidy.builders import Clock, chain, fact, line, sheet_answer
from tests.subsidy.helpers import claims, feed, outbox_events
from tests.subsidy.test_order_independence_db import reset

WITHDRAWN_DETAIL = "省平台已撤回该记录，请更正后重新上报"


def _version(answer: Fact, version: int, clock: Clock) -> Fact:
    """The same answer naming a version (the province answers each version of a record)."""
    return Fact(answer.type, str(uuid.uuid4()), clock.tick(),
                answer.payload.model_copy(update={"version": version}))


def _notice(kind: str, enrolment: str, person: str, clock: Clock, version: int = 1, notice_id: str = "N-1",
            other: str | None = None) -> Fact:
    return fact(RealnameNotified(
        notice_id=notice_id, notice=kind, submission_id="S-trainees", version=version, record_type="trainee",
        class_id="C1", enrolment_id=enrolment, person_key=person,
        reason="trained_elsewhere_this_year" if kind == "trained_elsewhere" else None,
        detail=WITHDRAWN_DETAIL if kind == "withdrawn" else f"事后核查：该学员本年度已在 {other} 参加同类补贴培训",
        other_county_code=other), clock)


def _training(found: dict) -> tuple:
    c = found["training:V1:main"]
    return c.state, c.amount, c.reason_code, c.reason_zh


def _base(clock: Clock) -> list[Fact]:
    return chain(person="P1", voucher="V1", enrolment="E1", days=5, realname=None, clock=clock)


async def test_P1_the_chain_follows_the_answer_to_the_newest_version_in_any_order(ss):
    """Version 1 rejected (identity mismatch), version 2 (the corrected line) accepted: payable, whichever
    arrives first — also when version 1's answer is the later event (a duplicate the province sent late)."""
    clock = Clock()
    base = _base(clock)
    v1 = _version(sheet_answer("S-trainees", "trainee", "C1",
                               [line("E1", "P1", "rejected", "identity_mismatch")], clock), 1, clock)
    v2 = _version(sheet_answer("S-trainees", "trainee", "C1", [line("E1", "P1")], clock), 2, clock)
    late_v1 = Fact(v1.type, str(uuid.uuid4()), clock.tick(), v1.payload)  # version 1 answered again, after version 2
    await feed(ss, base + [v1])
    assert _training(await claims(ss)) == (
        "rejected", Decimal("500.00"), "realname_rejected", "省培训实名制系统退回（identity_mismatch）")
    for order in itertools.permutations([v1, v2, late_v1]):
        await reset(ss)
        await feed(ss, base + list(order))
        assert _training(await claims(ss)) == ("eligible", Decimal("500.00"), None, None), order
    r = await ss.client.get("/v1/chains/V1", headers=ss.headers("bureau"))
    realname = next(link for link in r.json()["links"] if link["name"] == "realname")
    assert (realname["status"], realname["event_ids"]) == ("ok", [v2.event_id])


async def test_P1_a_withdrawn_record_makes_the_claim_wait_until_its_corrected_version_is_accepted(ss):
    clock = Clock()
    v1 = _version(sheet_answer("S-trainees", "trainee", "C1", [line("E1", "P1")], clock), 1, clock)
    await feed(ss, _base(clock) + [v1])
    assert _training(await claims(ss)) == ("eligible", Decimal("500.00"), None, None)
    await feed(ss, [_notice("withdrawn", "E1", "P1", clock)])
    assert _training(await claims(ss)) == (
        "waiting", Decimal("500.00"), "realname_withdrawn",
        f"省培训实名制系统撤回了记录（{WITHDRAWN_DETAIL}），待机构更正后重新上报")
    # version 1's answer delivered again later changes nothing: the notice is newer on that version
    await feed(ss, [Fact(v1.type, str(uuid.uuid4()), clock.tick(), v1.payload)])
    assert _training(await claims(ss))[0] == "waiting"
    await feed(ss, [_version(sheet_answer("S-trainees", "trainee", "C1", [line("E1", "P1")], clock), 2, clock)])
    assert _training(await claims(ss)) == ("eligible", Decimal("500.00"), None, None)


async def test_P1_trained_elsewhere_after_the_fact_voids_the_claim_with_the_reason(ss):
    clock = Clock()
    v1 = _version(sheet_answer("S-trainees", "trainee", "C1", [line("E1", "P1")], clock), 1, clock)
    await feed(ss, _base(clock) + [v1])
    assert _training(await claims(ss))[0] == "eligible"
    before = len(await outbox_events(ss))
    await feed(ss, [_notice("trained_elsewhere", "E1", "P1", clock, other="141102")])
    found = await claims(ss)
    assert _training(found) == (
        "void", Decimal("500.00"), "realname_trained_elsewhere", "省培训实名制系统事后核查：本年度已在其他县参加同类培训（141102）")
    assert found["training:V1:main"].reason_en == (
        "the province found after the fact that the person trained elsewhere this year (141102)")
    assert [t for t, _ in (await outbox_events(ss))[before:]] == ["subsidy.claim_voided.v1"]
    r = await ss.client.get("/v1/chains/V1", headers=ss.headers("bureau"))
    realname = next(link for link in r.json()["links"] if link["name"] == "realname")
    assert (realname["status"], realname["code"]) == ("broken", "realname_trained_elsewhere")
