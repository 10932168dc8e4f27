"""Eligibility rules by voucher kind, each test named after its rule id (RULES.md)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from skillkit.contracts.vocab import VoucherKind as K, WorkerCategory as C
from skillkit.county import p5_deadline, policy_year_of
from voucher_service.domain.eligibility import NotEligible, check_eligibility, living_allowance_eligible
from voucher_service.domain.codes import ALPHABET, is_valid_code, new_code
from voucher_service.domain.validity import earlier_than, validity_window

SIX = [C.POVERTY_ALLEVIATED, C.GRADUATING_COLLEGE, C.SCHOOL_LEAVER, C.RURAL_MIGRANT, C.URBAN_UNEMPLOYED,
       C.EMPLOYMENT_DIFFICULTY]


@pytest.mark.parametrize("category", SIX)
@pytest.mark.parametrize("kind", [K.INCLUSIVE, K.ORDER, K.PROJECT])
def test_E1_six_categories_may_take_inclusive_order_and_project(kind, category):
    assert check_eligibility(kind, {category}).rule_id == "E1"


@pytest.mark.parametrize("kind", [K.INCLUSIVE, K.ORDER, K.PROJECT])
@pytest.mark.parametrize("category", [C.ENTERPRISE_EMPLOYEE, C.VOCATIONAL_STUDENT, C.MONITORED_HOUSEHOLD,
                                      C.RETURNING_ENTREPRENEUR])
def test_E1_other_categories_are_refused(kind, category):
    with pytest.raises(NotEligible) as refused:
        check_eligibility(kind, {category})
    assert refused.value.rule_id == "E1"


@pytest.mark.parametrize("category", SIX + [C.RETURNING_ENTREPRENEUR, C.NEW_BUSINESS_FOUNDER])
def test_E2_entrepreneurship_groups(category):
    assert check_eligibility(K.ENTREPRENEURSHIP, {category}).rule_id == "E2"


def test_E2_enterprise_employee_alone_cannot_take_entrepreneurship():
    with pytest.raises(NotEligible) as refused:
        check_eligibility(K.ENTREPRENEURSHIP, {C.ENTERPRISE_EMPLOYEE})
    assert refused.value.rule_id == "E2"


def test_S5_enterprise_voucher_needs_enterprise_employee():
    assert check_eligibility(K.ENTERPRISE, {C.ENTERPRISE_EMPLOYEE}).quota_slot is None
    with pytest.raises(NotEligible):
        check_eligibility(K.ENTERPRISE, {C.RURAL_MIGRANT})


def test_P2_caregiver_open_to_every_worker():
    assert check_eligibility(K.CAREGIVER, {C.VOCATIONAL_STUDENT}).rule_id == "P2"


def test_E3_living_allowance_only_for_poverty_alleviated_labour_and_monitored_households():
    assert living_allowance_eligible({C.POVERTY_ALLEVIATED_LABOUR})
    assert living_allowance_eligible({C.MONITORED_HOUSEHOLD, C.RURAL_MIGRANT})
    assert not living_allowance_eligible({C.POVERTY_ALLEVIATED, C.RURAL_MIGRANT})


def test_E4_quota_slots_project_and_order_count_together():
    assert check_eligibility(K.INCLUSIVE, {C.RURAL_MIGRANT}).quota_slot == "inclusive"
    assert check_eligibility(K.ORDER, {C.RURAL_MIGRANT}).quota_slot == "project_order"
    assert check_eligibility(K.PROJECT, {C.RURAL_MIGRANT}).quota_slot == "project_order"
    assert check_eligibility(K.CAREGIVER, {C.RURAL_MIGRANT}).quota_slot is None


def test_P5_validity_never_past_31_march_of_next_year_county_time():
    issued = datetime(2023, 12, 1, 2, 0, tzinfo=timezone.utc)
    year, _, until = validity_window(issued, 365)
    assert year == 2023
    assert until == p5_deadline(2023) == datetime(2024, 3, 31, 16, 0, tzinfo=timezone.utc)
    _, _, short = validity_window(issued, 30)
    assert short == datetime(2023, 12, 31, 2, 0, tzinfo=timezone.utc)


def test_policy_year_is_the_county_calendar_year():
    assert policy_year_of(datetime(2023, 12, 31, 16, 30, tzinfo=timezone.utc)) == 2024  # 00:30 on 1 Jan in Lin County
    assert policy_year_of(datetime(2023, 12, 31, 15, 59, tzinfo=timezone.utc)) == 2023


def test_lifecycle_never_moves_backwards():
    assert earlier_than("in_training") == ("issued", "bound")
    assert earlier_than("completed") == ("issued", "bound", "in_training")
    assert "revoked" not in earlier_than("redeemed") and "expired" not in earlier_than("redeemed")


def test_voucher_codes_are_valid_and_any_character_appears_in_any_position():
    codes = [new_code() for _ in range(3000)]
    assert all(len(c) == 11 and c.startswith("LX") and is_valid_code(c) for c in codes)
    assert len(set(codes)) == len(codes)
    for position in range(2, 10):  # 36 × (35/36)^3000 ≈ 1e-35: a missing character means a biased draw
        assert {c[position] for c in codes} == set(ALPHABET)
