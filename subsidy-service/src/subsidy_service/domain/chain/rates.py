"""A class's rates (S2 employment, S6 pass and licence): exact fractions from the reported counts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from subsidy_service.domain.facts import Fact


def fraction(count_num: int, count_den: int, reported: Decimal | None) -> Fraction | None:
    """A class rate: exact from the counts when there are any, else the reported rate."""
    if count_den > 0:
        return Fraction(count_num, count_den)
    if reported is not None:
        return Fraction(reported)
    return None


def employment_rate(outcome: Fact | None) -> Fraction | None:
    if outcome is None:
        return None
    p = outcome.payload
    return fraction(p.employed, p.trainees_completed, p.employment_rate)


def pass_rate(outcome: Fact | None) -> Fraction | None:
    if outcome is None:
        return None
    p = outcome.payload
    return fraction(p.passed, p.trainees_attended, p.pass_rate)


def licence_rate(outcome: Fact | None) -> Fraction | None:
    if outcome is None:
        return None
    p = outcome.payload
    return fraction(p.licensed_within_six_months, p.passed, p.licence_rate)
