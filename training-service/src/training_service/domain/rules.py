"""Pure training rules (no I/O). Rule ids from policy/RULES.md."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_DOWN, Decimal

from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError
from stdnum.iso7064 import mod_37_36

from skillkit.contracts.vocab import VoucherKind
from skillkit.problems import Problem

# S1: inclusive classes are planned for 3 to 10 days ("一般为3-10天").
INCLUSIVE_MIN_DAYS = 3
INCLUSIVE_MAX_DAYS = 10

VOUCHER_CODE_PREFIX = "LX"
VOUCHER_CODE_LENGTH = 11  # LX + 8 characters + ISO 7064 MOD 37,36 check character


def credit_code_or_problem(raw: str, field: str = "credit_code") -> str:
    """GB 32100 unified social credit code with its check character (python-stdnum cn.uscc)."""
    try:
        return uscc.validate(raw)
    except InvalidChecksum as exc:
        raise Problem(422, f"{field}_check_character", f"{field} {raw!r}: the check character is wrong") from exc
    except (InvalidLength, InvalidFormat) as exc:
        raise Problem(422, f"{field}_format", f"{field} {raw!r}: must be 18 characters of GB 32100") from exc
    except ValidationError as exc:
        raise Problem(422, f"{field}_invalid", f"{field} {raw!r} is not a valid credit code") from exc


def normalise_voucher_code(typed: str) -> str:
    """Typed voucher codes may carry dashes and spaces (`LX7K3Q-9P2W-X`)."""
    code = typed.replace("-", "").replace(" ", "").upper()
    if not (len(code) == VOUCHER_CODE_LENGTH and code.startswith(VOUCHER_CODE_PREFIX) and mod_37_36.is_valid(code)):
        raise Problem(422, "voucher_code_invalid", "the voucher code is not a valid code (check character wrong?)")
    return code


def check_class_plan(
    kind: VoucherKind, start: date, end: date, planned_days: int, min_training_days: int | None, *, plan_year: int,
    days_reason: str | None = None,
) -> bool:
    """`plan_year`: the policy year the class is filed in (the county's current year). Returns whether the plan needs
    the bureau's approval before the class opens: S1 says inclusive classes "usually" run 3–10 days, so one outside
    that range is filed with a reason (`days_reason`) and waits for the bureau's decision, like an order class."""
    if end < start:
        raise Problem(422, "class_dates_reversed", "end_date is before start_date")
    # Issue 16: a class filed today runs within the plan year, or last or next year (a class straddling New Year,
    # one filed late for last year's plan); a date years away is a typo or a probe, not a plan.
    for label, day in (("start_date", start), ("end_date", end)):
        if abs(day.year - plan_year) > 1:
            raise Problem(422, "class_dates_outside_plan_year",
                          f"{label} {day.isoformat()} is not within the plan year {plan_year} ± 1")
    calendar_days = (end - start).days + 1
    if planned_days > calendar_days:
        raise Problem(
            422, "planned_days_exceed_dates", f"{planned_days} planned days do not fit {calendar_days} calendar days"
        )
    outside = kind == VoucherKind.INCLUSIVE and not INCLUSIVE_MIN_DAYS <= planned_days <= INCLUSIVE_MAX_DAYS
    if outside and days_reason is None:
        raise Problem(
            422,
            "inclusive_days_out_of_range",
            f"S1: an inclusive class usually plans {INCLUSIVE_MIN_DAYS} to {INCLUSIVE_MAX_DAYS} days, not {planned_days}; "
            "outside that range give days_reason and the bureau decides",
        )
    if days_reason is not None and not outside:
        raise Problem(422, "days_reason_not_needed",
                      f"days_reason is for inclusive classes outside {INCLUSIVE_MIN_DAYS}–{INCLUSIVE_MAX_DAYS} days (S1)")
    if min_training_days is not None and planned_days < min_training_days:
        raise Problem(
            422,
            "planned_days_below_minimum",
            f"the occupation level needs at least {min_training_days} training days, the class plans {planned_days}",
        )
    return outside


def may_pass(attended_days: int, planned_days: int, min_share: Decimal) -> bool:
    """A trainee who attended less than the minimum share of planned days cannot pass."""
    return Decimal(attended_days) >= (Decimal(planned_days) * min_share)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rate(numerator: int, denominator: int) -> Decimal | None:
    """A share to 4 decimal places, rounded DOWN so a threshold (S2 80 %, S6 80 %/20 %) is never overstated."""
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
