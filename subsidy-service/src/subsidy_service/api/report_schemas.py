"""Response bodies of the report endpoints and the public disclosure (issue 14). Money is Decimal (a string in
yuan in JSON); rates are percentages as strings with one decimal ("62.5"), computed from exact fractions."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from skillkit.county import CountyTime


class CountTarget(BaseModel):
    rule_id: str
    label: str
    value: int
    target: int
    progress_percent: str | None
    reached: bool


class RateTarget(BaseModel):
    rule_id: str
    label: str
    numerator: int
    denominator: int
    rate_percent: str | None
    threshold_percent: str
    reached: bool


class TownshipHolding(RateTarget):
    township: str
    workforce_configured: bool = Field(description="false when the township has no configured workforce (T4)")


class ClassShare(RateTarget):
    class_id: str
    institution_id: str | None
    institution_name: str | None
    kind: str
    kind_label: str


class TargetsOut(BaseModel):
    year: int | None
    t1_trained: CountTarget
    t2_caregivers: CountTarget
    t3_employment: RateTarget
    t3_certification: RateTarget
    t4_county: RateTarget
    t4_townships: list[TownshipHolding]
    t5_classes: int = Field(description="order and inclusive classes with trainees")
    t5_classes_reached: int
    t5_below_total: int = Field(description="classes below 50 % certified (T5)")
    t5_below: list[ClassShare] = Field(description="the classes furthest below 50 % certified (T5), at most 200")


class Stages(BaseModel):
    issued: int
    bound: int
    completed: int
    evaluated: int
    certified: int
    eligible: int
    paid: int


class FunnelGroup(Stages):
    key: str
    label: str


class FunnelOut(BaseModel):
    by: str | None
    stages: list[dict[str, str]] = Field(description="stage codes and their Chinese labels, in funnel order")
    total: Stages
    groups: list[FunnelGroup]


class StateAmount(BaseModel):
    count: int
    amount: Decimal


class MoneyGroup(BaseModel):
    key: str
    label: str
    count: int
    amount: Decimal
    by_state: dict[str, StateAmount]


class MoneyOut(BaseModel):
    by: str
    total: StateAmount
    groups: list[MoneyGroup]


class FundOut(BaseModel):
    year: int
    code: str
    label: str
    allocated: Decimal
    reserved: Decimal
    paid: Decimal
    available: Decimal


class FundsOut(BaseModel):
    funds: list[FundOut]
    total: FundOut | None


class PartitionLag(BaseModel):
    topic: str
    partition: int
    committed: int | None
    end: int | None
    lag: int | None


class GroupLag(BaseModel):
    group: str
    lag: int
    partitions: list[PartitionLag]


class TopicAge(BaseModel):
    consumer: str
    topic: str
    newest_processed_at: CountyTime | None
    age_seconds: float | None


class PipelineOut(BaseModel):
    lag_available: bool
    lag_source: str
    lag_unavailable_reason: str | None = None
    consumer_groups: list[GroupLag]
    outbox_backlog: int
    outbox_oldest_age_seconds: float | None
    inbox_newest: list[TopicAge]
    dead_letters: dict[str, int] = Field(description="events sent to dead-letter topics by this process, by consumer")


class Option(BaseModel):
    value: str
    label: str


class FilterOptions(BaseModel):
    years: list[int]
    townships: list[Option]
    institutions: list[Option]


class AuditHeadOut(BaseModel):
    head_id: int | None
    head_hash: str
    head_at: CountyTime | None


class DisclosedPayee(BaseModel):
    payee_type: str
    payee_type_label: str
    payee_id: str
    payee_name: str | None
    persons: int
    claims: int
    amount: Decimal


class DisclosedFund(BaseModel):
    code: str
    label: str
    amount: Decimal


class DisclosedQuarter(BaseModel):
    quarter: int
    payees: list[DisclosedPayee]
    amount: Decimal
    funds_used: list[DisclosedFund]


class DisclosureOut(BaseModel):
    year: int
    generated_at: CountyTime
    audit_head: AuditHeadOut = Field(description="P7/P10: the audit trail's head when the data was read")
    quarters: list[DisclosedQuarter]
    targets: list[CountTarget | RateTarget]


class DisclosedPerson(BaseModel):
    masked_name: str | None = Field(description="张*三: the first and last character only (P7)")
    voucher_id: str | None
    kind_label: str
    amount: Decimal


class DisclosedPersons(BaseModel):
    year: int
    quarter: int | None
    payee_type: str
    payee_id: str
    total: int
    items: list[DisclosedPerson]
