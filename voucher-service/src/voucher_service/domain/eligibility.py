"""Who may hold which voucher kind (E1, E2, E3, E4, E7). Pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from skillkit.contracts.vocab import (
    E1_SIX_CATEGORIES,
    E2_ENTREPRENEURSHIP,
    E3_LIVING_ALLOWANCE,
    VoucherKind,
    WorkerCategory as C,
)


@dataclass(frozen=True)
class KindRule:
    rule_id: str
    eligible: frozenset[C] | None  # None: open to every registered worker
    # E4: the yearly quota the kind counts against (None: not limited by E4).
    quota_slot: str | None


KIND_RULES: dict[VoucherKind, KindRule] = {
    VoucherKind.INCLUSIVE: KindRule("E1", E1_SIX_CATEGORIES, "inclusive"),
    VoucherKind.ORDER: KindRule("E1", E1_SIX_CATEGORIES, "project_order"),
    VoucherKind.PROJECT: KindRule("E1", E1_SIX_CATEGORIES, "project_order"),
    VoucherKind.ENTREPRENEURSHIP: KindRule("E2", E2_ENTREPRENEURSHIP, None),
    VoucherKind.ENTERPRISE: KindRule("S5", frozenset({C.ENTERPRISE_EMPLOYEE}), None),
    # P2 (全覆盖) and T2: caregiver training is organised for everyone willing to train.
    VoucherKind.CAREGIVER: KindRule("P2", None, None),
}


class NotEligible(Exception):
    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(message)
        self.rule_id = rule_id
        self.message = message


def check_eligibility(kind: VoucherKind, categories: set[C]) -> KindRule:
    rule = KIND_RULES[kind]
    if rule.eligible is not None and not (categories & rule.eligible):
        needed = ", ".join(sorted(rule.eligible))
        raise NotEligible(rule.rule_id, f"{rule.rule_id}: a {kind} voucher needs one of the categories: {needed}")
    return rule


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_working_age(birth: date, day: date, working_age: tuple[int, int]) -> None:
    """Vouchers are for the workforce: working age (16–60 by default, configurable; the plan names no ages) on the
    day of issue."""
    low, high = working_age
    age = age_on(birth, day)
    if not low <= age <= high:
        raise NotEligible("E1", f"a voucher is issued to workers of working age ({low}–{high}); this worker is {age}")


def living_allowance_eligible(categories: set[C]) -> bool:
    """E3: 脱贫劳动力 and 监测户 receive the S4 living allowance during training."""
    return bool(categories & E3_LIVING_ALLOWANCE)
