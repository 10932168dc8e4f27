"""Policy tables: the rates and limits of RULES.md as data, one table per policy year (versioned).

Every section names the rule id it implements. Where the plan is silent the value is *configurable*
(RULES.md): it lives here, never as a literal in the rules. The 2023 table is `default_2023()`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_serializer, model_validator

NonNegMoney = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Share = Annotated[Decimal, Field(ge=0, le=1, max_digits=6, decimal_places=4)]
Days = Annotated[int, Field(ge=0, le=366)]
DayLimitKey = Annotated[str, StringConstraints(pattern=r"^\d-\d{2}-\d{2}-\d{2}(/[1-5])?$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DailyRate(_Section):
    """A daily rate with a per-person cap (None: no cap)."""

    daily_rate: NonNegMoney
    cap: NonNegMoney | None = None


class S1Inclusive(_Section):
    rule_id: Literal["S1"] = "S1"
    daily_rate: NonNegMoney = Decimal("100")
    cap: NonNegMoney = Decimal("1000")


class S2Order(_Section):
    rule_id: Literal["S2"] = "S2"
    employment_gate: Share = Decimal("0.80")  # >= gate (inclusive) pays S2, below pays S1
    first_days: Days = 10
    first_rate: NonNegMoney = Decimal("150")
    later_rate: NonNegMoney = Decimal("100")
    cap: NonNegMoney = Decimal("4000")
    # Subsidised days per occupation and level, set by the bureau for the year: key "4-10-01-01/5" (an occupation
    # at one level) or "4-10-01-01" (at every level). Where the table names neither, the class's own limit
    # applies (class.opened.subsidised_day_limit, from the training service's occupation catalogue), then the
    # default (None: no limit beyond the cap).
    day_limits: dict[DayLimitKey, Days] = Field(default_factory=dict)
    default_subsidised_day_limit: Days | None = None

    def day_limit(self, occupation_code: str, level: int | None, class_limit: int | None) -> int | None:
        for key in (f"{occupation_code}/{level}", occupation_code):
            if key in self.day_limits:
                return self.day_limits[key]
        return class_limit if class_limit is not None else self.default_subsidised_day_limit


class S3Stage(_Section):
    """A stage of a project's settlement (分时段阶段性结算): its condition and its share of the per-person amount.
    enrolment_verified: the enrolment filed, bound and accepted by the province (P1); completion: the whole chain
    (voucher, completion, certificate); employment: that, and the trainee's employment recorded with a contract of
    at least `employment_months` months."""

    code: Literal["enrolment_verified", "completion", "employment"]
    share: Share
    employment_months: int | None = Field(default=None, ge=1, le=60)

    @model_validator(mode="after")
    def _months(self) -> "S3Stage":
        if (self.code == "employment") != (self.employment_months is not None):
            raise ValueError("employment_months is given for the employment stage and only for it")
        return self


class ProjectRate(DailyRate):
    """A project's rate, cap and (optionally) its stages, whose shares sum to 100 %."""

    stages: tuple[S3Stage, ...] = ()

    @model_serializer(mode="wrap")
    def _without_empty_stages(self, handler: Any) -> dict[str, Any]:
        # a project settled at once is stored and shown as before stages existed
        data = handler(self)
        if not data.get("stages"):
            data.pop("stages", None)
        return data

    @model_validator(mode="after")
    def _stages(self) -> "ProjectRate":
        if self.stages:
            if sum((s.share for s in self.stages), Decimal(0)) != 1:
                raise ValueError("S3 stage shares must sum to 100 %")
            if len({s.code for s in self.stages}) != len(self.stages):
                raise ValueError("S3 stages are distinct")
        return self


class S3Project(_Section):
    rule_id: Literal["S3"] = "S3"
    default: ProjectRate = ProjectRate(daily_rate=Decimal("100"), cap=Decimal("1000"))
    projects: dict[str, ProjectRate] = Field(default_factory=dict)  # project_reference -> rate (and stages)

    def rate(self, project_reference: str | None) -> ProjectRate:
        return self.projects.get(project_reference or "", self.default)


class S4LivingAllowance(_Section):
    rule_id: Literal["S4"] = "S4"
    daily_rate: NonNegMoney = Decimal("15")
    cap: NonNegMoney | None = None
    # The mission's chain (voucher, completion, certificate) for every payout: the allowance waits for the
    # certificate like the training claim. A table may relax it; the claim then says which version did and who
    # published it (PolicyTable.changed_by).
    requires_certificate: bool = True


class S5Enterprise(_Section):
    rule_id: Literal["S5"] = "S5"
    per_person: NonNegMoney = Decimal("300")


class S6Entrepreneurship(_Section):
    rule_id: Literal["S6"] = "S6"
    daily_rate: NonNegMoney = Decimal("180")
    cap: NonNegMoney = Decimal("1800")
    pass_rate_gate: Share = Decimal("0.80")  # class pass rate >= gate pays the first part
    first_part_share: Share = Decimal("0.80")
    licence_rate_gate: Share = Decimal("0.20")  # licences within six months >= gate x passed pays the rest
    # 网络创业 (online courses): the platform operator's fee per trainee who passed, on top of the per-day amount and
    # paid with the first part (configurable: the plan sets no amount, so none by default).
    online_platform_fee: NonNegMoney = Decimal("0")


class S7Caregiver(_Section):
    rule_id: Literal["S7"] = "S7"
    # Configurable (RULES.md S7); the shipped value equals S1 until the employment service centre sets one.
    daily_rate: NonNegMoney = Decimal("100")
    cap: NonNegMoney | None = Decimal("1000")


class S8Evaluation(_Section):
    rule_id: Literal["S8"] = "S8"
    special_ability: NonNegMoney | None = Decimal("200")
    special_operation: NonNegMoney | None = Decimal("400")  # first 特种作业操作证, paid as 初级工
    special_equipment: NonNegMoney | None = Decimal("400")  # first 特种设备作业人员证, paid as 初级工
    # Skill levels 5..1 (5 = 初级工 … 1 = 高级技师); 技师 / 高级技师: none by default.
    levels: dict[int, NonNegMoney | None] = Field(
        default_factory=lambda: {5: Decimal("400"), 4: Decimal("600"), 3: Decimal("800"), 2: None, 1: None}
    )

    @model_validator(mode="after")
    def _levels_known(self) -> "S8Evaluation":
        unknown = sorted(set(self.levels) - {1, 2, 3, 4, 5})
        if unknown:
            raise ValueError(f"skill levels are 1..5, got {unknown}")
        return self


class E8Outbound(_Section):
    rule_id: Literal["E8"] = "E8"
    paid_as_inclusive: bool = True


class RuleValues(_Section):
    """The rule values of a policy year, section by rule id."""

    # P1: whether a chain waits for the province real-name verdict (a rejection always breaks it).
    realname_required: bool = True
    s1: S1Inclusive = S1Inclusive()
    s2: S2Order = S2Order()
    s3: S3Project = S3Project()
    s4: S4LivingAllowance = S4LivingAllowance()
    s5: S5Enterprise = S5Enterprise()
    s6: S6Entrepreneurship = S6Entrepreneurship()
    s7: S7Caregiver = S7Caregiver()
    s8: S8Evaluation = S8Evaluation()
    e8: E8Outbound = E8Outbound()


class PolicyTableChange(RuleValues):
    """A new version of a year's table as the bureau submits it: only the values it names change (`overlay`)."""

    effective_from: date | None = None
    effective_to: date | None = None
    note: str | None = Field(default=None, max_length=500)


class PolicyTable(RuleValues):
    """One policy year's rule values. `version` grows with each change; claims record the version used."""

    policy_year: int = Field(ge=2000, le=2100)
    version: int = Field(default=1, ge=1)
    effective_from: date
    effective_to: date
    # Who published this version (P10): the store fills it from the row; not a rule value.
    changed_by: str | None = None

    @model_validator(mode="after")
    def _dates(self) -> "PolicyTable":
        if self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    def rule_values(self) -> dict:
        return self.model_dump(mode="json", exclude={"policy_year", "version", "effective_from", "effective_to", "changed_by"})


def overlay(base: dict[str, Any], change: RuleValues) -> dict[str, Any]:
    """`base` (a table's rule values, as stored) with every rule value `change` names replaced. Sections and other
    nested models are overlaid field by field, so a version that changes S1 keeps an earlier version's S7; a
    mapping (S3 projects, S8 levels) is one value and is replaced whole, so an entry can be dropped."""
    return _overlay(base, change, set(RuleValues.model_fields))


def _overlay(base: dict[str, Any], change: BaseModel, names: set[str]) -> dict[str, Any]:
    merged = dict(base)
    for name in change.model_fields_set & names:
        value = getattr(change, name)
        if isinstance(value, BaseModel) and isinstance(base.get(name), dict):
            merged[name] = _overlay(base[name], value, set(type(value).model_fields))
        else:
            merged[name] = change.model_dump(mode="json", include={name})[name]
    return merged


def default_table(year: int) -> PolicyTable:
    """The values of RULES.md for a year (the 2023 plan, 临技能办发〔2023〕1号)."""
    # P5: year Y's subsidies are applied for and paid by 31 March of Y+1.
    return PolicyTable(policy_year=year, version=1, effective_from=date(year, 1, 1), effective_to=date(year + 1, 3, 31))


def default_2023() -> PolicyTable:
    return default_table(2023)


class Policies:
    """All stored table versions; resolves the table a claim is computed with.

    Within its policy year a claim uses the newest version already in effect on its reference day (the
    training's completion day, the certificate's issue day; without one, the newest version). A year without
    a table of its own uses the newest table of the latest earlier year (carried forward) until the bureau
    publishes one, and so does a day before the year's first version takes effect. `effective_to` (by default
    31 March of the next year, P5's deadline) is informational: a version does not stop applying after it.
    A claim already eligible keeps the exact (year, version) it was computed with (`pinned`).
    """

    def __init__(self, tables: list[PolicyTable]) -> None:
        self._by_key = {(t.policy_year, t.version): t for t in tables}
        self._by_year: dict[int, list[PolicyTable]] = {}
        for t in sorted(tables, key=lambda t: (t.policy_year, t.version)):
            self._by_year.setdefault(t.policy_year, []).append(t)

    def for_year(self, year: int, on: date | None = None) -> PolicyTable | None:
        versions = self._by_year.get(year)
        if not versions:
            return self._carried_forward(year)
        if on is None:
            return versions[-1]
        in_effect = [t for t in versions if t.effective_from <= on]
        if in_effect:
            return in_effect[-1]
        # Before the year's first version takes effect the rules carried forward still apply, as in a year
        # without a table; with nothing to carry forward, the year's earliest version.
        return self._carried_forward(year) or versions[0]

    def _carried_forward(self, year: int) -> PolicyTable | None:
        earlier = [y for y in self._by_year if y < year]
        return self._by_year[max(earlier)][-1] if earlier else None

    def exact(self, year: int, version: int) -> PolicyTable | None:
        return self._by_key.get((year, version))

    def resolve(self, year: int, pinned: tuple[int, int] | None, on: date | None = None) -> PolicyTable | None:
        if pinned is not None:
            table = self.exact(*pinned)
            if table is not None:
                return table
        return self.for_year(year, on)
