"""Settlement rules, pure: quarters in county time (P4), the P5 deadline and its warnings, the funds and the order
they are drawn in (P6), the automatic flags of a declaration, and the verification sample."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Sequence

from skillkit.county import day_start, p5_deadline

from subsidy_service.domain.chain import ClaimState

FEN = Decimal("0.01")

# P5: what expires when the deadline passes (an approved claim's money is already with the bank).
EXPIRING = (ClaimState.WAITING, ClaimState.HELD, ClaimState.ELIGIBLE, ClaimState.DECLARED, ClaimState.VERIFIED)

WORKER_DECLARANT = ("worker", "county")  # S4: the county declares the living allowance on the workers' behalf


def declarant_of(payee_type: str, payee_id: str | None) -> tuple[str, str]:
    if payee_type == "worker":
        return WORKER_DECLARANT
    return payee_type, payee_id or ""


# ---- quarters (P4), county time -------------------------------------------------------------------------------

def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """[start, end) of a calendar quarter in county time, as UTC-aware instants."""
    if not 1 <= quarter <= 4:
        raise ValueError("quarter is 1 to 4")
    start = day_start(date(year, 3 * quarter - 2, 1))
    end = day_start(date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1))
    return start, end


# ---- P5 deadline ----------------------------------------------------------------------------------------------

P5_WARNING_DAYS = (30, 7)  # P5: warnings this many days before the deadline


def deadline(policy_year: int) -> datetime:
    """P5: the first instant after 31 March Y+1 23:59:59 Beijing time."""
    return p5_deadline(policy_year)


def expired_years(now: datetime, years: Iterable[int]) -> list[int]:
    return sorted(y for y in set(years) if now >= deadline(y))


def warnings_due(now: datetime, years: Iterable[int]) -> list[tuple[int, int]]:
    """(policy year, days before) of every warning whose moment has come and whose deadline has not passed."""
    return sorted(
        (y, days) for y in set(years) for days in P5_WARNING_DAYS
        if deadline(y) - timedelta(days=days) <= now < deadline(y)
    )


def near_deadline(now: datetime, policy_year: int, days: int = 30) -> bool:
    return now >= deadline(policy_year) - timedelta(days=days)


# ---- funds (P6) -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FundKind:
    code: str
    label: str  # Chinese, for exports and the dashboard
    order: int  # P6: lower is drawn first


FUND_KINDS = {
    f.code: f
    for f in (
        FundKind("skills_special", "职业技能专账资金", 1),
        FundKind("employment_subsidy", "就业补助资金", 2),
        FundKind("reward_2021", "2021年奖励资金", 3),
    )
}
# P6: training and evaluation subsidies draw in this order; S4 only from the employment fund (就业补助资金 is the
# employment special fund the plan pays living allowances from).
P6_ORDER = tuple(sorted(FUND_KINDS, key=lambda code: FUND_KINDS[code].order))
FUNDS_OF_CLAIM_TYPE = {"living_allowance": ("employment_subsidy",)}


def funds_for(claim_type: str) -> tuple[str, ...]:
    return FUNDS_OF_CLAIM_TYPE.get(claim_type, P6_ORDER)


@dataclass(frozen=True)
class Shortfall:
    fund_codes: tuple[str, ...]
    needed: Decimal
    available: Decimal

    @property
    def missing(self) -> Decimal:
        return self.needed - self.available


def draw(available: dict[str, Decimal], claims: Sequence[tuple[object, str, Decimal]]
         ) -> tuple[dict[object, list[tuple[str, Decimal]]], list[Shortfall]]:
    """P6: each claim (id, claim type, amount) takes from its funds in order, split across funds where one runs
    out. Returns the parts per claim and, when the funds cannot cover every claim, the shortfall per fund group
    (then nothing may be reserved). `available` is consumed as a working copy."""
    left = dict(available)
    parts: dict[object, list[tuple[str, Decimal]]] = {}
    needed: dict[tuple[str, ...], Decimal] = {}
    short: dict[tuple[str, ...], Decimal] = {}
    for claim_id, claim_type, amount in claims:
        codes = funds_for(claim_type)
        needed[codes] = needed.get(codes, Decimal(0)) + amount
        rest = amount
        taken: list[tuple[str, Decimal]] = []
        for code in codes:
            if rest <= 0:
                break
            part = min(rest, left.get(code, Decimal(0)))
            if part > 0:
                taken.append((code, part))
                left[code] -= part
                rest -= part
        if rest > 0:
            short[codes] = short.get(codes, Decimal(0)) + rest
        parts[claim_id] = taken
    shortfalls = [
        Shortfall(codes, needed[codes], needed[codes] - missing) for codes, missing in sorted(short.items())
    ]
    return parts, shortfalls


# ---- flags ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FlagKind:
    code: str
    rule_id: str
    zh: str
    en: str


FLAGS = {
    f.code: f
    for f in (
        FlagKind("s1_all_at_cap", "S1", "本季度普惠制培训班全部按顶额安排", "every inclusive class of the quarter is planned at the cap"),
        FlagKind("t5_below_50", "T5", "培训班取证率低于 50%", "the class's certificate rate is below 50 %"),
        FlagKind("realname_rejected", "P1", "省培训实名制系统退回", "the province real-name system rejected the record"),
        FlagKind("realname_no_verdict", "P1", "尚无省培训实名制系统确认", "no verdict of the province real-name system"),
        FlagKind("payee_suspended", "I3", "收款机构已被暂停或撤销", "the payee institution is suspended or revoked"),
        FlagKind("paid_twice", "E4", "同一人同一规则已在别处申报或支付", "the same person is declared or paid for this rule elsewhere"),
        FlagKind("near_deadline", "P5", "距兑现截止日不足 30 天", "within 30 days of the P5 deadline"),
        FlagKind("changed_after_declaration", "P4", "申报后发生变化", "changed after declaration"),
    )
}


def flag(code: str, detail: str | None = None) -> dict[str, str | None]:
    f = FLAGS[code]
    return {"code": f.code, "rule_id": f.rule_id, "zh": f.zh, "en": f.en, "detail": detail}


T5_CERTIFICATE_SHARE = Decimal("0.50")  # T5: >= 50 % of an order or inclusive class's trainees certified


def certificate_rate_below(certified: int, trained: int, threshold: Decimal) -> bool:
    """T5: certificates / trainees below the threshold (exact fraction, no rounding)."""
    return trained > 0 and Decimal(certified) < threshold * trained


# ---- verification sample --------------------------------------------------------------------------------------

def sample(declaration_id: str, line_ids: Sequence[str], share: Decimal) -> list[str]:
    """A reproducible random sample of the lines (seeded by the declaration id), at least one line when there
    are lines and the share is above zero."""
    if not line_ids or share <= 0:
        return []
    size = max(1, int((Decimal(len(line_ids)) * share).to_integral_value(rounding=ROUND_HALF_UP)))
    seed = int.from_bytes(hashlib.sha256(declaration_id.encode()).digest()[:8], "big")
    return sorted(random.Random(seed).sample(sorted(line_ids), min(size, len(line_ids))))


def money(value: Decimal | str | int) -> Decimal:
    return Decimal(value).quantize(FEN)
