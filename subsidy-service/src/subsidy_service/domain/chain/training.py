"""The training claims of one chain (S1–S3, S5–S7, E8): their parts, amounts, payees, states and E4 slots."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Mapping

from subsidy_service.domain.chain.rates import employment_rate, licence_rate
from subsidy_service.domain.chain.results import ClaimDraft, claim_key
from subsidy_service.domain.chain.states import state_from, with_suspension
from subsidy_service.domain.chain.vocabulary import (
    ALLOWANCE_ONLY_LINKS,
    MAIN,
    S3_FIRST,
    S3_STAGE_LINKS,
    S6_FIRST,
    S6_REST,
    TRAINING,
    ClaimState,
    Reason,
)
from subsidy_service.domain.chain.working import WorkingChain, institution_of
from subsidy_service.domain.facts import FactSet
from subsidy_service.domain.policy import Policies, PolicyTable
from subsidy_service.domain.rules import (
    ZERO,
    Computed,
    pct,
    s1_inclusive,
    s2_order,
    s3_project,
    s3_stage_parts,
    s5_enterprise,
    s6_parts,
    s6_platform_fee,
    s7_caregiver,
)


def training_claims(
    person_key: str, c: WorkingChain, facts: FactSet, policies: Policies, pinned: Mapping[str, tuple[int, int]]
) -> list[ClaimDraft]:
    if c.voucher is None:
        return []  # E6: no voucher, no subsidy (and no claim until the voucher is known)
    v = c.voucher.payload
    kind = v.kind.value
    parts = (S6_FIRST, S6_REST) if kind == "entrepreneurship" else (MAIN,)
    on = c.completed.payload.completed_on if c.completed else None
    stages = _s3_stages(c, policies, pinned, on) if kind == "project" else ()
    if stages:  # S3 staged settlement: one claim line per stage of the project
        parts = tuple(f"S3-{number}" for number in range(1, len(stages) + 1))
    drafts = []
    for part in parts:
        key = claim_key(TRAINING, c.voucher_id, part)
        table = policies.resolve(v.policy_year, pinned.get(key), on)
        stage = stages[int(part[3:]) - 1] if stages else None
        needed = S3_STAGE_LINKS.get(stage.code) if stage is not None else None
        links = [link for link in c.links
                 if (needed is None or link.name in needed) and link.name not in ALLOWANCE_ONLY_LINKS]
        computed = None
        if table is not None:
            computed = _s3_stage_amount(c, table, part) if stage is not None else _training_amount(c, table, part)
        state, reason, missing = state_from(links)
        if stage is not None and stage.code == "employment" and state == ClaimState.ELIGIBLE:
            employed = facts.get("employed", c.enrolled.key) if c.enrolled is not None else None
            months = employed.payload.contract_months if employed is not None else None
            if months is None or months < stage.employment_months:
                reason = Reason.of("employment_missing", stage.employment_months)
                state, missing = ClaimState.WAITING, (reason,)
        if table is None:
            missing = missing + (Reason.of("no_policy_table"),)
            if state == ClaimState.ELIGIBLE:
                state, reason = ClaimState.WAITING, Reason.of("no_policy_table")
        if part == S6_REST and state == ClaimState.ELIGIBLE and table is not None:
            # S6's second part: eligible the moment licences reach the gate, whether or not the six-month window
            # is still open; short of it, it waits while the window is open and is refused once it closed.
            licence = licence_rate(c.outcome)
            gate = Fraction(table.s6.licence_rate_gate)
            if licence is None or licence < gate:
                shown = pct(licence) if licence is not None else "0.0 %"
                outcome = c.outcome.payload if c.outcome is not None else None
                if outcome is not None and outcome.follow_up_open:
                    closes = outcome.follow_up_closes_on.isoformat() if outcome.follow_up_closes_on else "—"
                    reason = Reason.of("licence_follow_up_open", shown, pct(gate), closes)
                    state, missing = ClaimState.WAITING, (reason,)
                else:
                    reason = Reason.of("licence_rate_below", shown, pct(gate))
                    state, missing = ClaimState.REJECTED, ()
        if state == ClaimState.ELIGIBLE and computed is None:
            state, reason = ClaimState.WAITING, Reason.of("outcome_missing")
        payee_type, payee_id = _training_payee(c)
        if kind == "enterprise" and c.klass is not None and payee_id is None and state == ClaimState.ELIGIBLE:
            state, reason = ClaimState.WAITING, Reason.of("enterprise_not_named")
            missing = (reason,)
        state, reason = with_suspension(state, reason, c, key, facts)
        slot = None
        if part == MAIN and kind == "inclusive":
            slot = "inclusive"
        elif part in (MAIN, S3_FIRST) and kind in ("project", "order"):
            slot = "project_or_order"  # a staged project holds its E4 slot with its first stage
        completed_on = c.completed.payload.completed_on if c.completed else date.max
        drafts.append(
            ClaimDraft(
                claim_type=TRAINING,
                subject_id=c.voucher_id,
                part=part,
                person_key=person_key,
                voucher_id=c.voucher_id,
                certificate_id=c.certificate.key if c.certificate else None,
                institution_id=institution_of(c),
                payee_type=payee_type,
                payee_id=payee_id,
                kind=kind,
                policy_year=v.policy_year,
                table_year=table.policy_year if table else None,
                table_version=table.version if table else None,
                amount=computed.amount if computed else ZERO,
                lines=computed.lines if computed else (),
                state=state,
                reason=reason,
                missing=missing,
                quota_slot=slot,  # provisional: the E4 contest keeps it only for the winner
                order=(completed_on, c.voucher_id),
            )
        )
    return drafts


def _s3_stages(c: WorkingChain, policies: Policies, pinned: Mapping[str, tuple[int, int]], on: date | None) -> tuple:
    """The stages of the class's project, from the table its first stage is (or would be) computed with."""
    if c.voucher is None or c.klass is None:
        return ()
    table = policies.resolve(c.voucher.payload.policy_year, pinned.get(claim_key(TRAINING, c.voucher_id, S3_FIRST)), on)
    return table.s3.rate(c.klass.payload.project_reference).stages if table is not None else ()


def _s3_stage_amount(c: WorkingChain, table: PolicyTable, part: str) -> Computed | None:
    """A stage's share: on the attended (paid) days once completed, on the class's planned days before."""
    if c.klass is None:
        return None
    klass = c.klass.payload
    planned = c.completed is None
    parts = s3_stage_parts(table, klass.planned_days if planned else paid_days(c), klass.project_reference, planned)
    number = int(part[3:])
    return parts[number - 1] if number <= len(parts) else None


def _training_payee(c: WorkingChain) -> tuple[str, str | None]:
    """S5 is claimed by the enterprise the on-the-job class names; every other training claim by the institution."""
    kind = c.voucher.payload.kind.value if c.voucher else None
    if kind == "enterprise":
        return "enterprise", c.klass.payload.enterprise_id if c.klass is not None else None
    return "institution", institution_of(c)


def paid_days(c: WorkingChain) -> int:
    """The attended days, at most the class's planned days: the per-day subsidies (S1–S7) pay the training the
    class filed, and a day beyond its plan is not subsidised (the check-ins stay on record)."""
    days = c.completed.payload.attended_days if c.completed else 0
    return min(days, c.klass.payload.planned_days) if c.klass is not None else days


def _training_amount(c: WorkingChain, table: PolicyTable, part: str) -> Computed | None:
    if c.completed is None or c.voucher is None:
        return None
    days = paid_days(c)
    kind = c.voucher.payload.kind.value
    klass = c.klass.payload if c.klass else None
    if klass is not None and klass.outbound and table.e8.paid_as_inclusive and kind not in ("entrepreneurship", "enterprise"):
        return s1_inclusive(table, days, rule_id="E8")  # E8: outbound training paid as S1
    if kind == "inclusive":
        return s1_inclusive(table, days)
    if kind == "order":
        rate = employment_rate(c.outcome)
        if rate is None or klass is None:
            return None
        return s2_order(table, days, rate, klass.occupation_code, klass.level, klass.subsidised_day_limit)
    if kind == "project":
        return s3_project(table, days, klass.project_reference if klass else None)
    if kind == "enterprise":
        return s5_enterprise(table)
    if kind == "caregiver":
        return s7_caregiver(table, days)
    if kind == "entrepreneurship":
        first, rest = s6_parts(table, days)
        fee = s6_platform_fee(table) if klass is not None and klass.course == "online" else None
        if fee is not None:  # the operator delivered the course: its fee comes with the first part, whole
            first = Computed(first.amount + fee.amount, first.lines + (fee,))
        return first if part == S6_FIRST else rest
    return None
