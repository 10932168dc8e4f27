"""S9: industry departments' own training for their key groups is paid from their own funds and is outside these
subsidies (record only). A chain through a class the training service marks `funded_by_department` pays nothing of
any kind — no training subsidy (S1–S7), no living allowance (S4), no evaluation subsidy (S8) for a certificate that
chains only through it, no E4 / E5 slot taken — and the chain says why (the `funding` link). The voucher's claims
exist from its issue on (waiting for the rest of the chain), so they end void, 0.00, citing S9 alone, whatever
arrived first; a class filing that arrives after the rest voids what was drafted before it. Pure evaluation first,
then the real consumer on the database."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

from subsidy_service.adapters.models import Base
from subsidy_service.domain.chain import ClaimState, OpenRecovery, VoidFrozen, claim_changes, evaluate_person
from subsidy_service.domain.policy import Policies, default_2023
from subsidy_service.jobs.policy_seed import seed_policy_tables

from tests.subsidy.builders import Clock, chain, fact_set
from tests.subsidy.helpers import claims, feed, outbox_events
from tests.subsidy.test_claim_changes import stored

DEPARTMENT = "县农业农村局"
POLICIES = Policies([default_2023()])
OUTCOME_80 = dict(completed=10, employed=8)
S9_ZH = "行业部门自有经费培训，不属本补贴范围（S9）"
S9_EN = "an industry department's own training, paid from its own funds: outside these subsidies (S9)"
S9_NOTE = "县农业农村局使用行业专项经费开展的重点群体培训（只登记，不申领本补贴）"
TR, LA, EV = "training:V1:main", "living_allowance:V1:main", "evaluation:CERT1:main"
RECORD_ONLY = (ClaimState.VOID, Decimal("0.00"), ("S9",), "industry_department_funded", None, None)


def order_chain(department: str | None, clock: Clock | None = None) -> list:
    """A whole order chain of an E3 person: voucher, enrolment, approval, P1, completion passed (14 days),
    certificate (初级工), employment 80 %."""
    return chain(kind="order", days=14, e3=True, outcome=OUTCOME_80, department=department, clock=clock)


def second_order_chain(clock: Clock) -> list:
    """Another order voucher of the same year and person, an ordinary class, completed later; its certificate is
    of the same occupation and level (E4 and E5 would refuse it after a paid first chain)."""
    return chain(voucher="V2", enrolment="E2", klass="C2", kind="order", days=6, certificate="CERT2",
                 start=date(2023, 7, 1), completed_on=date(2023, 7, 15), cert_on=date(2023, 7, 20),
                 bound_at=datetime(2023, 6, 20, tzinfo=timezone.utc), outcome=OUTCOME_80, clock=clock)


def funding_link(result) -> dict:
    [link] = [link for link in result.chains["V1"].links if link.name == "funding"]
    return dict(status=link.status, code=link.reason.code, zh=link.reason.zh, en=link.reason.en, note=link.note,
                label=link.label)


def pure_snapshot(result) -> dict:
    return {k: (c.state, c.amount, c.rule_ids, c.reason.code if c.reason else None, c.quota_slot, c.level_slot)
            for k, c in result.claims.items()}


# ---- pure ----------------------------------------------------------------------------------------------------------

def test_S9_a_department_class_pays_nothing_of_any_kind_and_the_chain_says_why():
    result = evaluate_person("P1", fact_set(order_chain(DEPARTMENT)), POLICIES)
    assert pure_snapshot(result) == {TR: RECORD_ONLY, LA: RECORD_ONLY, EV: RECORD_ONLY}
    assert all(c.lines == () for c in result.claims.values())
    assert funding_link(result) == dict(status="broken", code="industry_department_funded", zh=S9_ZH, en=S9_EN,
                                        note=S9_NOTE, label="经费来源")
    view = result.chains["V1"]
    assert view.status == "broken"
    assert [r.code for r in view.problems] == ["industry_department_funded"]
    # the training itself is recorded as any other: every other link is complete
    assert {link.name: link.status for link in view.links if link.name != "funding"} == {
        "voucher": "ok", "binding": "ok", "enrolment": "ok", "realname": "ok", "completion": "ok",
        "certificate": "ok", "class_outcome": "ok", "category": "ok", "allowance_category": "ok", "limits": "ok"}


def test_S9_the_same_chain_through_an_ordinary_class_is_paid_to_the_fen():
    result = evaluate_person("P1", fact_set(order_chain(None)), POLICIES)
    assert pure_snapshot(result) == {
        TR: (ClaimState.ELIGIBLE, Decimal("1900.00"), ("S2",), None, "project_or_order", None),  # 10×150 + 4×100
        LA: (ClaimState.ELIGIBLE, Decimal("210.00"), ("S4",), None, None, None),  # 14 × 15
        EV: (ClaimState.ELIGIBLE, Decimal("400.00"), ("S8",), None, None, "level:5"),  # 初级工
    }
    assert not any(link.name == "funding" for link in result.chains["V1"].links)


def test_S9_every_kind_of_class_and_every_S3_stage_is_record_only():
    for kind, extra in (("inclusive", {}), ("project", {"project": "P-1"}), ("caregiver", {}),
                        ("enterprise", {}), ("entrepreneurship", {"course": "SYB", "outcome": dict(
                            attended=10, passed=10, licensed=2)})):
        result = evaluate_person("P1", fact_set(chain(kind=kind, days=5, department=DEPARTMENT, **extra)), POLICIES)
        assert result.claims and {c.state for c in result.claims.values()} == {ClaimState.VOID}, kind
        assert {c.reason.code for c in result.claims.values()} == {"industry_department_funded"}, kind
    staged = default_2023().model_dump()
    staged["s3"]["projects"] = {"P-1": {"daily_rate": "120", "cap": "2000", "stages": [
        {"code": "enrolment_verified", "share": "0.30"}, {"code": "completion", "share": "0.70"}]}}
    from subsidy_service.domain.policy import PolicyTable

    result = evaluate_person("P1", fact_set(chain(kind="project", days=5, project="P-1", department=DEPARTMENT)),
                             Policies([PolicyTable.model_validate(staged)]))
    assert pure_snapshot(result) == {"training:V1:S3-1": RECORD_ONLY, "training:V1:S3-2": RECORD_ONLY,
                                     EV: RECORD_ONLY}


def test_S9_a_department_training_takes_no_E4_or_E5_slot():
    """The worker's one project-or-order subsidy of the year (E4) and the evaluation subsidy of the level (E5)
    stay free for subsidised training later."""
    clock = Clock()
    ordinary = evaluate_person("P1", fact_set(order_chain(None, clock) + second_order_chain(clock)), POLICIES)
    assert ordinary.claims["training:V2:main"].reason.code == "e4_limit"
    assert ordinary.claims["evaluation:CERT2:main"].reason.code == "e5_limit"
    clock = Clock()
    result = evaluate_person("P1", fact_set(order_chain(DEPARTMENT, clock) + second_order_chain(clock)), POLICIES)
    assert pure_snapshot(result) == {
        TR: RECORD_ONLY, LA: RECORD_ONLY, EV: RECORD_ONLY,
        "training:V2:main": (ClaimState.ELIGIBLE, Decimal("900.00"), ("S2",), None, "project_or_order", None),
        # the person is a confirmed 脱贫劳动力 (E3): the ordinary training's allowance, 6 × 15
        "living_allowance:V2:main": (ClaimState.ELIGIBLE, Decimal("90.00"), ("S4",), None, None, None),
        "evaluation:CERT2:main": (ClaimState.ELIGIBLE, Decimal("400.00"), ("S8",), None, None, "level:5"),
    }
    # CERT2 chains through the department class too, but also through V2's ordinary class: V2 traces it (E6)
    assert result.claims["evaluation:CERT2:main"].voucher_id == "V2"


def test_S9_before_payment_only_a_declared_claim_is_voided_and_a_paid_one_is_not_recovered():
    """Were the S9 filing to arrive after a declaration (it cannot in practice: the chain waits for the class
    filing), the declared claim is voided like after a revocation; a paid one keeps its state, no recovery."""
    before = evaluate_person("P1", fact_set(order_chain(None)), POLICIES).claims
    after = evaluate_person("P1", fact_set(order_chain(DEPARTMENT)), POLICIES).claims
    for state in (ClaimState.DECLARED, ClaimState.VERIFIED, ClaimState.APPROVED):
        declared = {TR: stored(before[TR], state=state)}
        assert claim_changes(declared, {TR: after[TR]}) == [VoidFrozen(declared[TR], after[TR])]
    paid = {TR: stored(before[TR], state=ClaimState.PAID)}
    assert claim_changes(paid, {TR: after[TR]}) == []
    assert not any(isinstance(c, OpenRecovery) for c in claim_changes(paid, {TR: after[TR]}))


# ---- the real consumer and database -------------------------------------------------------------------------------

async def reset(ss) -> None:
    await ss.wipe(Base.metadata)
    await seed_policy_tables(ss.runtime.sessionmaker)


async def chain_answer(ss) -> dict:
    r = await ss.client.get("/v1/chains/V1", headers=ss.headers("bureau"))
    assert r.status_code == 200, r.text
    return r.json()


def claim_events(events) -> list[dict]:
    return [json.loads(body)["data"] | {"type": t} for t, body in events if t.startswith("subsidy.claim_")]


def db_snapshot(found) -> dict:
    return {k: (c.state, c.amount, tuple(c.rule_ids), c.reason_code, c.quota_slot, c.level_slot, c.reason_zh, c.lines)
            for k, c in found.items()}


RECORD_ONLY_ROW = ("void", Decimal("0.00"), ("S9",), "industry_department_funded", None, None, S9_ZH, [])


async def test_S9_a_whole_chain_through_a_department_class_pays_nothing_and_the_chain_answer_shows_why(ss):
    await feed(ss, order_chain(DEPARTMENT))
    assert db_snapshot(await claims(ss)) == {TR: RECORD_ONLY_ROW, LA: RECORD_ONLY_ROW, EV: RECORD_ONLY_ROW}
    # nothing ever became eligible: the claims drafted at the voucher's issue (waiting) were voided citing S9
    events = claim_events(await outbox_events(ss))
    assert sorted((e["type"], e["claim_type"], e["reason_code"], e["state"]) for e in events) == [
        ("subsidy.claim_voided.v1", kind, "industry_department_funded", "void")
        for kind in ("living_allowance", "training")]
    body = await chain_answer(ss)
    assert body["status"] == "broken"
    [link] = [link for link in body["links"] if link["name"] == "funding"]
    assert (link["label"], link["status"], link["code"], link["zh"], link["en"], link["note"]) == (
        "经费来源", "broken", "industry_department_funded", S9_ZH, S9_EN, S9_NOTE)
    assert body["problems"] == [{"code": "industry_department_funded", "zh": S9_ZH, "en": S9_EN}]
    assert {(c["claim_type"], c["state"], c["amount"], c["reason"]["code"]) for c in body["claims"]} == {
        (kind, "void", "0.00", "industry_department_funded") for kind in ("training", "living_allowance")}


async def test_S9_the_same_chain_through_an_ordinary_class_yields_the_usual_amounts(ss):
    await feed(ss, order_chain(None))
    found = await claims(ss)
    assert {k: (c.state, c.amount, c.rule_ids, c.payee_type, c.payee_id) for k, c in found.items()} == {
        TR: ("eligible", Decimal("1900.00"), ["S2"], "institution", "I1"),
        LA: ("eligible", Decimal("210.00"), ["S4"], "worker", "W-P1"),
        EV: ("eligible", Decimal("400.00"), ["S8"], "evaluation_institution", "EV1"),
    }
    assert sorted((e["claim_type"], e["amount"]) for e in claim_events(await outbox_events(ss))) == [
        ("evaluation", "400.00"), ("living_allowance", "210.00"), ("training", "1900.00")]
    body = await chain_answer(ss)
    assert body["status"] == "complete" and not any(link["name"] == "funding" for link in body["links"])


async def test_S9_a_class_filing_arriving_last_voids_what_was_drafted_and_ends_in_the_same_state(ss):
    facts = order_chain(DEPARTMENT)
    [filing] = [f for f in facts if f.type == "class.opened.v1"]
    await feed(ss, facts)
    in_order = (db_snapshot(await claims(ss)), await chain_answer(ss))

    await reset(ss)
    await feed(ss, [f for f in facts if f is not filing])
    drafted = await claims(ss)
    assert {k: (c.state, c.reason_code) for k, c in drafted.items()} == {  # waiting for the class filing
        TR: ("waiting", "class_missing"), LA: ("waiting", "class_missing"), EV: ("waiting", "evaluation_no_voucher")}
    await feed(ss, [filing])
    assert db_snapshot(await claims(ss)) == in_order[0] == {TR: RECORD_ONLY_ROW, LA: RECORD_ONLY_ROW,
                                                            EV: RECORD_ONLY_ROW}
    events = claim_events(await outbox_events(ss))
    assert sorted((e["type"], e["claim_type"], e["reason_code"], e["state"]) for e in events) == [
        ("subsidy.claim_voided.v1", kind, "industry_department_funded", "void")
        for kind in ("evaluation", "living_allowance", "training")]
    reordered = await chain_answer(ss)
    unstamped = ("updated_at", "claims")
    assert {k: v for k, v in reordered.items() if k not in unstamped} == {
        k: v for k, v in in_order[1].items() if k not in unstamped}
    assert ([(c["claim_type"], c["state"], c["amount"]) for c in reordered["claims"]]
            == [(c["claim_type"], c["state"], c["amount"]) for c in in_order[1]["claims"]])
