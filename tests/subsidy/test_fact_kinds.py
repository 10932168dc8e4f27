"""The one table of fact kinds (`domain.facts.FACT_KINDS`): the scope each fact is locked in and read around,
pure — a class-level fact takes its scope exclusively, a fact linking a person to it shares it (P1 province
answers by enrolment or by class)."""

from __future__ import annotations

from subsidy_service.adapters.locks import scopes_of
from subsidy_service.domain.facts import CLASS, ENROLMENT, EVALUATOR, INSTITUTION, FACT_KEYS, FACT_KINDS, scope_of

from tests.subsidy.builders import (
    Clock,
    as_facts,
    certificate,
    chain,
    evaluation_institution,
    outcome_fact,
    sheet_answer,
    line,
    single_answer,
    suspended,
)


def test_every_event_type_has_one_kind_and_key():
    assert len(FACT_KEYS) == sum(len(kind.events) for kind in FACT_KINDS.values())
    assert FACT_KEYS["province.realname.answered.v1"] == ("realname", ("submission_id", "enrolment_id", "version"))
    assert FACT_KEYS["province.realname.notified.v1"] == ("realname", ("notice_id",))


def test_a_fact_without_a_person_locks_its_narrowest_scope_exclusively():
    clock = Clock()
    cases = [
        (outcome_fact("C1", "I1", "order", clock), (CLASS, "C1"), ["class:C1"]),
        (single_answer("S1", "class", "C1", clock), (CLASS, "C1"), ["class:C1"]),
        (single_answer("S2", "trainee", "C1", clock, enrolment="E1"), (ENROLMENT, "E1"), ["enrolment:E1"]),
        (suspended("I1", clock), (INSTITUTION, "I1"), ["institution:I1"]),
        (evaluation_institution("EV1", "revoked", clock), (EVALUATOR, "EV1"), ["evaluation_institution:EV1"]),
    ]
    for fact, scope, locks in cases:
        assert (scope_of(fact), scopes_of(fact)) == (scope, (locks, True)), fact.type


def test_a_persons_fact_shares_the_scopes_it_links_the_person_to():
    clock = Clock()
    facts = {f.kind: f for f in as_facts(chain(clock=clock, outcome=None))}
    assert scopes_of(facts["enrolled"]) == (["class:C1", "institution:I1", "enrolment:E1"], False)
    assert scopes_of(facts["bound"]) == (["class:C1", "institution:I1", "enrolment:E1"], False)
    assert scopes_of(facts["completed"]) == (["class:C1", "enrolment:E1"], False)  # names no institution
    assert scopes_of(certificate("P1", "CERT9", clock)) == (["evaluation_institution:EV1"], False)
    (sheet_line,) = as_facts([sheet_answer("S3", "trainee", "C1", [line("E1", "P1")], clock)])
    for fact in (facts["voucher"], sheet_line):  # a sheet's line names its person: the person's own fact
        assert (scope_of(fact), scopes_of(fact)) == (None, ([], False)), fact.kind
