"""Amount calculations, one function per rule of RULES.md. Pure: Decimal in, Decimal out, to the fen.

Each returns a `Computed` whose lines cite the rule and show the arithmetic, e.g.
`S2: 10 天 × 150 + 4 天 × 100 = 1900.00`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from subsidy_service.domain.policy import DailyRate, PolicyTable

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def fen(value: Decimal) -> Decimal:
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def show(value: Decimal) -> str:
    """A rate as people write it: 150, 15, 0.5 (no trailing zeros); amounts use `fen` strings."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def pct(value: Fraction | Decimal) -> str:
    """A rate as a percentage with one decimal, rounded down so 79.96 % never shows as 80.0 %."""
    scaled = Decimal(value.numerator) / Decimal(value.denominator) if isinstance(value, Fraction) else Decimal(value)
    return f"{(scaled * 100).quantize(Decimal('0.1'), rounding='ROUND_DOWN')} %"


@dataclass(frozen=True)
class Line:
    rule_id: str
    text: str  # Chinese, with the arithmetic
    amount: Decimal


@dataclass(frozen=True)
class Computed:
    amount: Decimal
    lines: tuple[Line, ...] = field(default_factory=tuple)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(line.rule_id for line in self.lines))


def _capped(rule_id: str, prefix: str, raw: Decimal, cap: Decimal | None, arithmetic: str) -> Computed:
    raw = fen(raw)
    if cap is not None and raw > cap:
        amount = fen(cap)
        return Computed(amount, (Line(rule_id, f"{prefix}{arithmetic} = {raw}，封顶 {amount}", amount),))
    return Computed(raw, (Line(rule_id, f"{prefix}{arithmetic} = {raw}", raw),))


def daily(rule_id: str, days: int, rate: DailyRate | tuple[Decimal, Decimal | None], prefix: str = "") -> Computed:
    daily_rate, cap = (rate.daily_rate, rate.cap) if isinstance(rate, DailyRate) else rate
    return _capped(rule_id, f"{rule_id}: {prefix}", Decimal(days) * daily_rate, cap, f"{days} 天 × {show(daily_rate)}")


def s1_inclusive(table: PolicyTable, days: int, rule_id: str = "S1", note: str = "") -> Computed:
    """S1: 100 yuan per day, at most 1,000 per person. Also E8 outbound and the S2 fallback."""
    s1 = table.s1
    computed = _capped(
        "S1", f"S1: {note}", Decimal(days) * s1.daily_rate, s1.cap, f"{days} 天 × {show(s1.daily_rate)}"
    )
    if rule_id != "S1":
        return Computed(computed.amount, (Line(rule_id, _reason_text(rule_id), ZERO),) + computed.lines)
    return computed


def _reason_text(rule_id: str) -> str:
    return {
        "E8": "E8: 组织农村劳动力外出务工培训，按普惠制标准（S1）补贴",
    }.get(rule_id, rule_id)


def s2_order(
    table: PolicyTable, days: int, employment_rate: Fraction, occupation_code: str, level: int | None,
    class_day_limit: int | None,
) -> Computed:
    """S2: employment rate >= 80 % (inclusive): 150/day for the first 10 days, then 100/day, at most 4,000;
    subsidised days capped per occupation and level (`S2Order.day_limit`). Below 80 %: paid as S1."""
    s2 = table.s2
    if employment_rate < Fraction(s2.employment_gate):
        gate = Line(
            "S2",
            f"S2: 班级就业率 {pct(employment_rate)} 低于 {pct(Fraction(s2.employment_gate))}，按普惠制（S1）标准补贴",
            ZERO,
        )
        fallback = s1_inclusive(table, days)
        return Computed(fallback.amount, (gate,) + fallback.lines)
    limit = s2.day_limit(occupation_code, level, class_day_limit)
    paid_days = days if limit is None else min(days, limit)
    first = min(paid_days, s2.first_days)
    later = paid_days - first
    prefix = "S2: "
    if paid_days != days:
        prefix = f"S2: 实际 {days} 天，补贴天数上限 {limit} 天："
    arithmetic = f"{first} 天 × {show(s2.first_rate)}"
    if later:
        arithmetic += f" + {later} 天 × {show(s2.later_rate)}"
    raw = Decimal(first) * s2.first_rate + Decimal(later) * s2.later_rate
    return _capped("S2", prefix, raw, s2.cap, arithmetic)


def s3_project(table: PolicyTable, days: int, project_reference: str | None) -> Computed:
    """S3: rates configurable per project; the table's default where the project has none."""
    rate = table.s3.rate(project_reference)
    named = f"项目 {project_reference}：" if project_reference and project_reference in table.s3.projects else ""
    return daily("S3", days, rate, prefix=named)


S3_STAGE_LABELS = {"enrolment_verified": "报名核验", "completion": "结业取证", "employment": "就业"}


def s3_stage_parts(table: PolicyTable, days: int, project_reference: str | None,
                   planned: bool = False) -> tuple[Computed, ...]:
    """S3 staged settlement (分时段阶段性结算): the project's per-person amount split by its stages' shares, each
    rounded half-up to the fen and the last stage the exact remainder (so they sum to the whole). `planned`: before
    the completion the amount rests on the class's planned days (the training's actual days replace them after)."""
    rate = table.s3.rate(project_reference)
    full = s3_project(table, days, project_reference)
    base = full.lines[0].text + ("（按计划培训天数）" if planned else "")
    parts, paid = [], ZERO
    for number, stage in enumerate(rate.stages, start=1):
        label = f"第 {number} 阶段（{S3_STAGE_LABELS[stage.code]}）{show(stage.share * 100)}%"
        if number == len(rate.stages):
            amount = full.amount - paid
            text = f"{base}；{label}：{full.amount} − {paid} = {amount}"
        else:
            amount = fen(full.amount * stage.share)
            text = f"{base}；{label}：{full.amount} × {show(stage.share)} = {amount}"
        paid += amount
        parts.append(Computed(amount, (Line("S3", text, amount),)))
    return tuple(parts)


def s4_living_allowance(table: PolicyTable, days: int) -> Computed:
    """S4: 15 yuan per training day for E3 persons, paid to the worker."""
    return daily("S4", days, (table.s4.daily_rate, table.s4.cap))


def s5_enterprise(table: PolicyTable) -> Computed:
    """S5: 300 yuan per employee trained, claimed by the enterprise."""
    amount = fen(table.s5.per_person)
    return Computed(amount, (Line("S5", f"S5: 1 人 × {show(table.s5.per_person)} = {amount}", amount),))


def s6_full(table: PolicyTable, days: int) -> Computed:
    """S6: at most 180 yuan per day and 1,800 per person (the whole subsidy before the split)."""
    return daily("S6", days, (table.s6.daily_rate, table.s6.cap))


def s6_parts(table: PolicyTable, days: int) -> tuple[Computed, Computed]:
    """S6 in two parts: 80 % once the pass rate gate is met, the remaining 20 % once the licence gate is.
    The first part is rounded to the fen (half up); the second is the exact remainder, so they sum."""
    full = s6_full(table, days)
    share = table.s6.first_part_share
    first = fen(full.amount * share)
    rest = full.amount - first
    base = full.lines[0].text
    first_line = Line("S6", f"{base}；第一部分 {show(share * 100)}%：{full.amount} × {show(share)} = {first}", first)
    rest_line = Line("S6", f"{base}；其余部分：{full.amount} − {first} = {fen(rest)}", fen(rest))
    return Computed(first, (first_line,)), Computed(fen(rest), (rest_line,))


def s6_platform_fee(table: PolicyTable) -> Line | None:
    """S6 online courses: the platform operator's fee per trainee (configurable; None when the table sets none)."""
    fee = fen(table.s6.online_platform_fee)
    if fee <= 0:
        return None
    return Line("S6", f"S6: 网络创业平台服务费 1 人 × {show(table.s6.online_platform_fee)} = {fee}", fee)


def s7_caregiver(table: PolicyTable, days: int) -> Computed:
    """S7: caregiver (吕梁山护工) rates are configurable."""
    return daily("S7", days, (table.s7.daily_rate, table.s7.cap))


LEVEL_LABELS = {5: "初级工", 4: "中级工", 3: "高级工", 2: "技师", 1: "高级技师"}
TYPE_LABELS = {
    "special_ability": "专项职业能力证书",
    "special_operation": "特种作业操作证",
    "special_equipment": "特种设备作业人员证",
    "skill_level": "职业技能等级证书",
    "vocational_qualification": "职业资格证书",
    "entrepreneurship_training": "创业培训合格证书",
}


def s8_key(certificate_type: str, level: int | None) -> str | None:
    """E5 "same level": the slot a certificate occupies, once per person. Skill-level and vocational
    qualification certificates of one level share the slot; special ability, the first special operation
    and the first special equipment certificate each have their own. None: no evaluation subsidy at all."""
    if certificate_type in ("skill_level", "vocational_qualification"):
        return f"level:{level}" if level in LEVEL_LABELS else None
    if certificate_type in ("special_ability", "special_operation", "special_equipment"):
        return certificate_type
    return None


def s8_evaluation(table: PolicyTable, certificate_type: str, level: int | None) -> Computed | None:
    """S8: 200 special ability; 400 初级工 (and the first special operation / equipment certificate);
    600 中级工; 800 高级工; 技师 / 高级技师 configurable, default none. None: no amount is set."""
    s8 = table.s8
    if certificate_type in ("skill_level", "vocational_qualification"):
        if level not in LEVEL_LABELS:
            return None
        amount = s8.levels.get(level)
        label = f"{TYPE_LABELS[certificate_type]}（{LEVEL_LABELS[level]}）"
    elif certificate_type in ("special_ability", "special_operation", "special_equipment"):
        amount = getattr(s8, certificate_type)
        label = TYPE_LABELS[certificate_type]
    else:
        return None
    if amount is None:
        return None
    value = fen(amount)
    return Computed(value, (Line("S8", f"S8: {label} 1 本 × {show(amount)} = {value}", value),))
