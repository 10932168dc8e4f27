"""Resident ID validation (GB 11643) gives python-stdnum's verdict with the platform's precise codes; the region
lookup is remembered per region and birth year, never per person."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from skillkit import pii
from skillkit.pii import InvalidResidentId, normalise_resident_id

TODAY = date(2026, 11, 26)


def with_check_digit(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


@pytest.mark.parametrize(("raw", "code"), [
    (with_check_digit("14232519800101001")[:-1] + "0", "id_number_check_digit"),
    ("1411242003010100", "id_number_length"),
    ("14112420030101A01X", "id_number_format"),
    (with_check_digit("99999919800101001"), "id_number_component"),  # no such region
    (with_check_digit("14112419800231001"), "id_number_component"),  # 31 February
    (with_check_digit("14112420300101001"), "id_number_future_birth_date"),
])
def test_each_kind_of_bad_number_has_its_code(raw: str, code: str) -> None:
    with pytest.raises(InvalidResidentId) as caught:
        normalise_resident_id(raw, TODAY)
    assert caught.value.code == code


def test_valid_number_is_compacted_and_upper_cased() -> None:
    number = with_check_digit("11010519491231002")  # check digit X
    assert normalise_resident_id(f" {number.lower()} ", TODAY) == number
    assert number.endswith("X")


def test_the_region_memo_holds_region_codes_and_years_only() -> None:
    normalise_resident_id(with_check_digit("14112420050101001"), TODAY)  # 临县's code since 2003
    with pytest.raises(InvalidResidentId):
        normalise_resident_id(with_check_digit("14112419900101001"), TODAY)  # before 2003 it was 142325
    assert pii._REGIONS[("141124", "2005")] is True and pii._REGIONS[("141124", "1990")] is False
    assert all(len(region) == 6 and len(year) == 4 for region, year in pii._REGIONS)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789Xx", min_size=16, max_size=19),
       st.sampled_from(["141124", "142325", "110105", "999999", "140000"]))
def test_same_verdict_as_python_stdnum(tail: str, region: str) -> None:
    raw = region + tail
    try:
        expected = ric.validate(raw.upper())
    except Exception:
        expected = None
    try:
        got = normalise_resident_id(raw, date(2999, 1, 1))
    except InvalidResidentId:
        got = None
    assert got == expected
