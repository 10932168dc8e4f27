"""Golden cases derived by hand from RULES.md: inputs, expected state, amount to the fen, rule ids.

Each row is one scenario; the amounts were worked out on paper from the rule text (see
docs/subsidy-service.md, "The golden table"). Keys: training:<voucher>:<part>, living_allowance:<voucher>:main,
evaluation:<certificate>:main.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

import pytest

from subsidy_service.domain.chain import evaluate_person
from subsidy_service.domain.policy import Policies, PolicyTable, default_2023

from tests.subsidy.builders import (
    fact_set,
    Clock,
    binding_rejected,
    enrolment_rejected,
    certificate,
    certificate_revoked,
    category_review,
    chain,
    dropped,
    evaluation_institution,
    expired,
    fact,
    suspended,
    voucher_revoked,
)
from subsidy_service.domain.facts import REVIEW_TYPE, ClaimReview, Fact

TR = "training:V1:main"
EV = "evaluation:CERT1:main"
LA = "living_allowance:V1:main"


def table_2023(**changes) -> PolicyTable:
    data = default_2023().model_dump()
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for p in parents:
            target = target[p]
        target[last] = value
    return PolicyTable.model_validate(data)


@dataclass
class Case:
    id: str
    facts: Callable[[], list]
    expect: dict[str, tuple[str, str, tuple[str, ...]] | None]  # None: no such claim
    tables: Callable[[], list[PolicyTable]] = lambda: [default_2023()]
    reason: dict[str, str] | None = None  # claim key -> reason code


def two_vouchers(kind1: str, kind2: str, year2: int = 2023) -> list:
    clock = Clock()
    return chain(kind=kind1, days=5, clock=clock, outcome=dict(completed=10, employed=9)) + chain(
        voucher="V2", enrolment="E2", klass="C2", kind=kind2, days=6, year=year2, certificate="CERT2",
        completed_on=date(year2, 7, 15), start=date(year2, 7, 1), cert_on=date(year2, 7, 20), level=4,
        bound_at=datetime(year2, 6, 20, tzinfo=timezone.utc), clock=clock,
        outcome=dict(completed=10, employed=9))


def with_review(approved: bool) -> list:
    clock = Clock()
    facts = chain(days=5, clock=clock) + [suspended("I1", clock)]
    facts.append(Fact(REVIEW_TYPE, "review-1", clock.tick(),
                      ClaimReview(claim_key=TR, approved=approved, reason=None if approved else "材料造假",
                                  reviewed_by="bureau-1")))
    return facts


def same_level_twice() -> list:
    clock = Clock()
    return chain(clock=clock) + [certificate("P1", "CERT2", clock, issued_on=date(2023, 7, 1))]


def two_levels() -> list:
    clock = Clock()
    return chain(clock=clock) + [certificate("P1", "CERT2", clock, level=4, issued_on=date(2023, 7, 1))]


def revoked_voucher() -> list:
    clock = Clock()
    return chain(clock=clock) + [voucher_revoked("P1", "V1", clock)]


def revoked_certificate() -> list:
    clock = Clock()
    return chain(clock=clock) + [certificate_revoked("P1", "CERT1", clock)]


def dropped_out() -> list:
    clock = Clock()
    return chain(clock=clock, days=None) + [dropped("P1", "V1", "E1", clock)]


def expired_unused() -> list:
    clock = Clock()
    facts = [f for f in chain(clock=clock, cert_type=None) if f.kind == "voucher"]
    return facts + [expired("P1", "V1", clock)]


def re_enrolled() -> list:
    """E1 bound then dropped (the voucher is released); E2 in another class on the same voucher completes."""
    clock = Clock()
    first = [f for f in chain(clock=clock, days=None, cert_type=None, realname=None) if f.kind != "voucher"]
    second = chain(enrolment="E2", klass="C2", days=7, clock=clock, start=date(2023, 7, 1),
                   completed_on=date(2023, 7, 15), cert_on=date(2023, 7, 20),
                   bound_at=datetime(2023, 6, 25, tzinfo=timezone.utc))
    return first + [dropped("P1", "V1", "E1", clock)] + second


def e3_twice() -> list:
    clock = Clock()
    return chain(days=5, e3=True, clock=clock) + chain(
        voucher="V2", enrolment="E2", klass="C2", days=6, e3=True, certificate="CERT2", level=4,
        completed_on=date(2023, 7, 15), start=date(2023, 7, 1), cert_on=date(2023, 7, 20), clock=clock)


def rejected_binding() -> list:
    clock = Clock()
    facts = [f for f in chain(clock=clock) if f.kind != "bound"]
    return facts + [binding_rejected("P1", "V1", "E1", clock)]


def rejected_enrolment() -> list:
    clock = Clock()
    return chain(clock=clock) + [enrolment_rejected("P1", "V1", "E1", clock)]


def class_record_rejected() -> list:
    from skillkit.contracts.province import RealnameAnswered

    clock = Clock()
    return chain(clock=clock) + [fact(RealnameAnswered(
        submission_id="S-class", record_type="class", class_id="C1", verdict="rejected",
        reason="trained_elsewhere_this_year"), clock)]


def kind_mismatch() -> list:
    from skillkit.contracts.training import ClassOpened

    clock = Clock()
    facts = chain(clock=clock)
    opened = next(f for f in facts if f.kind == "class")
    wrong = ClassOpened(**{**opened.payload.model_dump(), "kind": "caregiver"})
    return [f for f in facts if f.kind != "class"] + [fact(wrong, clock)]


def orphan_certificate(free_student: bool) -> list:
    return [certificate("P1", "CERT1", Clock(), free_student=free_student)]


OUTCOME_80 = dict(completed=10, employed=8)


def founder(licence_issued_on: date) -> list:
    """E2: a founder (and nothing else) on an SYB course, enrolled on 2023-03-01 (the builders' clock), licence
    confirmed with its issue date."""
    clock = Clock()
    facts = chain(kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training",
                  outcome=dict(attended=10, passed=10, licensed=2), categories=["new_business_founder"],
                  confirmed=False, clock=clock)
    return facts + [category_review("P1", "new_business_founder", clock, licence_issued_on=licence_issued_on)]
STAGED = {"XM-STAGED": {"daily_rate": "120", "cap": "2000", "stages": [
    {"code": "enrolment_verified", "share": "0.30"}, {"code": "completion", "share": "0.50"},
    {"code": "employment", "share": "0.20", "employment_months": 6}]}}


def employed(months: int) -> list:
    from skillkit.contracts.training import TrainingEmploymentRecorded

    clock = Clock()
    return [fact(TrainingEmploymentRecorded(enrolment_id="E1", voucher_id="V1", person_key="P1",
                                            employer="太原市康养服务有限公司", employed_on=date(2023, 7, 1),
                                            contract_months=months), clock)]
CASES = [
    # S1 inclusive: 100 per day, at most 1,000 (3, 10, 11 days)
    Case("S1_1_day", lambda: chain(days=1), {TR: ("eligible", "100.00", ("S1",))}),
    Case("S1_3_days", lambda: chain(days=3), {TR: ("eligible", "300.00", ("S1",))}),
    Case("S1_10_days_exactly_the_cap", lambda: chain(days=10), {TR: ("eligible", "1000.00", ("S1",))}),
    Case("S1_11_days_capped", lambda: chain(days=11), {TR: ("eligible", "1000.00", ("S1",))}),
    # A day beyond the class's plan is not subsidised (its check-in stays on record)
    Case("S1_10_attended_of_5_planned_pays_5", lambda: chain(days=10, planned_days=5), {TR: ("eligible", "500.00", ("S1",))}),
    Case("S4_10_attended_of_5_planned_pays_5", lambda: chain(days=10, planned_days=5, e3=True),
         {LA: ("eligible", "75.00", ("S4",))}),
    Case("S2_16_attended_of_12_planned_pays_12", lambda: chain(kind="order", days=16, planned_days=12, outcome=OUTCOME_80),
         {TR: ("eligible", "1700.00", ("S2",))}),
    # S1 "usually 3–10 days": outside it the class waits for the bureau's approval (with a reason), then pays
    Case("S1_12_planned_days_wait_for_the_bureau", lambda: chain(days=12, days_reason="山区学员分散，需延长实操"),
         {TR: ("waiting", "1000.00", ("S1",))}, reason={TR: "class_days_approval_missing"}),
    Case("S1_12_planned_days_approved_pays_the_cap", lambda: chain(days=12, days_reason="山区学员分散，需延长实操",
                                                                   approved=True),
         {TR: ("eligible", "1000.00", ("S1",))}),
    Case("S1_2_planned_days_refused_by_the_bureau", lambda: chain(days=2, days_reason="农忙季节短期班", approved=False),
         {TR: ("rejected", "200.00", ("S1",))}, reason={TR: "class_not_approved"}),
    Case("S1_0_days_rejected", lambda: chain(days=0), {TR: ("rejected", "0.00", ("S1",))},
         reason={TR: "no_attended_days"}),
    # S2 order: 150/day first 10 days, then 100/day, cap 4,000, >= 80 % employment (inclusive)
    Case("S2_3_days", lambda: chain(kind="order", days=3, outcome=OUTCOME_80), {TR: ("eligible", "450.00", ("S2",))}),
    Case("S2_10_days", lambda: chain(kind="order", days=10, outcome=OUTCOME_80), {TR: ("eligible", "1500.00", ("S2",))}),
    Case("S2_11_days", lambda: chain(kind="order", days=11, outcome=OUTCOME_80), {TR: ("eligible", "1600.00", ("S2",))}),
    Case("S2_14_days_exactly_80_percent", lambda: chain(kind="order", days=14, outcome=OUTCOME_80),
         {TR: ("eligible", "1900.00", ("S2",))}),
    Case("S2_order_fallback_at_79_9_percent", lambda: chain(kind="order", days=14, outcome=dict(completed=1000, employed=799)),
         {TR: ("eligible", "1000.00", ("S2", "S1"))}),
    Case("S2_order_fallback_below_80_percent_5_days", lambda: chain(kind="order", days=5, outcome=dict(completed=10, employed=7)),
         {TR: ("eligible", "500.00", ("S2", "S1"))}),
    Case("S2_cap_4000", lambda: chain(kind="order", days=40, outcome=dict(completed=10, employed=10)),
         {TR: ("eligible", "4000.00", ("S2",))}),
    Case("S2_29_days_just_under_cap", lambda: chain(kind="order", days=29, outcome=OUTCOME_80),
         {TR: ("eligible", "3400.00", ("S2",))}),
    Case("S2_subsidised_day_limit_12_of_20", lambda: chain(kind="order", days=20, day_limit=12, outcome=OUTCOME_80),
         {TR: ("eligible", "1700.00", ("S2",))}),
    Case("S2_subsidised_day_limit_8", lambda: chain(kind="order", days=9, day_limit=8, outcome=OUTCOME_80),
         {TR: ("eligible", "1200.00", ("S2",))}),
    # ... and the bureau's limits in the year's table (occupation/level first, then occupation) over the class's
    Case("S2_table_day_limit_overrides_the_class", lambda: chain(kind="order", days=20, day_limit=12, outcome=OUTCOME_80),
         {TR: ("eligible", "2000.00", ("S2",))}, tables=lambda: [table_2023(s2__day_limits={"4-10-01-01/5": 15})]),
    Case("S2_table_day_limit_for_every_level", lambda: chain(kind="order", days=9, outcome=OUTCOME_80),
         {TR: ("eligible", "900.00", ("S2",))}, tables=lambda: [table_2023(s2__day_limits={"4-10-01-01": 6})]),
    Case("S2_table_day_limit_of_another_level_does_not_apply", lambda: chain(kind="order", days=9, outcome=OUTCOME_80),
         {TR: ("eligible", "1350.00", ("S2",))}, tables=lambda: [table_2023(s2__day_limits={"4-10-01-01/4": 6})]),
    Case("S2_table_day_limit_of_the_level_before_the_occupations",
         lambda: chain(kind="order", days=20, outcome=OUTCOME_80), {TR: ("eligible", "1700.00", ("S2",))},
         tables=lambda: [table_2023(s2__day_limits={"4-10-01-01/5": 12, "4-10-01-01": 6})]),
    Case("S2_waits_for_class_outcome", lambda: chain(kind="order", days=14), {TR: ("waiting", "0.00", ())},
         reason={TR: "outcome_missing"}),
    Case("S2_class_not_approved", lambda: chain(kind="order", days=14, approved=False, outcome=OUTCOME_80),
         {TR: ("rejected", "1900.00", ("S2",))}, reason={TR: "class_not_approved"}),
    # S3 project: per-project rates, a default otherwise
    Case("S3_default_rate", lambda: chain(kind="project", days=5), {TR: ("eligible", "500.00", ("S3",))}),
    Case("S3_project_rate", lambda: chain(kind="project", days=10, project="XM-2023-01"),
         {TR: ("eligible", "1200.00", ("S3",))},
         tables=lambda: [table_2023(s3__projects={"XM-2023-01": {"daily_rate": "120", "cap": "2000"}})]),
    Case("S3_project_rate_capped", lambda: chain(kind="project", days=20, project="XM-2023-01"),
         {TR: ("eligible", "2000.00", ("S3",))},
         tables=lambda: [table_2023(s3__projects={"XM-2023-01": {"daily_rate": "120", "cap": "2000"}})]),
    # S3 staged settlement: a claim line per stage when its condition is met (30 % / 50 % / 20 % of 10 × 120)
    Case("S3_stages_all_met", lambda: chain(kind="project", days=10, project="XM-STAGED") + employed(12),
         {"training:V1:S3-1": ("eligible", "360.00", ("S3",)), "training:V1:S3-2": ("eligible", "600.00", ("S3",)),
          "training:V1:S3-3": ("eligible", "240.00", ("S3",)), TR: None},
         tables=lambda: [table_2023(s3__projects=STAGED)]),
    Case("S3_enrolment_stage_paid_before_completion", lambda: chain(kind="project", days=None, planned_days=10,
                                                                    project="XM-STAGED", cert_type=None),
         {"training:V1:S3-1": ("eligible", "360.00", ("S3",)), "training:V1:S3-2": ("waiting", "600.00", ("S3",)),
          "training:V1:S3-3": ("waiting", "240.00", ("S3",))},
         tables=lambda: [table_2023(s3__projects=STAGED)], reason={"training:V1:S3-2": "completion_missing"}),
    Case("S3_employment_stage_waits_for_a_long_enough_contract",
         lambda: chain(kind="project", days=10, project="XM-STAGED") + employed(3),
         {"training:V1:S3-2": ("eligible", "600.00", ("S3",)), "training:V1:S3-3": ("waiting", "240.00", ("S3",))},
         tables=lambda: [table_2023(s3__projects=STAGED)], reason={"training:V1:S3-3": "employment_missing"}),
    # S4 living allowance: 15 per day, E3 only, paid to the worker
    Case("S4_poverty_alleviated_worker_7_days", lambda: chain(days=7, e3=True),
         {TR: ("eligible", "700.00", ("S1",)), LA: ("eligible", "105.00", ("S4",))}),
    Case("S4_uncapped_by_S1_11_days", lambda: chain(days=11, e3=True),
         {TR: ("eligible", "1000.00", ("S1",)), LA: ("eligible", "165.00", ("S4",))}),
    Case("S4_not_for_non_E3_worker", lambda: chain(days=7), {LA: None}),
    # S4 follows the mission's chain: no certificate, no allowance — unless a table relaxes it (who did is recorded)
    Case("S4_requires_the_certificate_by_default", lambda: chain(days=4, e3=True, cert_type=None),
         {TR: ("waiting", "400.00", ("S1",)), LA: ("waiting", "60.00", ("S4",))}, reason={LA: "certificate_missing"}),
    Case("S4_relaxed_by_a_table_pays_without_certificate", lambda: chain(days=4, e3=True, cert_type=None),
         {TR: ("waiting", "400.00", ("S1",)), LA: ("eligible", "60.00", ("S4",))},
         tables=lambda: [table_2023(s4__requires_certificate=False)]),
    Case("S4_does_not_wait_for_the_class_outcome", lambda: chain(kind="order", days=4, e3=True),
         {TR: ("waiting", "0.00", ()), LA: ("eligible", "60.00", ("S4",))}, reason={TR: "outcome_missing"}),
    # S5 enterprise on-the-job: 300 per employee
    Case("S5_enterprise_flat", lambda: chain(kind="enterprise", days=3), {TR: ("eligible", "300.00", ("S5",))}),
    Case("S5_class_naming_no_enterprise_waits", lambda: chain(kind="enterprise", days=3, enterprise=None),
         {TR: ("waiting", "300.00", ("S5",))}, reason={TR: "enterprise_not_named"}),
    # S6 entrepreneurship: 180/day cap 1,800; 80 % at pass rate >= 80 %, 20 % at licences >= 20 % of passed
    Case("S6_exactly_80_pass_exactly_20_licence", lambda: chain(
        kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training",
        outcome=dict(attended=25, passed=20, licensed=4)),
        {"training:V1:S6-80": ("eligible", "1440.00", ("S6",)), "training:V1:S6-20": ("eligible", "360.00", ("S6",)),
         EV: None}),
    # S6 two parts at their own times: the 80 % part on the pass rate alone while the licence window is open; the
    # 20 % part waits inside the window, is paid the moment licences reach 20 %, and is refused when it closes short
    Case("S6_pass_exactly_80_licence_below_20_window_open", lambda: chain(
        kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=8, licensed=1, follow_up_open=True, closes_on=date(2023, 12, 15))),
        {"training:V1:S6-80": ("eligible", "1440.00", ("S6",)), "training:V1:S6-20": ("waiting", "360.00", ("S6",))},
        reason={"training:V1:S6-20": "licence_follow_up_open"}),
    Case("S6_80_part_paid_before_any_licence", lambda: chain(
        kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=9, licensed=0, follow_up_open=True, closes_on=date(2023, 12, 15))),
        {"training:V1:S6-80": ("eligible", "1440.00", ("S6",)), "training:V1:S6-20": ("waiting", "360.00", ("S6",))}),
    Case("S6_20_part_eligible_inside_the_window_at_20_percent", lambda: chain(
        kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=10, licensed=2, follow_up_open=True, closes_on=date(2023, 12, 15))),
        {"training:V1:S6-80": ("eligible", "1440.00", ("S6",)), "training:V1:S6-20": ("eligible", "360.00", ("S6",))}),
    Case("S6_window_closed_short_of_20_percent_rejects_the_rest", lambda: chain(
        kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=8, licensed=1)),
        {"training:V1:S6-80": ("eligible", "1440.00", ("S6",)), "training:V1:S6-20": ("rejected", "360.00", ("S6",))},
        reason={"training:V1:S6-20": "licence_rate_below"}),
    Case("S6_online_platform_fee_with_the_first_part", lambda: chain(
        kind="entrepreneurship", course="online", days=3, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=10, licensed=5)),
        {"training:V1:S6-80": ("eligible", "482.00", ("S6",)), "training:V1:S6-20": ("eligible", "108.00", ("S6",))},
        tables=lambda: [table_2023(s6__online_platform_fee="50")]),
    Case("S6_platform_fee_only_for_online_courses", lambda: chain(
        kind="entrepreneurship", course="SYB", days=3, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=10, licensed=5)),
        {"training:V1:S6-80": ("eligible", "432.00", ("S6",))},
        tables=lambda: [table_2023(s6__online_platform_fee="50")]),
    Case("S6_pass_rate_79_percent_pays_nothing", lambda: chain(
        kind="entrepreneurship", course="IYB", days=10, cert_type="entrepreneurship_training",
        outcome=dict(attended=100, passed=79, licensed=40)),
        {"training:V1:S6-80": ("rejected", "1440.00", ("S6",)), "training:V1:S6-20": ("rejected", "360.00", ("S6",))},
        reason={"training:V1:S6-80": "pass_rate_below"}),
    Case("S6_cap_1800_at_12_days", lambda: chain(
        kind="entrepreneurship", course="EYB", days=12, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=9, licensed=3)),
        {"training:V1:S6-80": ("eligible", "1440.00", ("S6",)), "training:V1:S6-20": ("eligible", "360.00", ("S6",))}),
    Case("S6_3_days_split", lambda: chain(
        kind="entrepreneurship", course="online", days=3, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=10, licensed=5)),
        {"training:V1:S6-80": ("eligible", "432.00", ("S6",)), "training:V1:S6-20": ("eligible", "108.00", ("S6",))}),
    Case("S6_7_days_split", lambda: chain(
        kind="entrepreneurship", course="SYB", days=7, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=10, licensed=2)),
        {"training:V1:S6-80": ("eligible", "1008.00", ("S6",)), "training:V1:S6-20": ("eligible", "252.00", ("S6",))}),
    Case("S6_trainee_who_did_not_pass", lambda: chain(
        kind="entrepreneurship", course="SYB", days=10, passed=False, cert_type="entrepreneurship_training",
        outcome=dict(attended=10, passed=9, licensed=2)),
        {"training:V1:S6-80": ("rejected", "1440.00", ("S6",))}, reason={"training:V1:S6-80": "not_passed"}),
    # S7 caregiver: configurable (shipped as 100/day, cap 1,000)
    Case("S7_caregiver_8_days", lambda: chain(kind="caregiver", days=8), {TR: ("eligible", "800.00", ("S7",))}),
    Case("S7_caregiver_rate_from_table", lambda: chain(kind="caregiver", days=12), {TR: ("eligible", "1440.00", ("S7",))},
         tables=lambda: [table_2023(s7__daily_rate="120", s7__cap="2000")]),
    # E8 outbound: paid at the inclusive standard
    Case("E8_outbound_inclusive_12_days", lambda: chain(days=12, outbound=True), {TR: ("eligible", "1000.00", ("E8", "S1"))}),
    Case("E8_outbound_order_class_paid_as_S1", lambda: chain(kind="order", days=6, outbound=True),
         {TR: ("eligible", "600.00", ("E8", "S1"))}),
    # S8 evaluation subsidy, E5 and E7
    Case("S8_special_ability_200", lambda: chain(cert_type="special_ability", level=None),
         {EV: ("eligible", "200.00", ("S8",))}),
    Case("S8_first_special_operation_400", lambda: chain(cert_type="special_operation", level=None),
         {EV: ("eligible", "400.00", ("S8",))}),
    Case("S8_intermediate_600", lambda: chain(level=4), {EV: ("eligible", "600.00", ("S8",))}),
    Case("S8_advanced_800", lambda: chain(level=3), {EV: ("eligible", "800.00", ("S8",))}),
    Case("S8_technician_none_by_default", lambda: chain(level=2),
         {EV: ("rejected", "0.00", ("S8",)), TR: ("eligible", "500.00", ("S1",))}, reason={EV: "s8_no_amount"}),
    Case("S8_senior_technician_none_by_default", lambda: chain(level=1), {EV: ("rejected", "0.00", ("S8",))}),
    Case("S8_technician_when_configured", lambda: chain(level=2), {EV: ("eligible", "1000.00", ("S8",))},
         tables=lambda: [table_2023(s8__levels={5: "400", 4: "600", 3: "800", 2: "1000", 1: None})]),
    Case("E5_same_level_twice", same_level_twice,
         {EV: ("eligible", "400.00", ("S8",)), "evaluation:CERT2:main": ("rejected", "400.00", ("S8", "E5"))},
         reason={"evaluation:CERT2:main": "e5_limit"}),
    Case("E5_two_levels_both_paid", two_levels,
         {EV: ("eligible", "400.00", ("S8",)), "evaluation:CERT2:main": ("eligible", "600.00", ("S8",))}),
    Case("E7_free_student_evaluation_without_voucher", lambda: orphan_certificate(True),
         {EV: ("eligible", "400.00", ("S8", "E7"))}),
    Case("E6_certificate_without_voucher_waits", lambda: orphan_certificate(False), {EV: ("waiting", "400.00", ("S8", "E6"))},
         reason={EV: "evaluation_no_voucher"}),
    # E4: one inclusive and one project-or-order subsidy per person per year
    Case("E4_second_inclusive_voucher_in_a_year", lambda: two_vouchers("inclusive", "inclusive"),
         {TR: ("eligible", "500.00", ("S1",)), "training:V2:main": ("rejected", "600.00", ("S1", "E4"))},
         reason={"training:V2:main": "e4_limit"}),
    Case("E4_inclusive_and_order_both_paid", lambda: two_vouchers("inclusive", "order"),
         {TR: ("eligible", "500.00", ("S1",)), "training:V2:main": ("eligible", "900.00", ("S2",))}),
    Case("E4_project_and_order_count_together", lambda: two_vouchers("project", "order"),
         {TR: ("eligible", "500.00", ("S3",)), "training:V2:main": ("rejected", "900.00", ("S2", "E4"))}),
    Case("E4_inclusive_in_two_years_both_paid", lambda: two_vouchers("inclusive", "inclusive", year2=2024),
         {TR: ("eligible", "500.00", ("S1",)), "training:V2:main": ("eligible", "600.00", ("S1",))}),
    # Broken and incomplete chains
    Case("voucher_revoked_voids", revoked_voucher,
         {TR: ("void", "500.00", ("S1",)), EV: ("void", "400.00", ("S8",))},
         reason={TR: "voucher_revoked", EV: "voucher_revoked"}),
    Case("certificate_revoked_voids_both", revoked_certificate,
         {TR: ("void", "500.00", ("S1",)), EV: ("void", "400.00", ("S8",))}, reason={TR: "certificate_revoked"}),
    # P1 gates the training claim only: the evaluation was delivered ("培训一人，评价一人", docs/subsidy-service.md)
    Case("realname_rejected_never_paid", lambda: chain(realname="rejected"),
         {TR: ("rejected", "500.00", ("S1",)), EV: ("eligible", "400.00", ("S8",))}, reason={TR: "realname_rejected"}),
    Case("realname_missing_waits", lambda: chain(realname=None), {TR: ("waiting", "500.00", ("S1",))},
         reason={TR: "realname_missing"}),
    Case("realname_not_required_by_table", lambda: chain(realname=None), {TR: ("eligible", "500.00", ("S1",))},
         tables=lambda: [table_2023(realname_required=False)]),
    Case("certificate_of_another_occupation_waits",
         lambda: chain(cert_type=None) + [certificate("P1", "CERT1", Clock(), occupation="6-01-02-03")],
         {TR: ("waiting", "500.00", ("S1",))}, reason={TR: "certificate_missing"}),
    Case("certificate_before_class_start_waits", lambda: chain(cert_on=date(2023, 5, 31)),
         {TR: ("waiting", "500.00", ("S1",))}, reason={TR: "certificate_missing"}),
    # E6 for the evaluation too: a voucher bound after its validity was never validly used
    Case("bound_after_validity_rejected", lambda: chain(valid_until=datetime(2023, 5, 1, tzinfo=timezone.utc)),
         {TR: ("rejected", "500.00", ("S1",)), EV: ("rejected", "400.00", ("S8",))},
         reason={TR: "bound_outside_validity", EV: "bound_outside_validity"}),
    Case("completed_before_the_binding_rejected", lambda: chain(bound_at=datetime(2023, 6, 16, tzinfo=timezone.utc)),
         {TR: ("rejected", "500.00", ("S1",))}, reason={TR: "completed_before_binding"}),
    Case("completed_after_validity_rejected", lambda: chain(valid_until=datetime(2023, 6, 10, tzinfo=timezone.utc)),
         {TR: ("rejected", "500.00", ("S1",))}, reason={TR: "completed_outside_validity"}),
    Case("dropped_trainee_rejected", dropped_out, {TR: ("rejected", "0.00", ())}, reason={TR: "dropped"}),
    Case("expired_unused_voucher_void", expired_unused, {TR: ("void", "0.00", ())}, reason={TR: "voucher_expired_unused"}),
    Case("S4_follows_the_E4_rejection_of_its_training", e3_twice,
         {LA: ("eligible", "75.00", ("S4",)), "living_allowance:V2:main": ("rejected", "90.00", ("S4",)),
          "training:V2:main": ("rejected", "600.00", ("S1", "E4"))},
         reason={"living_allowance:V2:main": "training_claim_rejected"}),
    Case("binding_rejected", rejected_binding, {TR: ("rejected", "0.00", ())}, reason={TR: "binding_rejected"}),
    Case("re_enrolled_after_a_drop_out", re_enrolled,
         {TR: ("eligible", "700.00", ("S1",)), EV: ("eligible", "400.00", ("S8",))}),
    Case("enrolment_rejected", rejected_enrolment, {TR: ("rejected", "0.00", ())},
         reason={TR: "enrolment_rejected"}),
    Case("realname_class_record_rejected", class_record_rejected, {TR: ("rejected", "500.00", ("S1",))},
         reason={TR: "realname_rejected"}),
    Case("voucher_kind_differs_from_class_kind", kind_mismatch,
         {TR: ("rejected", "500.00", ("S1",)), EV: ("rejected", "400.00", ("S8",))},
         reason={TR: "kind_mismatch", EV: "kind_mismatch"}),
    Case("I3_suspended_evaluation_institution_holds_the_evaluation_claim",
         lambda: chain() + [evaluation_institution("EV1", "suspended", Clock())],
         {EV: ("held", "400.00", ("S8", "I3")), TR: ("eligible", "500.00", ("S1",))},
         reason={EV: "evaluation_institution_suspended"}),
    Case("I3_active_evaluation_institution", lambda: chain() + [evaluation_institution("EV1", "active", Clock())],
         {EV: ("eligible", "400.00", ("S8",))}),
    Case("I3_suspended_institution_held", lambda: chain(days=5) + [suspended("I1", Clock())],
         {TR: ("held", "500.00", ("S1", "I3"))}, reason={TR: "institution_suspended"}),
    # Issue 13, eligibility on evidence: a claimed category holds the money that rests on it
    Case("E3_allowance_waits_for_the_category_confirmed", lambda: chain(days=5, e3=True, confirmed=False),
         {TR: ("eligible", "500.00", ("S1",)), LA: ("waiting", "75.00", ("S4",))}, reason={LA: "category_unconfirmed"}),
    Case("E3_allowance_rejected_category", lambda: chain(days=5, e3=True, confirmed=False) + [
        category_review("P1", "poverty_alleviated_labour", Clock(), status="rejected")],
         {TR: ("eligible", "500.00", ("S1",)), LA: ("rejected", "75.00", ("S4",))}, reason={LA: "category_rejected"}),
    Case("E1_order_waits_for_the_category_confirmed", lambda: chain(kind="order", days=14, outcome=OUTCOME_80,
                                                                    confirmed=False),
         {TR: ("waiting", "1900.00", ("S2",))}, reason={TR: "category_unconfirmed"}),
    Case("E1_project_stage_waits_for_the_category_confirmed", lambda: chain(kind="project", days=5, confirmed=False),
         {TR: ("waiting", "500.00", ("S3",))}, reason={TR: "category_unconfirmed"}),
    Case("E2_founder_licence_under_a_year_at_enrolment", lambda: founder(date(2022, 3, 2)),
         {"training:V1:S6-80": ("eligible", "1440.00", ("S6",)), "training:V1:S6-20": ("eligible", "360.00", ("S6",))}),
    Case("E2_founder_licence_a_year_old_at_enrolment", lambda: founder(date(2022, 3, 1)),
         {"training:V1:S6-80": ("rejected", "1440.00", ("S6", "E2")),
          "training:V1:S6-20": ("rejected", "360.00", ("S6", "E2"))},
         reason={"training:V1:S6-80": "founder_licence_not_within_year"}),
    Case("I3_reviewed_and_approved", lambda: with_review(True), {TR: ("eligible", "500.00", ("S1",))}),
    Case("I3_reviewed_and_refused", lambda: with_review(False), {TR: ("rejected", "500.00", ("S1", "I3"))},
         reason={TR: "review_rejected"}),
    # S9: an industry department's own training (its own funds) is record only: the whole chain of an E3 order
    # trainee with a certificate pays nothing — every claim void, 0.00, citing S9 alone
    Case("S9_industry_department_class_record_only",
         lambda: chain(kind="order", days=14, e3=True, outcome=OUTCOME_80, department="县农业农村局"),
         {TR: ("void", "0.00", ("S9",)), LA: ("void", "0.00", ("S9",)), EV: ("void", "0.00", ("S9",))},
         reason={TR: "industry_department_funded", LA: "industry_department_funded",
                 EV: "industry_department_funded"}),
]


def test_at_least_forty_golden_cases():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case: Case):
    result = evaluate_person("P1", fact_set(case.facts()), Policies(case.tables()))
    for key, expected in case.expect.items():
        if expected is None:
            assert key not in result.claims
            continue
        claim = result.claims[key]
        state, amount, rule_ids = expected
        assert (claim.state, claim.amount, claim.rule_ids) == (state, Decimal(amount), rule_ids), (
            claim.state, claim.amount, claim.rule_ids, claim.reason)
    for key, code in (case.reason or {}).items():
        assert result.claims[key].reason is not None and result.claims[key].reason.code == code


def test_S2_line_shows_the_arithmetic():
    result = evaluate_person("P1", fact_set(chain(kind="order", days=14, outcome=OUTCOME_80)), Policies([default_2023()]))
    assert [line.text for line in result.claims[TR].lines] == ["S2: 10 天 × 150 + 4 天 × 100 = 1900.00"]


def test_S1_cap_line():
    result = evaluate_person("P1", fact_set(chain(days=11)), Policies([default_2023()]))
    assert [line.text for line in result.claims[TR].lines] == ["S1: 11 天 × 100 = 1100.00，封顶 1000.00"]


def test_S2_fallback_lines_cite_both_rules():
    result = evaluate_person("P1", fact_set(chain(kind="order", days=4, outcome=dict(completed=1000, employed=799))),
                             Policies([default_2023()]))
    texts = [line.text for line in result.claims[TR].lines]
    assert texts == ["S2: 班级就业率 79.9 % 低于 80.0 %，按普惠制（S1）标准补贴", "S1: 4 天 × 100 = 400.00"]


def test_S2_day_limit_line():
    result = evaluate_person("P1", fact_set(chain(kind="order", days=20, day_limit=12, outcome=OUTCOME_80)),
                             Policies([default_2023()]))
    assert [line.text for line in result.claims[TR].lines] == [
        "S2: 实际 20 天，补贴天数上限 12 天：10 天 × 150 + 2 天 × 100 = 1700.00"]


def test_chain_explains_what_is_missing_in_both_languages():
    result = evaluate_person("P1", fact_set(chain(realname=None, cert_type=None)), Policies([default_2023()]))
    view = result.chains["V1"]
    assert view.status == "waiting"
    problems = {p.code: (p.zh, p.en) for p in view.problems}
    assert problems["realname_missing"] == ("尚待省培训实名制系统确认", "awaiting the province real-name system's verdict (P1)")
    assert problems["certificate_missing"][0] == "尚未取得与培训工种对应的证书"
    links = {link.name: link for link in view.links}
    assert links["voucher"].status == "ok" and len(links["voucher"].event_ids) == 1


def test_no_policy_table_for_an_earlier_year_waits():
    result = evaluate_person("P1", fact_set(chain(year=2022, bound_at=datetime(2022, 5, 20, tzinfo=timezone.utc),
                                                 completed_on=date(2022, 6, 15), start=date(2022, 6, 1),
                                                 cert_on=date(2022, 6, 20))), Policies([default_2023()]))
    assert result.claims[TR].state == "waiting" and result.claims[TR].reason.code == "no_policy_table"


def test_later_year_table_does_not_change_earlier_year_claims():
    later = default_2023().model_copy(update={"policy_year": 2024})
    later = PolicyTable.model_validate({**later.model_dump(), "s1": {"rule_id": "S1", "daily_rate": "120", "cap": "1200"}})
    facts = two_vouchers("inclusive", "inclusive", year2=2024)
    result = evaluate_person("P1", fact_set(facts), Policies([default_2023(), later]))
    assert result.claims[TR].amount == Decimal("500.00") and result.claims[TR].table_year == 2023
    assert result.claims["training:V2:main"].amount == Decimal("720.00")
    assert result.claims["training:V2:main"].table_year == 2024


def test_a_mid_year_version_applies_from_its_effective_day():
    v2 = PolicyTable.model_validate({**table_2023(s1__daily_rate="120", s1__cap="1200").model_dump(), "version": 2,
                                     "effective_from": date(2023, 7, 1)})
    policies = Policies([default_2023(), v2])
    before = evaluate_person("P1", fact_set(chain(days=5)), policies).claims[TR]
    after = evaluate_person("P1", fact_set(chain(days=5, completed_on=date(2023, 7, 15), cert_on=date(2023, 7, 20))),
                            policies).claims[TR]
    assert (before.amount, before.table_version) == (Decimal("500.00"), 1)
    assert (after.amount, after.table_version) == (Decimal("600.00"), 2)


def _realname_link(result) -> str:
    return next(link.status for link in result.chains["V1"].links if link.name == "realname")


def test_a_later_version_never_changes_the_chain_of_an_eligible_claim():
    """P1 through the pinned table: eligible without a verdict under a version that did not require one, the claim
    stays eligible (and its chain complete) when a later version requires the verdict; unpinned it would wait."""
    v1 = table_2023(realname_required=False)
    v2 = PolicyTable.model_validate({**table_2023().model_dump(), "version": 2})  # requires the verdict again
    facts = fact_set(chain(days=5, realname=None))
    pinned = evaluate_person("P1", facts, Policies([v1, v2]), pinned={TR: (2023, 1)})
    assert (pinned.claims[TR].state, pinned.claims[TR].amount, pinned.claims[TR].table_version) == (
        "eligible", Decimal("500.00"), 1)
    assert _realname_link(pinned) == "not_required"
    unpinned = evaluate_person("P1", facts, Policies([v1, v2]))
    assert (unpinned.claims[TR].state, unpinned.claims[TR].reason.code, unpinned.claims[TR].table_version) == (
        "waiting", "realname_missing", 2)


def test_the_chain_reads_the_version_in_effect_on_the_completion_day():
    """A version from 1 July that drops the P1 requirement does not apply to a training completed in June."""
    v2 = PolicyTable.model_validate({**table_2023(realname_required=False).model_dump(), "version": 2,
                                     "effective_from": date(2023, 7, 1)})
    policies = Policies([default_2023(), v2])
    june = evaluate_person("P1", fact_set(chain(days=5, realname=None)), policies)
    july = evaluate_person("P1", fact_set(chain(days=5, realname=None, completed_on=date(2023, 7, 15),
                                                cert_on=date(2023, 7, 20))), policies)
    assert (june.claims[TR].state, june.claims[TR].table_version, _realname_link(june)) == ("waiting", 1, "missing")
    assert (july.claims[TR].state, july.claims[TR].table_version, _realname_link(july)) == ("eligible", 2, "not_required")


def test_before_the_years_first_version_takes_effect_the_rules_carried_forward_apply():
    """A 2024 table the bureau published to apply from 1 March: a 2024 voucher's training completed in February is
    paid by the 2023 table (carried forward, as for a year without a table), one completed in March by 2024's."""
    march = PolicyTable.model_validate({**table_2023(s1__daily_rate="120", s1__cap="1200").model_dump(),
                                        "policy_year": 2024, "effective_from": date(2024, 3, 1),
                                        "effective_to": date(2025, 3, 31)})
    policies = Policies([default_2023(), march])

    def completed(on: date):
        return evaluate_person("P1", fact_set(chain(
            year=2024, days=5, start=on - timedelta(days=10), completed_on=on, cert_on=on + timedelta(days=3),
            bound_at=datetime(on.year, on.month, 1, tzinfo=timezone.utc) - timedelta(days=5))), policies).claims[TR]

    february, march_claim = completed(date(2024, 2, 20)), completed(date(2024, 3, 20))
    assert (february.amount, february.table_year, february.table_version) == (Decimal("500.00"), 2023, 1)
    assert (march_claim.amount, march_claim.table_year, march_claim.table_version) == (Decimal("600.00"), 2024, 1)
    assert Policies([march]).for_year(2024, date(2024, 2, 20)) == march  # nothing to carry forward: the earliest
