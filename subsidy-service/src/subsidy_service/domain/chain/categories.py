"""Eligibility on evidence (issue 13): the money that rests on a category waits until the category is confirmed —
by township or bureau staff, or by the roster of the office that keeps its register (`worker.category_reviewed.v1`,
the newest review of a (person, category) standing).

- `category` link (E1, E2): order and project training need one of the six categories confirmed (E1), entrepreneurship
  training one of E2's; a founder counts only with a business licence issued less than a year before the enrolment.
  Other kinds (inclusive, caregiver, enterprise) do not rest on a category here and have no such link.
- `allowance_category` link (E3): the S4 allowance needs 脱贫劳动力 or 监测户 confirmed; it gates the allowance only.
"""

from __future__ import annotations

from datetime import date

from skillkit.contracts.vocab import (
    E1_SIX_CATEGORIES,
    E2_ENTREPRENEURSHIP,
    E3_LIVING_ALLOWANCE,
    WORKER_CATEGORY_LABELS,
    CategoryReviewStatus,
    WorkerCategory,
)
from skillkit.county import local_date

from subsidy_service.domain.chain.vocabulary import BROKEN, MISSING, OK, Link, Reason
from subsidy_service.domain.chain.working import WorkingChain, event_ids
from subsidy_service.domain.facts import Fact, FactSet

# The voucher kinds whose training subsidy rests on a confirmed category, with the rule and its categories.
CATEGORY_GATES: dict[str, tuple[str, frozenset[WorkerCategory]]] = {
    "order": ("E1", E1_SIX_CATEGORIES),
    "project": ("E1", E1_SIX_CATEGORIES),
    "entrepreneurship": ("E2", E2_ENTREPRENEURSHIP),
}
# E2: a founder's business licence must have been issued less than this many years before the enrolment.
E2_FOUNDER_LICENCE_YEARS = 1
FOUNDER = WorkerCategory.NEW_BUSINESS_FOUNDER


def _labels(categories: set[WorkerCategory] | frozenset[WorkerCategory]) -> tuple[str, str]:
    ordered = sorted(categories)
    return "、".join(WORKER_CATEGORY_LABELS[c] for c in ordered), ", ".join(ordered)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def enrolment_day(c: WorkingChain) -> date | None:
    """The day the person enrolled (county time): the enrolment's event, else the binding."""
    if c.enrolled is not None:
        return local_date(c.enrolled.time)
    if c.bound is not None:
        return local_date(c.bound.payload.bound_at)
    return None


def _link(name: str, rule_id: str, needed: frozenset[WorkerCategory], c: WorkingChain, facts: FactSet) -> Link:
    reviews = {f.payload.category: f for f in facts.of("category")
               if f.person_key == c.voucher.payload.person_key and f.payload.category in needed}  # type: ignore[union-attr]
    declared = {WorkerCategory(x) for x in c.voucher.payload.categories} & needed  # type: ignore[union-attr]
    day = enrolment_day(c)
    confirmed: list[Fact] = []
    stale_licence: Fact | None = None
    founder_waits = False
    for category, review in sorted(reviews.items()):
        if review.payload.status != CategoryReviewStatus.CONFIRMED:
            continue
        if category == FOUNDER:
            licence = review.payload.licence_issued_on
            if day is None:
                founder_waits = True  # checked against the enrolment day, once there is one
                continue
            if licence is None or not _years_before(day, E2_FOUNDER_LICENCE_YEARS) < licence <= day:
                stale_licence = review
                continue
        confirmed.append(review)
    if confirmed:
        words = "；".join(f"{WORKER_CATEGORY_LABELS[f.payload.category]}（{f.payload.evidence_reference}）"
                         for f in confirmed)
        return Link(name, OK, event_ids(*confirmed), note=f"已核实：{words}")
    undecided = declared - set(reviews)
    if founder_waits and not undecided:  # confirmed, but the licence's age is measured at the enrolment
        return Link(name, MISSING, event_ids(*reviews.values()), Reason.of("enrolment_missing"))
    if undecided or not reviews:
        zh, en = _labels(undecided or (declared or needed))
        return Link(name, MISSING, event_ids(*reviews.values()), Reason.of("category_unconfirmed", zh, en, rule_id))
    if stale_licence is not None:
        licence = stale_licence.payload.licence_issued_on
        return Link(name, BROKEN, event_ids(stale_licence), Reason.of(
            "founder_licence_not_within_year", licence.isoformat() if licence else "—", day.isoformat() if day else "—"))
    zh, en = _labels(set(reviews))
    return Link(name, BROKEN, event_ids(*reviews.values()), Reason.of("category_rejected", zh, en, rule_id))


def category_link(c: WorkingChain, facts: FactSet) -> Link | None:
    """E1 / E2 on evidence, for the kinds whose training subsidy rests on a category."""
    if c.voucher is None or c.voucher.payload.kind.value not in CATEGORY_GATES:
        return None
    rule_id, needed = CATEGORY_GATES[c.voucher.payload.kind.value]
    return _link("category", rule_id, needed, c, facts)


def allowance_applies(c: WorkingChain, facts: FactSet) -> bool:
    """S4 is for E3 persons: declared at the voucher's issue, or confirmed by a register since."""
    if c.voucher is None:
        return False
    return c.voucher.payload.living_allowance_eligible or any(
        f.person_key == c.voucher.payload.person_key and f.payload.category in E3_LIVING_ALLOWANCE
        and f.payload.status == CategoryReviewStatus.CONFIRMED for f in facts.of("category"))


def allowance_category_link(c: WorkingChain, facts: FactSet) -> Link | None:
    """E3 on evidence: the allowance waits for 脱贫劳动力 or 监测户 to be confirmed."""
    if not allowance_applies(c, facts):
        return None
    return _link("allowance_category", "E3", E3_LIVING_ALLOWANCE, c, facts)
