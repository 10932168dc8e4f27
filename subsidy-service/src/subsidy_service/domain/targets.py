"""The plan's targets (T1–T5, RULES.md) in one place, and their progress: pure arithmetic, no I/O.

Targets are shown on the ops dashboard and the public disclosure page; they never gate a payment. Rates are exact
fractions (Decimal), shown rounded to 0.1 % only at the edge, and "reached" compares the exact fraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# ---- the plan's numbers (临技能办发〔2023〕1号), cited by rule id -------------------------------------------------
T1_TRAINEES = 3600  # T1: 全年共计划完成职业技能提升培训任务3600人
T2_CAREGIVERS = 2200  # T2: of which 吕梁山护工 trainees
T3_EMPLOYMENT = Decimal("0.60")  # T3: caregiver employment rate >= 60 %
T3_CERTIFICATION = Decimal("0.90")  # T3: caregiver certification rate >= 90 %
T4_HOLDING = Decimal("0.32")  # T4: certificate-holding rate of the workforce >= 32 %, per township
T5_CERTIFIED_SHARE = Decimal("0.50")  # T5: >= 50 % of an order or inclusive class's trainees certified
T5_KINDS = ("order", "inclusive")  # T5: order-based and inclusive classes

# T4: the workforce (从业人员) per township is configurable (`SKILLS_REPORT_TOWNSHIP_WORKFORCE`). The plan gives no
# figure: these are placeholders of the right order of magnitude until the bureau sets the census numbers.
DEFAULT_TOWNSHIP_WORKFORCE: dict[str, int] = {
    "临泉镇": 40000, "白文镇": 12000, "城庄镇": 11000, "兔坂镇": 10000, "克虎镇": 9000, "三交镇": 10000,
    "湍水头镇": 8000, "林家坪镇": 9000, "招贤镇": 9000, "碛口镇": 8000, "刘家会镇": 7000, "丛罗峪镇": 7000,
    "曲峪镇": 7000, "八堡乡": 5000, "大禹乡": 5000, "玉坪乡": 4000, "青凉寺乡": 4000, "石白头乡": 4000,
    "雷家碛乡": 4000, "木瓜坪乡": 4000, "安业乡": 5000, "车赶乡": 4000, "安家庄乡": 3000,
}

PERCENT = Decimal("0.1")


def rate(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator as an exact Decimal fraction (None when there is nothing to divide by)."""
    if denominator <= 0:
        return None
    return Decimal(numerator) / Decimal(denominator)


def percent(value: Decimal | None) -> str | None:
    """A rate as a percentage string with one decimal ("62.5"), rounded half-up; None stays None."""
    if value is None:
        return None
    return str((value * 100).quantize(PERCENT, rounding=ROUND_HALF_UP))


def reached(value: Decimal | None, threshold: Decimal) -> bool:
    return value is not None and value >= threshold


@dataclass(frozen=True)
class Target:
    rule_id: str
    code: str
    label_zh: str
    label_en: str


TARGETS = {
    "T1": Target("T1", "trained", "全年培训人数", "trainees trained in the year"),
    "T2": Target("T2", "caregivers_trained", "吕梁山护工培训人数", "Lüliang caregiver trainees"),
    "T3": Target("T3", "caregiver_outcomes", "护工就业率与取证率", "caregiver employment and certification rates"),
    "T4": Target("T4", "holding_rate", "从业人员持证率（分乡镇）", "certificate-holding rate of the workforce per township"),
    "T5": Target("T5", "class_certified_share", "订单式、普惠制培训班取证率", "certified share per order or inclusive class"),
}


def count_progress(done: int, target: int) -> dict[str, Any]:
    """A count target (T1, T2): how many, of how many, the share of the target and whether it is reached."""
    share = rate(done, target)
    return {"value": done, "target": target, "progress_percent": percent(share), "reached": done >= target}


def rate_progress(numerator: int, denominator: int, threshold: Decimal) -> dict[str, Any]:
    """A rate target (T3, T4, T5): the counts, the exact rate as a percentage and whether it meets the threshold."""
    value = rate(numerator, denominator)
    return {"numerator": numerator, "denominator": denominator, "rate_percent": percent(value),
            "threshold_percent": percent(threshold), "reached": reached(value, threshold)}
