"""What a re-evaluation changes in a person's stored claims: the new drafts against the claims stored before.

Which claims to add, which to update (and the event each transition emits), which frozen (declared … paid)
claims to void, recompute or recover, and whose E4 / E5 slots to release before any claim takes one. Pure: the
re-evaluation handler turns the changes into rows and events, in the order given here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping, Protocol

from subsidy_service.domain.chain.results import ClaimDraft
from subsidy_service.domain.chain.vocabulary import FROZEN, RECORD_ONLY, UNPAID_FROZEN, ClaimState, Reason
from subsidy_service.domain.rules import Line


class StoredClaim(Protocol):
    """A claim as stored (a claims row): its identity, state, slots, recovery mark and every column of
    `stored_values` (compared with the draft's)."""

    id: Any
    claim_type: str
    subject_id: str
    part: str
    person_key: str
    voucher_id: str | None
    certificate_id: str | None
    institution_id: str | None
    payee_type: str
    payee_id: str | None
    kind: str
    policy_year: int
    table_year: int | None
    table_version: int | None
    amount: Decimal
    lines: list[dict[str, str]] | None
    state: str
    recomputed_amount: Decimal | None
    recovery_pending: bool
    quota_slot: str | None
    level_slot: str | None


class ClaimEvent(StrEnum):
    """The event an updated claim emits."""

    ELIGIBLE = "eligible"  # subsidy.claim_eligible.v1: it became eligible, or its amount changed while eligible
    VOIDED = "voided"  # subsidy.claim_voided.v1: it is no longer eligible, or it was voided


@dataclass(frozen=True)
class ReleaseSlots:
    """A claim that is not frozen gives up its E4 / E5 slot (before any claim takes one)."""

    old: StoredClaim


@dataclass(frozen=True)
class AddClaim:
    draft: ClaimDraft


@dataclass(frozen=True)
class UpdateClaim:
    """A claim that is not frozen takes the draft's values; `event` says which event the change emits."""

    old: StoredClaim
    draft: ClaimDraft
    values: dict[str, Any]  # stored_values(draft)
    event: ClaimEvent | None


@dataclass(frozen=True)
class Recompute:
    """A declared claim keeps its amount; the amount computed now is kept beside it ("changed after
    declaration"), or cleared when it is the same again."""

    old: StoredClaim
    amount: Decimal | None


@dataclass(frozen=True)
class VoidFrozen:
    """A declared, verified or approved claim whose chain broke for good: void (its declaration line shows it)."""

    old: StoredClaim
    draft: ClaimDraft


@dataclass(frozen=True)
class OpenRecovery:
    """A paid claim whose chain broke for good: 追回 (once per claim)."""

    old: StoredClaim
    draft: ClaimDraft


Change = ReleaseSlots | AddClaim | UpdateClaim | Recompute | VoidFrozen | OpenRecovery


def evaluation_inputs(old: Mapping[str, StoredClaim]) -> tuple[frozenset[str], dict[str, tuple[int, int]]]:
    """`evaluate_person`'s `locked` (frozen claims keep their E4 / E5 slot) and `pinned` (an eligible or frozen
    claim stays on the table version it became eligible under) from the stored claims."""
    locked = frozenset(k for k, c in old.items() if c.state in FROZEN)
    pinned = {
        k: (c.table_year, c.table_version)
        for k, c in old.items()
        if (c.state == ClaimState.ELIGIBLE or c.state in FROZEN)
        and c.table_year is not None and c.table_version is not None
    }
    return locked, pinned


def may_recover(old: StoredClaim, draft: ClaimDraft | None) -> bool:
    """A paid claim, no recovery pending, whose draft is now void (not for a record-only reason, S9): a recovery is
    due unless one exists."""
    return (old.state == ClaimState.PAID and not old.recovery_pending and draft is not None
            and draft.state == ClaimState.VOID
            and (draft.reason is None or draft.reason.code not in RECORD_ONLY))


def claim_changes(old: Mapping[str, StoredClaim], drafts: Mapping[str, ClaimDraft],
                  recovered: set[Any] = frozenset()) -> list[Change]:
    """The changes that bring one person's stored claims (claim key -> claim) to the drafts (claim key -> draft);
    `recovered`: ids of claims that already have a recovery."""
    changes: list[Change] = []
    for key, claim in old.items():
        draft = drafts.get(key)
        if draft is None or claim.state in FROZEN:
            continue
        if ((claim.quota_slot, claim.level_slot) != (draft.quota_slot, draft.level_slot)
                and (claim.quota_slot or claim.level_slot)):
            changes.append(ReleaseSlots(claim))
    for key, claim in sorted(old.items()):
        # A claim the facts no longer yield (a project's single claim once its S3 stages are known) is void, unless
        # the payment flow already holds it.
        if key not in drafts and claim.state not in FROZEN and claim.state != ClaimState.VOID:
            changes.extend(_update(claim, superseded(claim)))
    for key, draft in sorted(drafts.items()):
        claim = old.get(key)
        if claim is None:
            changes.append(AddClaim(draft))
        elif claim.state in FROZEN:
            changes.extend(_frozen(claim, draft, recovered))
        else:
            changes.extend(_update(claim, draft))
    return changes


def superseded(claim: StoredClaim) -> ClaimDraft:
    """The stored claim, void: the facts no longer yield it."""
    return ClaimDraft(
        claim_type=claim.claim_type, subject_id=claim.subject_id, part=claim.part, person_key=claim.person_key,
        voucher_id=claim.voucher_id, certificate_id=claim.certificate_id, institution_id=claim.institution_id,
        payee_type=claim.payee_type, payee_id=claim.payee_id, kind=claim.kind, policy_year=claim.policy_year,
        table_year=claim.table_year, table_version=claim.table_version, amount=claim.amount,
        lines=tuple(Line(entry["rule_id"], entry["text"], Decimal(entry["amount"])) for entry in claim.lines or ()),
        state=ClaimState.VOID, reason=Reason.of("claim_superseded"),
    )


def stored_values(draft: ClaimDraft) -> dict[str, Any]:
    """The draft as the claim's stored columns (lines and missing reasons as JSON-ready lists)."""
    return dict(
        person_key=draft.person_key,
        voucher_id=draft.voucher_id,
        certificate_id=draft.certificate_id,
        institution_id=draft.institution_id,
        payee_type=draft.payee_type,
        payee_id=draft.payee_id,
        kind=draft.kind,
        policy_year=draft.policy_year,
        table_year=draft.table_year,
        table_version=draft.table_version,
        amount=draft.amount,
        lines=[{"rule_id": line.rule_id, "text": line.text, "amount": str(line.amount)} for line in draft.lines],
        rule_ids=list(draft.rule_ids),
        state=draft.state,
        reason_code=draft.reason.code if draft.reason else None,
        reason_zh=draft.reason.zh if draft.reason else None,
        reason_en=draft.reason.en if draft.reason else None,
        missing=[{"code": r.code, "zh": r.zh, "en": r.en} for r in draft.missing],
        quota_slot=draft.quota_slot,
        level_slot=draft.level_slot,
    )


def _update(claim: StoredClaim, draft: ClaimDraft) -> list[Change]:
    values = stored_values(draft)
    if not any(getattr(claim, name) != value for name, value in values.items()):
        return []
    event = None
    if draft.state == ClaimState.ELIGIBLE and (claim.state != ClaimState.ELIGIBLE or claim.amount != draft.amount):
        event = ClaimEvent.ELIGIBLE
    elif (claim.state == ClaimState.ELIGIBLE and draft.state != ClaimState.ELIGIBLE
          or (draft.state == ClaimState.VOID and claim.state != ClaimState.VOID)):
        event = ClaimEvent.VOIDED
    return [UpdateClaim(claim, draft, values, event)]


def _frozen(claim: StoredClaim, draft: ClaimDraft, recovered: set[Any]) -> list[Change]:
    """A declared / paid claim keeps its amount (another amount computed now is kept beside it, for the bureau:
    "changed after declaration"). Revoked before payment: void. After payment: 追回. Refused and expired claims
    are final."""
    if draft.state != ClaimState.VOID:
        recomputed = draft.amount if draft.amount != claim.amount else None
        if claim.state in UNPAID_FROZEN and recomputed != claim.recomputed_amount:
            return [Recompute(claim, recomputed)]
        return []
    if claim.state in UNPAID_FROZEN:
        return [VoidFrozen(claim, draft)]
    if may_recover(claim, draft) and claim.id not in recovered:
        return [OpenRecovery(claim, draft)]
    return []  # opened once per claim
