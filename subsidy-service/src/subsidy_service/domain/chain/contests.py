"""E4 and E5 contests: at most one live claim per slot (a declared or paid one first, then the earliest); the S3
stages follow their first stage's E4 refusal."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from subsidy_service.domain.chain.results import ClaimDraft, claim_key
from subsidy_service.domain.chain.vocabulary import EVALUATION, MAIN, S3_FIRST, S6_FIRST, TRAINING, ClaimState, Reason


def _contest(claims: dict[str, ClaimDraft], slot_of, locked: frozenset[str], loser_reason) -> None:
    """At most one live claim per slot: a locked (declared / paid) claim first, then the earliest."""
    groups: dict[tuple, list[ClaimDraft]] = {}
    for draft in claims.values():
        slot = slot_of(draft)
        if slot is not None:
            groups.setdefault(slot, []).append(draft)
    for slot, drafts in groups.items():
        contenders = [d for d in drafts if d.key in locked or d.state in (ClaimState.ELIGIBLE, ClaimState.HELD)]
        contenders.sort(key=lambda d: (d.key not in locked, d.order, d.key))
        winner = contenders[0].key if contenders else None
        for d in drafts:
            if d.key == winner:
                continue
            if d.state in (ClaimState.ELIGIBLE, ClaimState.HELD) and d.key not in locked:
                reason = loser_reason(d)
                claims[d.key] = replace(d, state=ClaimState.REJECTED, reason=reason, missing=(), quota_slot=None, level_slot=None)
            else:
                claims[d.key] = replace(claims[d.key], quota_slot=None, level_slot=None)


def contest_e4(claims: dict[str, ClaimDraft], locked: frozenset[str]) -> None:
    """E4: per person per calendar (policy) year one inclusive and one project-or-order training subsidy."""
    _contest(
        claims,
        lambda d: (d.policy_year, d.quota_slot) if d.claim_type == TRAINING and d.quota_slot else None,
        locked,
        lambda d: Reason.of("e4_limit", "普惠制" if d.quota_slot == "inclusive" else "项目制/订单式"),
    )


def follow_first_stage(claims: dict[str, ClaimDraft], locked: frozenset[str]) -> None:
    """S3 staged settlement: the later stages follow their first stage's E4 refusal (one project subsidy a year)."""
    for key, draft in list(claims.items()):
        if draft.claim_type != TRAINING or not draft.part.startswith("S3-") or draft.part == S3_FIRST:
            continue
        first = claims.get(claim_key(TRAINING, draft.subject_id, S3_FIRST))
        if (first is not None and first.reason is not None and first.reason.code == "e4_limit"
                and key not in locked and draft.state in (ClaimState.ELIGIBLE, ClaimState.HELD, ClaimState.WAITING)):
            claims[key] = replace(draft, state=ClaimState.REJECTED, reason=first.reason, missing=())


def contest_e5(claims: dict[str, ClaimDraft], locked: frozenset[str]) -> None:
    """E5: an evaluation subsidy once per person per certificate level."""
    _contest(
        claims,
        lambda d: d.level_slot if d.claim_type == EVALUATION and d.level_slot else None,
        locked,
        lambda d: Reason.of("e5_limit"),
    )


def lead_claim(claims: Mapping[str, ClaimDraft], voucher_id: str) -> ClaimDraft | None:
    """The voucher's training claim that holds its E4 slot: main, S6's first part, or S3's first stage."""
    for part in (MAIN, S6_FIRST, S3_FIRST):
        draft = claims.get(claim_key(TRAINING, voucher_id, part))
        if draft is not None:
            return draft
    return None
