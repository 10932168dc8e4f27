"""Property tests (hypothesis) of the pure domain: caps, monotonicity in days, and permutation plus
duplication invariance of the projection (province answers as sheets with a verdict per line, as single
records and as class records included, P1)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_service.domain.chain import evaluate_person
from subsidy_service.domain.policy import Policies, PolicyTable, default_2023
from subsidy_service.domain.rules import s1_inclusive, s2_order, s3_project, s4_living_allowance, s6_parts, s7_caregiver

from tests.subsidy.builders import (
    fact_set,
    Clock,
    certificate,
    certificate_revoked,
    chain,
    dropped,
    line,
    sheet_answer,
    single_answer,
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
    assert s2_order(TABLE, days, rate, "4-10-01-01", 5, limit).amount <= TABLE.s2.cap
    assert s3_project(TABLE, days, None).amount <= TABLE.s3.default.cap
    first, rest = s6_parts(TABLE, days)
    assert first.amount + rest.amount <= TABLE.s6.cap
    assert first.amount + rest.amount == min(Decimal(days) * TABLE.s6.daily_rate, TABLE.s6.cap)
    assert s7_caregiver(TABLE, days).amount <= TABLE.s7.cap
    for computed in (s1_inclusive(TABLE, days), s2_order(TABLE, days, rate, "4-10-01-01", 5, limit), first, rest,
                     s4_living_allowance(TABLE, days)):
        assert computed.amount >= 0 and computed.amount == computed.amount.quantize(Decimal("0.01"))


money_st = st.decimals(min_value=0, max_value=9999, places=2, allow_nan=False, allow_infinity=False)
share_st = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def configured_tables(draw):
    """Any table the bureau could publish (rates, caps, gates and shares within their schema)."""
    return PolicyTable.model_validate({
        **TABLE.model_dump(),
        "s1": {"daily_rate": draw(money_st), "cap": draw(money_st)},
        "s2": {"first_days": draw(st.integers(0, 30)), "first_rate": draw(money_st), "later_rate": draw(money_st),
               "cap": draw(money_st), "employment_gate": draw(share_st)},
        "s3": {"default": {"daily_rate": draw(money_st), "cap": draw(money_st)}},
        "s4": {"daily_rate": draw(money_st), "cap": draw(money_st)},
        "s6": {"daily_rate": draw(money_st), "cap": draw(money_st), "first_part_share": draw(share_st)},
        "s7": {"daily_rate": draw(money_st), "cap": draw(money_st)},
    })


@given(table=configured_tables(), days=days_st, outcome=outcomes(), limit=st.none() | st.integers(0, 60))
@settings(max_examples=200, deadline=None)
def test_no_amount_exceeds_its_cap_in_any_configured_table(table, days, outcome, limit):
    from fractions import Fraction

    rate = Fraction(outcome["employed"], outcome["completed"])
    first, rest = s6_parts(table, days)
    checked = [
        (s1_inclusive(table, days), table.s1.cap),
        (s2_order(table, days, rate, "4-10-01-01", 5, limit), max(table.s2.cap, table.s1.cap)),  # below the gate: S1
        (s3_project(table, days, None), table.s3.default.cap),
        (s4_living_allowance(table, days), table.s4.cap),
        (s7_caregiver(table, days), table.s7.cap),
    ]
    for computed, cap in checked:
        assert Decimal(0) <= computed.amount <= cap
        assert computed.amount == computed.amount.quantize(Decimal("0.01"))
    assert first.amount + rest.amount == min(Decimal(days) * table.s6.daily_rate, table.s6.cap).quantize(Decimal("0.01"))
    if rate >= Fraction(table.s2.employment_gate):
        assert s2_order(table, days, rate, "4-10-01-01", 5, limit).amount <= table.s2.cap


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
                  realname=draw(st.sampled_from(["accepted", "rejected", None])), realname_sheet=draw(st.booleans()),
                  cert_type="entrepreneurship_training" if kind == "entrepreneurship" else "skill_level",
                  outcome=draw(st.none() | outcomes()))
    if draw(st.booleans()):
        kind2 = draw(st.sampled_from(["inclusive", "order", "project"]))
        facts += chain(voucher="V2", enrolment="E2", klass="C2", kind=kind2, days=draw(st.integers(1, 15)),
                       certificate="CERT2", level=draw(st.sampled_from([5, 4])), clock=clock,
                       completed_on=date(2023, 6, 1) + timedelta(days=draw(st.integers(0, 30))),
                       outcome=draw(st.none() | outcomes()),
                       department=draw(st.none() | st.just("县农业农村局")))  # S9: record only
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
    for _ in range(draw(st.integers(0, 3))):  # more province verdicts (P1): newest per (record type, enrolment)
        facts.append(draw(province_answers(clock, facts)))
    for _ in range(draw(st.integers(0, 2))):  # an evaluation institution's status snapshots, newest wins
        facts.append(evaluation_institution("EV1", draw(st.sampled_from(["active", "suspended", "revoked"])), clock))
    return facts


VERDICTS = st.sampled_from([("accepted", None), ("rejected", "identity_mismatch"),
                            ("rejected", "trained_elsewhere_this_year")])


@st.composite
def province_answers(draw, clock, facts):
    """A later (or, at the time of an earlier fact, tied) province answer: a trainee or completion sheet of a
    class with P1's line among other trainees' lines (or only theirs), a single trainee or completion record,
    or a class record."""
    record = draw(st.sampled_from(["trainee", "completion"]))
    klass, enrolment = draw(st.sampled_from([("C1", "E1"), ("C2", "E2"), ("C9", "E9")]))
    at = draw(st.none() | st.sampled_from([f.time for f in facts]))
    form = draw(st.sampled_from(["sheet", "single", "class"]))
    if form == "sheet":
        others = [line(f"E-{klass}-{n}", f"P-{n}", *draw(VERDICTS)) for n in range(draw(st.integers(0, 3)))]
        mine = [line(enrolment, "P1", *draw(VERDICTS))] if draw(st.booleans()) else []
        lines = draw(st.permutations(others + mine))
        return sheet_answer(f"S-{record}s-{klass}-{clock.n}", record, klass, lines, clock, at=at)
    verdict, reason = draw(VERDICTS)
    if form == "single":
        return single_answer(f"S-{enrolment}-{clock.n}", record, klass, clock, enrolment=enrolment, person="P1",
                             verdict=verdict, reason=reason, at=at)
    return single_answer(f"S-class-{klass}-{clock.n}", "class", klass, clock, verdict=verdict, reason=reason, at=at)


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


@given(facts=person_histories(), data=st.data())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_sheet_lines_about_other_trainees_change_nothing(facts, data):
    """P1: a sheet's lines are verdicts on their own trainees only; its own verdict is no class-level answer."""
    clock = Clock()
    clock.n = 10_000
    lines = [line(f"E-other-{n}", f"P-{n}", *data.draw(VERDICTS)) for n in range(data.draw(st.integers(0, 4)))]
    sheet = sheet_answer("S-others", data.draw(st.sampled_from(["trainee", "completion"])),
                         data.draw(st.sampled_from(["C1", "C2", "C9"])), lines, clock)
    assert projection(facts + [sheet]) == projection(facts)


def test_a_sheet_naming_an_enrolment_twice_counts_its_rejection():
    """Any rejection breaks the link (P1): whichever order a sheet lists two verdicts on one trainee in."""
    for lines in ([line("E1", "P1"), line("E1", "P1", "rejected", "identity_mismatch")],
                  [line("E1", "P1", "rejected", "identity_mismatch"), line("E1", "P1")]):
        clock = Clock()
        facts = chain(realname=None, clock=clock) + [sheet_answer("S-trainees-C1", "trainee", "C1", lines, clock)]
        claims, chains = projection(facts)
        assert claims["training:V1:main"][:4] == (
            "rejected", Decimal("500.00"), ("S1",), "realname_rejected")
        assert [(f.key, f.payload.verdict.value) for f in fact_set(facts).of("realname")] == [
            ("S-trainees-C1|E1", "rejected")]
