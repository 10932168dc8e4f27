"""Use cases on vouchers: claim, issue on behalf, batches, revocation, expiry (E1–E4, P2, P5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.contracts.vocab import RevocationReason, VoucherKind, WorkerCategory
from skillkit.contracts.voucher import VoucherExpired, VoucherIssued, VoucherRevoked
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.inserts import insert_or_skip
from skillkit.problems import Problem, not_found

from voucher_service.adapters.models import IssuingBatch, Voucher, Worker
from voucher_service.adapters.outbox import outbox
from voucher_service.domain import validity
from voucher_service.domain.codes import new_code
from voucher_service.domain.eligibility import (
    KindRule,
    NotEligible,
    check_eligibility,
    check_working_age,
    living_allowance_eligible,
)

VOUCHERS = Voucher.__table__
# E4's unique key (uq_vouchers_e4_quota), the arbiter of every issue.
E4_KEY = ("person_key", "policy_year", "quota_slot")
# Revocation for fraud keeps the E4 slot taken: a fraudulent claim must not free a new voucher that year.
SLOT_KEPT_ON_REVOCATION = frozenset({RevocationReason.FRAUD})


class E4Conflict(Problem):
    def __init__(self, existing: Voucher | Row[Any]) -> None:
        super().__init__(
            409,
            "e4_voucher_limit",
            f"E4: worker already holds a {existing.kind} voucher for {existing.policy_year} "
            f"({existing.code}, id {existing.id}); one inclusive and one project-or-order voucher per year",
            extra={"existing_voucher_id": str(existing.id), "existing_voucher_code": existing.code},
        )


async def issue_voucher(
    session: AsyncSession,
    worker: Worker,
    kind: VoucherKind,
    *,
    channel: str,
    issued_by: str,
    validity_days: int,
    batch: IssuingBatch | None = None,
    now: datetime | None = None,
    working_age: tuple[int, int],  # the settings' (working_age_min, working_age_max): never a literal here
) -> Voucher:
    """Checks eligibility, working age and E4, writes the voucher and its `voucher.issued` event."""
    categories = {WorkerCategory(c) for c in worker.categories}
    rule = eligible_rule(kind, categories)
    working_age_or_problem(worker.birth_date, local_date(now or utcnow()), working_age)
    values = new_voucher_values(worker.id, worker.person_key, kind, rule, channel=channel, issued_by=issued_by,
                                validity_days=validity_days, batch=batch, now=now)
    # E4 in the database: a concurrent claim for the same slot inserts nothing instead of aborting the
    # transaction, and is then answered with the voucher that won.
    inserted = (await insert_or_skip(session, VOUCHERS, values, E4_KEY, returning=("id",))).scalar()
    if inserted is None:
        existing = await session.scalar(
            select(Voucher).where(
                Voucher.person_key == worker.person_key,
                Voucher.policy_year == values["policy_year"],
                Voucher.quota_slot == rule.quota_slot,
            )
        )
        assert existing is not None
        raise E4Conflict(existing)
    voucher = Voucher(**values)  # the row as written, for the response; not added to the session again
    await outbox.add(session, voucher_issued(values, categories), partition_key=worker.person_key,
                     subject=str(voucher.id))
    return voucher


def working_age_or_problem(birth: date, day: date, working_age: tuple[int, int]) -> None:
    try:
        check_working_age(birth, day, working_age)
    except NotEligible as exc:
        raise Problem(422, "outside_working_age", exc.message) from exc


def eligible_rule(kind: VoucherKind, categories: set[WorkerCategory]) -> KindRule:
    """The kind's rule (E1, E2, S5, P2) if the categories may hold it, else a 422 citing the rule."""
    try:
        return check_eligibility(kind, categories)
    except NotEligible as exc:
        raise Problem(422, f"{exc.rule_id.lower()}_not_eligible", exc.message, extra={"rule_id": exc.rule_id}) from exc


def new_voucher_values(
    worker_id: uuid.UUID,
    person_key: str,
    kind: VoucherKind,
    rule: KindRule,
    *,
    channel: str,
    issued_by: str,
    validity_days: int,
    batch: IssuingBatch | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The row of a new voucher: its code, its E4 slot, its window (P5-capped)."""
    now = now or utcnow()
    year, valid_from, valid_until = validity.validity_window(now, validity_days)
    return dict(
        id=uuid.uuid4(),
        code=new_code(),
        worker_id=worker_id,
        person_key=person_key,
        kind=kind,
        policy_year=year,
        quota_slot=rule.quota_slot,
        status=validity.ISSUED,
        valid_from=valid_from,
        valid_until=valid_until,
        batch_id=batch.id if batch else None,
        channel=channel,
        issued_by=issued_by,
        created_at=now,
        updated_at=now,
    )


def voucher_issued(voucher: dict[str, Any], categories: set[WorkerCategory]) -> VoucherIssued:
    """`voucher.issued` of a row made by `new_voucher_values` for a holder of these categories."""
    return VoucherIssued(
        voucher_id=str(voucher["id"]),
        code=voucher["code"],
        worker_id=str(voucher["worker_id"]),
        person_key=voucher["person_key"],
        kind=voucher["kind"],
        policy_year=voucher["policy_year"],
        valid_from=voucher["valid_from"],
        valid_until=voucher["valid_until"],
        batch_id=str(voucher["batch_id"]) if voucher["batch_id"] else None,
        channel=voucher["channel"],
        categories=sorted(categories),
        living_allowance_eligible=living_allowance_eligible(categories),
        issued_by=voucher["issued_by"],
    )


async def get_batch(session: AsyncSession, batch_id: uuid.UUID) -> IssuingBatch:
    batch = await session.get(IssuingBatch, batch_id)
    if batch is None:
        raise not_found("batch", batch_id)
    return batch


async def create_batch(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    kind: VoucherKind,
    validity_days: int,
    channel: str,
    class_reference: str | None,
) -> IssuingBatch:
    now = utcnow()
    batch = IssuingBatch(
        name=name,
        kind=kind,
        policy_year=validity.validity_window(now, validity_days)[0],
        validity_days=validity_days,
        channel=channel,
        class_reference=class_reference,
        created_by=principal.subject,
        created_at=now,
    )
    session.add(batch)
    await session.flush()
    await record(session, principal, "batch.create", "issuing_batch", str(batch.id), after=dict(  # P10
        name=name, kind=kind, policy_year=batch.policy_year, validity_days=validity_days, channel=channel,
        class_reference=class_reference))
    return batch


async def issue_on_behalf(
    session: AsyncSession,
    principal: Principal,
    worker: Worker,
    kind: VoucherKind,
    *,
    validity_days: int,
    batch: IssuingBatch | None,
    working_age: tuple[int, int],  # the settings' (working_age_min, working_age_max): never a literal here
) -> Voucher:
    """Staff issue a voucher for a worker (兜底服务, P2): the issue, and the decision in the audit trail (P10)."""
    voucher = await issue_voucher(session, worker, kind, channel="on_behalf", issued_by=principal.subject,
                                  validity_days=validity_days, batch=batch, working_age=working_age)
    await record(session, principal, "voucher.issue_on_behalf", "voucher", str(voucher.id), after=dict(
        worker_id=worker.id, kind=kind, code=voucher.code, policy_year=voucher.policy_year,
        valid_until=voucher.valid_until, batch_id=voucher.batch_id, status=voucher.status))
    return voucher


async def revoke(
    session: AsyncSession, principal: Principal, voucher_id: uuid.UUID, reason: RevocationReason, note: str | None
) -> Voucher:
    voucher = await session.get(Voucher, voucher_id, with_for_update=True)
    if voucher is None:
        raise not_found("voucher", voucher_id)
    if voucher.status == validity.REVOKED:
        raise Problem(409, "voucher_already_revoked", f"voucher {voucher.code} was already revoked")
    now = utcnow()
    before = dict(status=voucher.status, quota_slot=voucher.quota_slot)
    voucher.status = validity.REVOKED
    voucher.revoked_reason = reason
    voucher.revoked_note = note
    voucher.revoked_by = principal.subject  # P10: who decided
    voucher.ended_at = now
    voucher.updated_at = now
    if reason not in SLOT_KEPT_ON_REVOCATION:
        voucher.quota_slot = None
    await outbox.add(
        session,
        VoucherRevoked(
            voucher_id=str(voucher.id),
            person_key=voucher.person_key,
            reason=reason,
            note=note,
            revoked_by=principal.subject,
            revoked_at=now,
        ),
        partition_key=voucher.person_key,
        subject=str(voucher.id),
    )
    await record(session, principal, "voucher.revoke", "voucher", str(voucher.id), before=before,  # P10
                 after=dict(status=voucher.status, quota_slot=voucher.quota_slot, revoked_reason=reason,
                            revoked_note=note), reason=reason)
    return voucher


async def expire_due(session: AsyncSession, now: datetime | None = None, limit: int = 500) -> int:
    """Expires unbound vouchers past their window, frees their E4 slot, emits `voucher.expired`."""
    now = now or utcnow()
    due = (
        await session.scalars(
            select(Voucher)
            .where(Voucher.status == validity.ISSUED, Voucher.valid_until <= now)
            .order_by(Voucher.valid_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for voucher in due:
        voucher.status = validity.EXPIRED
        voucher.quota_slot = None
        voucher.ended_at = now
        voucher.updated_at = now
        await outbox.add(
            session,
            VoucherExpired(voucher_id=str(voucher.id), person_key=voucher.person_key, expired_at=now),
            partition_key=voucher.person_key,
            subject=str(voucher.id),
        )
    return len(due)


async def expire_now(session: AsyncSession, principal: Principal) -> int:
    """An administrator runs the expiry sweep at once (one batch); recorded as a decision (P10)."""
    expired = await expire_due(session)
    await record(session, principal, "voucher.expiry_sweep", "voucher_expiry", "sweep", after=dict(expired=expired))
    return expired
