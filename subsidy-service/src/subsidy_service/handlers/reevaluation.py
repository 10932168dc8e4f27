"""Re-evaluating persons: their facts and their claims are read in one query each for all of them, the pure
`evaluate_person` runs per person, the pure `claim_changes` says what changed, and only those rows are written,
with `subsidy.claim_eligible.v1` / `subsidy.claim_voided.v1` / `subsidy.recovery_opened.v1` (one INSERT) on
transitions. The persons must be locked by the caller (`locks.lock`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

from prometheus_client import Counter
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.subsidy import ClaimEligible, ClaimVoided, RecoveryOpened
from skillkit.db import utcnow
from skillkit.events import EventPayload

from subsidy_service.adapters import claim_rows, fact_store, policy_tables
from subsidy_service.adapters.outbox import outbox
from subsidy_service.domain.chain import (
    AddClaim,
    ChainView,
    ClaimDraft,
    ClaimEvent,
    ClaimState,
    OpenRecovery,
    PersonResult,
    Recompute,
    ReleaseSlots,
    UpdateClaim,
    VoidFrozen,
    claim_changes,
    evaluate_person,
    evaluation_inputs,
    may_recover,
    stored_values,
)
from subsidy_service.domain.facts import FactSet
from subsidy_service.domain.policy import Policies

CLAIM_TRANSITIONS = Counter(
    "subsidy_claim_transitions_total", "Claims entering a state (new claims included)", ["claim_type", "state"]
)

Event = tuple[EventPayload, str, str]  # (payload, partition key, subject) for Outbox.add_many


async def reevaluate(session: AsyncSession, person_keys: Iterable[str]) -> None:
    """Re-evaluates every chain and claim of these persons (locked by the caller)."""
    keys = sorted(set(person_keys))
    if not keys:
        return
    conn = await session.connection()
    facts = await fact_store.person_facts(conn, keys)
    # Without a fact there is nothing to evaluate (no chain, no claim): the tables are not needed then.
    tables = await policy_tables.policies(conn, facts.stamp) if facts.stamp is not None else Policies([])
    existing = await claim_rows.claims_of(conn, keys)
    results = {key: _evaluate(key, facts.of(key), tables, existing.get(key, {})) for key in keys}
    now = utcnow()
    writes = claim_rows.Writes(now=now)
    events: list[Event] = []
    # one row per voucher: should two persons' facts name one voucher, the last person's view is written, as
    # evaluating them one after the other would leave it
    views = {view.voucher_id: view for key in keys for view in results[key].chains.values()}
    writes.chains = [_chain_row(view) for _, view in sorted(views.items())]
    recovered = await claim_rows.recovered(conn, [
        row.id for key in keys for k, row in existing.get(key, {}).items() if may_recover(row, results[key].claims.get(k))
    ])
    for key in keys:
        for change in claim_changes(existing.get(key, {}), results[key].claims, recovered):
            _write(change, now, writes, events)
    await claim_rows.write(conn, writes)
    if events:
        await outbox.add_many(session, events)


def _evaluate(person_key: str, facts: FactSet, tables: Policies, existing: dict[str, Row]) -> PersonResult:
    locked, pinned = evaluation_inputs(existing)
    return evaluate_person(person_key, facts, tables, locked=locked, pinned=pinned)


def link_json(view: ChainView) -> list[dict[str, Any]]:
    return [
        {
            "name": link.name,
            "label": link.label,
            "status": link.status,
            "event_ids": list(link.event_ids),
            "code": link.reason.code if link.reason else None,
            "zh": link.reason.zh if link.reason else None,
            "en": link.reason.en if link.reason else None,
            "note": link.note,
        }
        for link in view.links
    ]


def _chain_row(view: ChainView) -> dict[str, Any]:
    return dict(
        voucher_id=view.voucher_id,
        person_key=view.person_key,
        kind=view.kind,
        policy_year=view.policy_year,
        enrolment_id=view.enrolment_id,
        class_id=view.class_id,
        institution_id=view.institution_id,
        certificate_id=view.certificate_id,
        status=view.status,
        links=link_json(view),
    )


def _write(change: Any, now: datetime, writes: claim_rows.Writes, events: list[Event]) -> None:
    """The rows and events of one change (`domain.chain.changes`)."""
    if isinstance(change, ReleaseSlots):
        writes.slot_releases.append(dict(row_id=change.old.id, quota_slot=None, level_slot=None))
    elif isinstance(change, AddClaim):
        _new_claim(change.draft, now, writes, events)
    elif isinstance(change, UpdateClaim):
        _changed_claim(change, now, writes, events)
    elif isinstance(change, Recompute):
        writes.recomputes.append(dict(row_id=change.old.id, recomputed_amount=change.amount, updated_at=now))
    elif isinstance(change, VoidFrozen):
        reason = change.draft.reason
        writes.frozen_voids.append(dict(
            row_id=change.old.id, state=ClaimState.VOID, reason_code=reason.code, reason_zh=reason.zh,
            reason_en=reason.en, quota_slot=None, level_slot=None, updated_at=now,
        ))
        events.append(_voided(change.old._asdict(), change.draft))
    elif isinstance(change, OpenRecovery):
        _recovery(change, now, writes, events)


def _new_claim(draft: ClaimDraft, now: datetime, writes: claim_rows.Writes, events: list[Event]) -> None:
    values = dict(
        id=uuid.uuid4(), claim_type=draft.claim_type, subject_id=draft.subject_id, part=draft.part,
        created_at=now, updated_at=now, recovery_pending=False, paid_at=None, paid_by=None,
        eligible_at=now if draft.state == ClaimState.ELIGIBLE else None, **stored_values(draft),
    )
    writes.claim_inserts.append(values)
    CLAIM_TRANSITIONS.labels(draft.claim_type, draft.state).inc()
    if draft.state == ClaimState.ELIGIBLE:
        events.append(_eligible(values))


def _changed_claim(change: UpdateClaim, now: datetime, writes: claim_rows.Writes, events: list[Event]) -> None:
    row, draft = change.old, change.draft
    if row.state != draft.state:
        CLAIM_TRANSITIONS.labels(draft.claim_type, draft.state).inc()
    full = dict(id=row.id, claim_type=row.claim_type, subject_id=row.subject_id, part=row.part, **change.values)
    eligible_at = row.eligible_at
    if change.event == ClaimEvent.ELIGIBLE:
        eligible_at = now
        events.append(_eligible(full))
    elif change.event == ClaimEvent.VOIDED:
        events.append(_voided(full, draft))
    writes.claim_updates.append(dict(row_id=row.id, updated_at=now, eligible_at=eligible_at, **change.values))


def _recovery(change: OpenRecovery, now: datetime, writes: claim_rows.Writes, events: list[Event]) -> None:
    """追回: a paid claim whose chain broke for good."""
    row, reason = change.old, change.draft.reason
    recovery_id = uuid.uuid4()
    writes.recoveries.append(dict(
        id=recovery_id, claim_id=row.id, person_key=row.person_key, payee_type=row.payee_type,
        payee_id=row.payee_id, amount=row.amount, reason_code=reason.code, reason_zh=reason.zh,
        reason_en=reason.en, state="open", created_at=now,
    ))
    writes.recovery_marks.append(dict(row_id=row.id, recovery_pending=True, updated_at=now))
    events.append((
        RecoveryOpened(
            recovery_id=str(recovery_id), claim_id=str(row.id), claim_type=row.claim_type, voucher_id=row.voucher_id,
            certificate_id=row.certificate_id, person_key=row.person_key, payee_type=row.payee_type,
            payee_id=row.payee_id, amount=row.amount, reason_code=reason.code, reason=reason.en,
        ),
        row.person_key,
        str(recovery_id),
    ))


def _eligible(claim: dict[str, Any]) -> Event:
    return (
        ClaimEligible(
            claim_id=str(claim["id"]), claim_type=claim["claim_type"], voucher_id=claim["voucher_id"],
            certificate_id=claim["certificate_id"], person_key=claim["person_key"], payee_type=claim["payee_type"],
            payee_id=claim["payee_id"] or "", amount=claim["amount"], policy_year=claim["policy_year"],
            rule_ids=list(claim["rule_ids"]), part=claim["part"], table_year=claim["table_year"],
            table_version=claim["table_version"], institution_id=claim["institution_id"],
            lines=[line["text"] for line in claim["lines"]],
        ),
        claim["person_key"],
        str(claim["id"]),
    )


def _voided(claim: dict[str, Any], draft: ClaimDraft) -> Event:
    return (
        ClaimVoided(
            claim_id=str(claim["id"]), voucher_id=claim["voucher_id"], person_key=claim["person_key"],
            reason=draft.reason.en if draft.reason else "chain incomplete again", claim_type=claim["claim_type"],
            certificate_id=claim["certificate_id"], reason_code=draft.reason.code if draft.reason else None,
            state=draft.state,
        ),
        claim["person_key"],
        str(claim["id"]),
    )
