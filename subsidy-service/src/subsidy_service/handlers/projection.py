"""The chain projection: store the fact an event carries, then re-evaluate the affected persons' chains.

Every handler does the same three things in one transaction (the kit's EventProcessor commits it):
1. take the scope locks (class, institution, enrolment) and then the person rows, in sorted order;
2. store the fact idempotently by its natural key, never overwriting a newer version with an older one;
3. call the pure `evaluate_person` and upsert chains and claims by their natural keys, emitting
   `subsidy.claim_eligible.v1` / `subsidy.claim_voided.v1` on transitions.
So any order, delay or duplication of the events leaves the same claims.
"""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.subsidy import ClaimEligible, ClaimVoided, RecoveryOpened
from skillkit.db import utcnow
from skillkit.events import Envelope

from subsidy_service.adapters import store
from subsidy_service.adapters.models import ChainRow, Claim, FactRow, Person, Recovery
from subsidy_service.adapters.outbox import outbox
from subsidy_service.domain.chain import ELIGIBLE, VOID, ChainView, ClaimDraft, evaluate_person
from subsidy_service.domain.facts import Fact, from_envelope
from subsidy_service.domain.policy import Policies

CLAIM_TRANSITIONS = Counter(
    "subsidy_claim_transitions_total", "Claims entering a state (new claims included)", ["claim_type", "state"]
)

# States after eligibility that the payment flow sets; their amount and table version are frozen.
FROZEN = frozenset({"declared", "verified", "approved", "paid"})
PAID = "paid"


DIRTY_PERSONS = "subsidy_dirty_persons"


async def handle_event(session: AsyncSession, envelope: Envelope) -> None:
    """Stores the event's fact; the persons it affects are re-evaluated once per batch (`reevaluate_dirty`)."""
    fact = from_envelope(envelope)
    if fact is None:
        return
    await apply_fact(session, fact, defer=True)


async def reevaluate_dirty(session: AsyncSession) -> None:
    """The consumer's before-commit step: each person touched by the batch is re-evaluated once."""
    dirty: set[str] = session.info.pop(DIRTY_PERSONS, set())
    if not dirty:
        return
    tables = await store.policies(session)
    for key in sorted(dirty):
        await reevaluate(session, key, tables)


async def apply_fact(
    session: AsyncSession, fact: Fact, person_key: str | None = None, *, defer: bool = False
) -> list[str]:
    """Stores one fact and re-evaluates everyone it affects (now, or at the end of the batch when
    `defer`); returns the persons affected. Their rows stay locked until the transaction ends."""
    names, exclusive = store.scopes_of(fact)
    await store.lock_scopes(session, names, exclusive=exclusive)
    persons = [person_key] if person_key else await store.affected_persons(session, fact)
    await store.lock_persons(session, persons)
    changed = await store.put_fact(session, fact, person_key=person_key)
    if not changed:
        return []
    if fact.kind in ("worker", "account"):
        await _project_worker(session, fact.person_key)
        return []
    if defer:
        session.info.setdefault(DIRTY_PERSONS, set()).update(persons)
        return persons
    tables = await store.policies(session) if persons else None
    for key in persons:
        await reevaluate(session, key, tables)
    return persons


async def _project_worker(session: AsyncSession, person_key: str) -> None:
    """The worker projection: the newest account subject of a person (registration or a later link)."""
    rows = list(
        await session.scalars(
            select(FactRow).where(FactRow.person_key == person_key, FactRow.kind.in_(("worker", "account")))
        )
    )
    person = await session.get(Person, person_key)
    assert person is not None
    with_subject = [r for r in rows if r.data.get("account_subject")]
    if with_subject:
        newest = max(with_subject, key=lambda r: (r.event_time, r.event_id))
        person.account_subject = newest.data["account_subject"]
        person.account_event_at = newest.event_time
    registered = [r for r in rows if r.kind == "worker"]
    if registered:
        data = max(registered, key=lambda r: (r.event_time, r.event_id)).data
        person.worker_id = data["worker_id"]
        person.masked_name = data["masked_name"]
        person.township = data["township"]
        person.categories = data["categories"]
    person.updated_at = utcnow()


async def reevaluate(session: AsyncSession, person_key: str, tables: Policies | None = None) -> None:
    """Re-evaluates every chain and claim of one person (the person row must be locked)."""
    facts = await store.person_facts(session, person_key)
    existing = await store.claims_of(session, person_key)
    locked = frozenset(k for k, c in existing.items() if c.state in FROZEN)
    pinned = {
        k: (c.table_year, c.table_version)
        for k, c in existing.items()
        if (c.state == ELIGIBLE or c.state in FROZEN) and c.table_year is not None and c.table_version is not None
    }
    tables = tables if tables is not None else await store.policies(session)
    result = evaluate_person(person_key, facts, tables, locked=locked, pinned=pinned)
    now = utcnow()
    await _write_chains(session, result.chains.values(), now)

    # Slots move between claims (E4/E5): release every slot that changes first, so the unique
    # constraints never see two holders inside one flush.
    released = False
    for key, row in existing.items():
        draft = result.claims.get(key)
        if draft is None or row.state in FROZEN:
            continue
        if (row.quota_slot, row.level_slot) != (draft.quota_slot, draft.level_slot) and (row.quota_slot or row.level_slot):
            row.quota_slot = row.level_slot = None
            released = True
    if released:
        await session.flush()
    for key, draft in sorted(result.claims.items()):
        await _upsert_claim(session, existing.get(key), draft, now)
    await session.flush()


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


async def _write_chains(session: AsyncSession, views: Any, now: Any) -> None:
    views = list(views)
    if not views:
        return
    rows = {
        r.voucher_id: r
        for r in await session.scalars(select(ChainRow).where(ChainRow.voucher_id.in_([v.voucher_id for v in views])))
    }
    for view in views:
        row = rows.get(view.voucher_id)
        values = dict(
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
        if row is None:
            session.add(ChainRow(voucher_id=view.voucher_id, created_at=now, updated_at=now, **values))
            continue
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            row.updated_at = now


def _lines(draft: ClaimDraft) -> list[dict[str, Any]]:
    return [{"rule_id": line.rule_id, "text": line.text, "amount": str(line.amount)} for line in draft.lines]


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
        lines=_lines(draft),
        rule_ids=list(draft.rule_ids),
        state=draft.state,
        reason_code=draft.reason.code if draft.reason else None,
        reason_zh=draft.reason.zh if draft.reason else None,
        reason_en=draft.reason.en if draft.reason else None,
        missing=[{"code": r.code, "zh": r.zh, "en": r.en} for r in draft.missing],
        quota_slot=draft.quota_slot,
        level_slot=draft.level_slot,
    )


async def _upsert_claim(session: AsyncSession, row: Claim | None, draft: ClaimDraft, now: Any) -> None:
    if row is None:
        row = Claim(
            id=uuid.uuid4(), claim_type=draft.claim_type, subject_id=draft.subject_id, part=draft.part,
            created_at=now, updated_at=now, recovery_pending=False, **_values(draft),
        )
        session.add(row)
        CLAIM_TRANSITIONS.labels(draft.claim_type, draft.state).inc()
        if draft.state == ELIGIBLE:
            row.eligible_at = now
            await _emit_eligible(session, row)
        return
    if row.state in FROZEN:
        await _frozen_claim_changed(session, row, draft, now)
        return
    old_state, old_amount = row.state, row.amount
    values = _values(draft)
    changed = any(getattr(row, name) != value for name, value in values.items())
    if not changed:
        return
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    if old_state != draft.state:
        CLAIM_TRANSITIONS.labels(draft.claim_type, draft.state).inc()
    if draft.state == ELIGIBLE and (old_state != ELIGIBLE or old_amount != draft.amount):
        row.eligible_at = now
        await _emit_eligible(session, row)
    elif old_state == ELIGIBLE and draft.state != ELIGIBLE or (draft.state == VOID and old_state != VOID):
        await outbox.add(
            session,
            ClaimVoided(
                claim_id=str(row.id), voucher_id=row.voucher_id, person_key=row.person_key,
                reason=draft.reason.en if draft.reason else "chain incomplete again", claim_type=row.claim_type,
                certificate_id=row.certificate_id, reason_code=draft.reason.code if draft.reason else None,
                state=draft.state,
            ),
            partition_key=row.person_key,
            subject=str(row.id),
        )


async def _frozen_claim_changed(session: AsyncSession, row: Claim, draft: ClaimDraft, now: Any) -> None:
    """A declared / paid claim keeps its amount. Revoked before payment: void. After payment: 追回."""
    if draft.state != VOID:
        return
    if row.state != PAID:
        row.state = VOID
        row.reason_code, row.reason_zh, row.reason_en = draft.reason.code, draft.reason.zh, draft.reason.en
        row.quota_slot = row.level_slot = None
        row.updated_at = now
        await outbox.add(
            session,
            ClaimVoided(claim_id=str(row.id), voucher_id=row.voucher_id, person_key=row.person_key,
                        reason=draft.reason.en, claim_type=row.claim_type, certificate_id=row.certificate_id,
                        reason_code=draft.reason.code, state=VOID),
            partition_key=row.person_key,
            subject=str(row.id),
        )
        return
    if await session.scalar(select(Recovery.id).where(Recovery.claim_id == row.id)) is not None:
        return
    recovery = Recovery(
        claim_id=row.id, person_key=row.person_key, payee_type=row.payee_type, payee_id=row.payee_id,
        amount=row.amount, reason_code=draft.reason.code, reason_zh=draft.reason.zh, reason_en=draft.reason.en,
        state="open", created_at=now,
    )
    session.add(recovery)
    row.recovery_pending = True
    row.updated_at = now
    await session.flush()
    await outbox.add(
        session,
        RecoveryOpened(
            recovery_id=str(recovery.id), claim_id=str(row.id), claim_type=row.claim_type, voucher_id=row.voucher_id,
            certificate_id=row.certificate_id, person_key=row.person_key, payee_type=row.payee_type,
            payee_id=row.payee_id, amount=row.amount, reason_code=draft.reason.code, reason=draft.reason.en,
        ),
        partition_key=row.person_key,
        subject=str(recovery.id),
    )


async def _emit_eligible(session: AsyncSession, row: Claim) -> None:
    await outbox.add(
        session,
        ClaimEligible(
            claim_id=str(row.id), claim_type=row.claim_type, voucher_id=row.voucher_id,
            certificate_id=row.certificate_id, person_key=row.person_key, payee_type=row.payee_type,
            payee_id=row.payee_id or "", amount=row.amount, policy_year=row.policy_year, rule_ids=list(row.rule_ids),
            part=row.part, table_year=row.table_year, table_version=row.table_version,
            institution_id=row.institution_id, lines=[line["text"] for line in row.lines],
        ),
        partition_key=row.person_key,
        subject=str(row.id),
    )
