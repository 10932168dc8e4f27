"""Property tests (hypothesis) of the pure domain: caps, monotonicity in days, and permutation plus
duplication invariance of the projection."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_service.domain.chain import evaluate_person
from subsidy_service.domain.policy import Policies, default_2023
from subsidy_service.domain.rules import s1_inclusive, s2_order, s3_project, s4_living_allowance, s6_parts, s7_caregiver

from tests.subsidy.builders import (
    fact_set,
    Clock,
    certificate,
    certificate_revoked,
    chain,
    dropped,
    evaluation_institution,
    outcome_fact,
    suspended,
    voucher_revoked,
)

TABLE = default_2023()
POLICIES = Policies([TABLE])
KINDS = ["inclusive", "order", "project", "enterprise", "entrepreneurship", "caregiver"]
days_st = st.integers(min_value=0, max_value=120)
counts = st.integers(min_value=0, max_value=50)


@st.composite
def outcomes(draw):
    completed = draw(st.integers(min_value=1, max_value=50))
    attended = draw(st.integers(min_value=completed, max_value=60))
    passed = draw(st.integers(min_value=0, max_value=attended))
    return dict(completed=completed, attended=attended, employed=draw(st.integers(0, completed)), passed=passed,
                licensed=draw(st.integers(0, passed)))


@given(days=days_st, outcome=outcomes(), limit=st.none() | st.integers(0, 60))
def test_no_amount_exceeds_its_cap(days, outcome, limit):
    from fractions import Fraction

    assert s1_inclusive(TABLE, days).amount <= TABLE.s1.cap
    rate = Fraction(outcome["employed"], outcome["completed"])
    assert s2_order(TABLE, days, rate, limit).amount <= TABLE.s2.cap
    assert s3_project(TABLE, days, None).amount <= TABLE.s3.default.cap
    first, rest = s6_parts(TABLE, days)
    assert first.amount + rest.amount <= TABLE.s6.cap
    assert first.amount + rest.amount == min(Decimal(days) * TABLE.s6.daily_rate, TABLE.s6.cap)
    assert s7_caregiver(TABLE, days).amount <= TABLE.s7.cap
    for computed in (s1_inclusive(TABLE, days), s2_order(TABLE, days, rate, limit), first, rest,
                     s4_living_allowance(TABLE, days)):
        assert computed.amount >= 0 and computed.amount == computed.amount.quantize(Decimal("0.01"))


@given(kind=st.sampled_from(KINDS), days=st.integers(0, 80), outcome=outcomes(), limit=st.none() | st.integers(0, 40),
       e3=st.booleans())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_amounts_never_decrease_with_more_attended_days(kind, days, outcome, limit, e3):
    def amounts(d):
        facts = chain(kind=kind, days=d, outcome=outcome, day_limit=limit, e3=e3,
                      cert_type="entrepreneurship_training" if kind == "entrepreneurship" else "skill_level")
        claims = evaluate_person("P1", fact_set(facts), POLICIES).claims
        return {k: c.amount for k, c in claims.items()}

    fewer, more = amounts(days), amounts(days + 1)
    assert fewer.keys() == more.keys()
    for key in fewer:
        assert more[key] >= fewer[key], key
    caps = {"inclusive": TABLE.s1.cap, "order": TABLE.s2.cap, "project": TABLE.s3.default.cap,
            "enterprise": TABLE.s5.per_person, "caregiver": TABLE.s7.cap}
    if kind in caps:
        assert more["training:V1:main"] <= caps[kind]
    else:
        assert more["training:V1:S6-80"] + more["training:V1:S6-20"] <= TABLE.s6.cap


@st.composite
def person_histories(draw):
    """Facts of one person's one or two chains plus disturbances: revocations, restated outcomes,
    a second certificate, a suspension."""
    clock = Clock()
    kind = draw(st.sampled_from(KINDS))
    facts = chain(kind=kind, days=draw(st.integers(0, 15)), e3=draw(st.booleans()), clock=clock,
                  realname=draw(st.sampled_from(["accepted", "rejected", None])),
                  cert_type="entrepreneurship_training" if kind == "entrepreneurship" else "skill_level",
                  outcome=draw(st.none() | outcomes()))
    if draw(st.booleans()):
        kind2 = draw(st.sampled_from(["inclusive", "order", "project"]))
        facts += chain(voucher="V2", enrolment="E2", klass="C2", kind=kind2, days=draw(st.integers(1, 15)),
                       certificate="CERT2", level=draw(st.sampled_from([5, 4])), clock=clock,
                       completed_on=date(2023, 6, 1) + timedelta(days=draw(st.integers(0, 30))),
                       outcome=draw(st.none() | outcomes()))
    if draw(st.booleans()):  # the class outcome restated: the newer report must win whatever the order
        facts.append(outcome_fact("C1", "I1", kind, clock, **draw(outcomes())))
    if draw(st.booleans()):
        facts.append(certificate("P1", "CERT3", clock, level=5, issued_on=date(2023, 6, 25)))
    if draw(st.booleans()):
        facts.append(voucher_revoked("P1", draw(st.sampled_from(["V1", "V2"])), clock))
    if draw(st.booleans()):
        facts.append(certificate_revoked("P1", draw(st.sampled_from(["CERT1", "CERT2", "CERT3"])), clock))
    if draw(st.booleans()):
        facts.append(suspended("I1", clock))
    if draw(st.booleans()):  # a drop-out, then maybe a re-enrolment of the same voucher in another class
        facts.append(dropped("P1", "V1", "E1", clock))
        if draw(st.booleans()):
            facts += [f for f in chain(enrolment="E9", klass="C9", kind=kind, days=draw(st.integers(1, 15)),
                                       certificate="CERT9", clock=clock, start=date(2023, 7, 1),
                                       completed_on=date(2023, 7, 20), cert_on=date(2023, 7, 25))
                      if f.kind != "voucher"]
    for _ in range(draw(st.integers(0, 2))):  # an evaluation institution's status snapshots, newest wins
        facts.append(evaluation_institution("EV1", draw(st.sampled_from(["active", "suspended", "revoked"])), clock))
    return facts


def projection(facts):
    result = evaluate_person("P1", fact_set(facts), POLICIES)
    claims = {
        k: (c.state, c.amount, c.rule_ids, c.reason.code if c.reason else None, c.quota_slot, c.level_slot,
            tuple(line.text for line in c.lines), c.payee_id, c.table_version)
        for k, c in result.claims.items()
    }
    chains = {k: (v.status, v.links) for k, v in result.chains.items()}
    return claims, chains


@given(facts=person_histories(), data=st.data())
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_projection_is_invariant_under_permutation_and_duplication(facts, data):
    expected = projection(facts)
    duplicates = data.draw(st.lists(st.sampled_from(facts), max_size=len(facts)))
    shuffled = data.draw(st.permutations(facts + duplicates))
    assert projection(shuffled) == expected
