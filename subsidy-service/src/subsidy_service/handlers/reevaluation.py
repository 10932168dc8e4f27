"""Re-evaluating persons: their facts and their claims are read in one query each for all of them, the pure
`evaluate_person` runs per person, and only the rows that changed are written, with
`subsidy.claim_eligible.v1` / `subsidy.claim_voided.v1` / `subsidy.recovery_opened.v1` (one INSERT) on
transitions. The persons must be locked by the caller (`locks.lock`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from prometheus_client import Counter
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.subsidy import ClaimEligible, ClaimVoided, RecoveryOpened
from skillkit.db import utcnow
from skillkit.events import EventPayload

from subsidy_service.adapters import claim_rows, store
from subsidy_service.adapters.outbox import outbox
from subsidy_service.domain.chain import FROZEN, UNPAID_FROZEN, ChainView, ClaimDraft, ClaimState, PersonResult, Reason, evaluate_person
from subsidy_service.domain.rules import Line
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
    facts = await store.person_facts(conn, keys)
    # Without a fact there is nothing to evaluate (no chain, no claim): the tables are not needed then.
    tables = await store.policies(conn, facts.stamp) if facts.stamp is not None else Policies([])
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
        row.id for key in keys for k, row in existing.get(key, {}).items()
        if row.state == ClaimState.PAID and not row.recovery_pending and k in results[key].claims
        and results[key].claims[k].state == ClaimState.VOID
    ])
    for key in keys:
        _diff_claims(existing.get(key, {}), results[key], recovered, now, writes, events)
    await claim_rows.write(conn, writes)
    if events:
        await outbox.add_many(session, events)


def _evaluate(person_key: str, facts: FactSet, tables: Policies, existing: dict[str, Row]) -> PersonResult:
    locked = frozenset(k for k, c in existing.items() if c.state in FROZEN)
    pinned = {
        k: (c.table_year, c.table_version)
        for k, c in existing.items()
        if (c.state == ClaimState.ELIGIBLE or c.state in FROZEN) and c.table_year is not None and c.table_version is not None
    }
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


def _values(draft: ClaimDraft) -> dict[str, Any]:
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


def _diff_claims(existing: dict[str, Row], result: PersonResult, recovered: set[Any], now: datetime,
                 writes: claim_rows.Writes, events: list[Event]) -> None:
    for key, row in existing.items():
        draft = result.claims.get(key)
        if draft is None or row.state in FROZEN:
            continue
        if (row.quota_slot, row.level_slot) != (draft.quota_slot, draft.level_slot) and (row.quota_slot or row.level_slot):
            writes.slot_releases.append(dict(row_id=row.id, quota_slot=None, level_slot=None))
    for key, row in sorted(existing.items()):
        # A claim the facts no longer yield (a project's single claim once its S3 stages are known) is void, unless
        # the payment flow already holds it.
        if key not in result.claims and row.state not in FROZEN and row.state != ClaimState.VOID:
            _changed_claim(row, _superseded(row), now, writes, events)
    for key, draft in sorted(result.claims.items()):
        row = existing.get(key)
        if row is None:
            _new_claim(draft, now, writes, events)
        elif row.state in FROZEN:
            _frozen_claim(row, draft, recovered, now, writes, events)
        else:
            _changed_claim(row, draft, now, writes, events)


def _superseded(row: Row) -> ClaimDraft:
    return ClaimDraft(
        claim_type=row.claim_type, subject_id=row.subject_id, part=row.part, person_key=row.person_key,
        voucher_id=row.voucher_id, certificate_id=row.certificate_id, institution_id=row.institution_id,
        payee_type=row.payee_type, payee_id=row.payee_id, kind=row.kind, policy_year=row.policy_year,
        table_year=row.table_year, table_version=row.table_version, amount=row.amount,
        lines=tuple(Line(entry["rule_id"], entry["text"], Decimal(entry["amount"])) for entry in row.lines or ()),
        state=ClaimState.VOID, reason=Reason.of("claim_superseded"),
    )


def _new_claim(draft: ClaimDraft, now: datetime, writes: claim_rows.Writes, events: list[Event]) -> None:
    values = dict(
        id=uuid.uuid4(), claim_type=draft.claim_type, subject_id=draft.subject_id, part=draft.part,
        created_at=now, updated_at=now, recovery_pending=False, paid_at=None, paid_by=None,
        eligible_at=now if draft.state == ClaimState.ELIGIBLE else None, **_values(draft),
    )
    writes.claim_inserts.append(values)
    CLAIM_TRANSITIONS.labels(draft.claim_type, draft.state).inc()
    if draft.state == ClaimState.ELIGIBLE:
        events.append(_eligible(values))


def _changed_claim(row: Row, draft: ClaimDraft, now: datetime, writes: claim_rows.Writes, events: list[Event]) -> None:
    values = _values(draft)
    if not any(getattr(row, name) != value for name, value in values.items()):
        return
    old_state, old_amount = row.state, row.amount
    eligible_at = row.eligible_at
    if old_state != draft.state:
        CLAIM_TRANSITIONS.labels(draft.claim_type, draft.state).inc()
    full = dict(id=row.id, claim_type=row.claim_type, subject_id=row.subject_id, part=row.part, **values)
    if draft.state == ClaimState.ELIGIBLE and (old_state != ClaimState.ELIGIBLE or old_amount != draft.amount):
        eligible_at = now
        events.append(_eligible(full))
    elif old_state == ClaimState.ELIGIBLE and draft.state != ClaimState.ELIGIBLE or (draft.state == ClaimState.VOID and old_state != ClaimState.VOID):
        events.append(_voided(full, draft))
    writes.claim_updates.append(dict(row_id=row.id, updated_at=now, eligible_at=eligible_at, **values))


def _frozen_claim(row: Row, draft: ClaimDraft, recovered: set[Any], now: datetime, writes: claim_rows.Writes,
                  events: list[Event]) -> None:
    """A declared / paid claim keeps its amount (another amount computed now is kept beside it, for the bureau:
    "changed after declaration"). Revoked before payment: void. After payment: 追回. Refused and expired claims
    are final."""
    if draft.state != ClaimState.VOID:
        recomputed = draft.amount if draft.amount != row.amount else None
        if row.state in UNPAID_FROZEN and recomputed != row.recomputed_amount:
            writes.recomputes.append(dict(row_id=row.id, recomputed_amount=recomputed, updated_at=now))
        return
    if row.state in UNPAID_FROZEN:
        writes.frozen_voids.append(dict(
            row_id=row.id, state=ClaimState.VOID, reason_code=draft.reason.code, reason_zh=draft.reason.zh,
            reason_en=draft.reason.en, quota_slot=None, level_slot=None, updated_at=now,
        ))
        events.append(_voided(row._asdict(), draft))
        return
    if row.state != ClaimState.PAID or row.recovery_pending or row.id in recovered:
        return  # opened once per claim
    recovery_id = uuid.uuid4()
    writes.recoveries.append(dict(
        id=recovery_id, claim_id=row.id, person_key=row.person_key, payee_type=row.payee_type,
        payee_id=row.payee_id, amount=row.amount, reason_code=draft.reason.code, reason_zh=draft.reason.zh,
        reason_en=draft.reason.en, state="open", created_at=now,
    ))
    writes.recovery_marks.append(dict(row_id=row.id, recovery_pending=True, updated_at=now))
    events.append((
        RecoveryOpened(
            recovery_id=str(recovery_id), claim_id=str(row.id), claim_type=row.claim_type, voucher_id=row.voucher_id,
            certificate_id=row.certificate_id, person_key=row.person_key, payee_type=row.payee_type,
            payee_id=row.payee_id, amount=row.amount, reason_code=draft.reason.code, reason=draft.reason.en,
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
