"""Use cases on workers (劳动者): self-registration and registration on someone's behalf (P2)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal, Role
from skillkit.commands import Outcome
from skillkit.contracts.voucher import WorkerAccountLinked, WorkerRegistered
from skillkit.db import utcnow
from skillkit.county import local_date
from skillkit.pii import (
    cipher_for,
    birth_date_of,
    blind_index,
    mask_name,
    normalise_resident_id,
    person_key,
)
from skillkit.problems import Problem, not_found

from voucher_service.adapters.models import Worker
from voucher_service.adapters.outbox import outbox
from voucher_service.handlers.categories import registration_reviews, reviewed_event, write_reviews
from voucher_service.domain.worker import same_name
from voucher_service.handlers.inputs import NewWorker
from voucher_service.config import VoucherSettings


REFERRED = "worker.registration_referred"
_REFERRAL_OF_ACCOUNT = text("SELECT 1 FROM audit_log WHERE actor = :actor AND role = 'worker' AND action = :action "
                            "LIMIT 1")


@dataclass(frozen=True)
class Referred:
    """A self-registration the app cannot complete: the bureau reviews it (issue 16)."""

    status: str = "referred_to_bureau"
    status_label: str = "已转人工核实"
    detail: str = ("this registration cannot be completed in the app; the bureau reviews it: bring your resident ID "
                   "card to the township's service point")


async def register_worker(
    session: AsyncSession, settings: VoucherSettings, principal: Principal, data: NewWorker
) -> Outcome:
    """Registers a worker; the same resident ID registered again returns the existing worker (200).

    Self-service never tells an account whether another person's ID number is registered (issue 16). An account
    holds one worker: once it has one, any other number is `account_has_worker`, registered or not. An account
    without one gets 201 for a new number, 200 for the record staff made for this very name, and the same 202
    `referred_to_bureau` whether the number is linked to another account or registered under another name; the
    referral is written to the audit trail for the bureau, and from then on the account gets that 202 for any
    number. So an account learns about one number at most, and only by registering it as its own."""
    number = normalise_resident_id(data.id_number, local_date(utcnow()))
    index = blind_index(number, settings.blind_index_secret)
    if principal.role == Role.WORKER and (data.evidence_reference or data.licence_issued_on):
        raise Problem(422, "evidence_reference_staff_only",
                      "categories are confirmed by staff or the owning office's roster: the app only declares them")
    existing = await session.scalar(select(Worker).where(Worker.id_blind_index == index))
    if principal.role != Role.WORKER:
        if existing is not None:
            return Outcome(existing, 200)
        return Outcome(await _new_worker(session, settings, principal, data, number, index, self_service=False), 201)
    own = await session.scalar(select(Worker).where(Worker.account_subject == principal.subject))
    if own is not None:
        if existing is not None and existing.id == own.id:
            return Outcome(own, 200)
        raise _account_has_worker_problem()
    if await session.scalar(_REFERRAL_OF_ACCOUNT, {"actor": principal.subject, "action": REFERRED}) is not None:
        return Outcome(Referred(), 202)
    if existing is None:
        return Outcome(await _new_worker(session, settings, principal, data, number, index, self_service=True), 201)
    # The ID number alone is printed on too many documents to prove who is signing up: without the name, anyone
    # holding it would take over the record staff made, its vouchers and its E4 slots.
    if existing.account_subject is None and same_name(data.name, existing.name):
        existing.account_subject = principal.subject  # staff registered them first (P2); now they log in
        await outbox.add(
            session,
            WorkerAccountLinked(
                worker_id=str(existing.id), person_key=existing.person_key, account_subject=principal.subject
            ),
            partition_key=existing.person_key,
            subject=str(existing.id),
        )
        return Outcome(existing, 200)
    conflict = "name_differs" if existing.account_subject is None else "linked_to_another_account"
    # The audit log can never be erased, so it holds no personal data (P10, docs/CONVENTIONS.md): not the name typed
    # here either. The bureau checks the identity at the service point, from the resident ID card.
    await record(session, principal, REFERRED, "worker", str(existing.id),
                 after=dict(conflict=conflict),
                 reason="self-registration with this worker's ID number: the bureau checks the identity")
    return Outcome(Referred(), 202)


async def _new_worker(
    session: AsyncSession, settings: VoucherSettings, principal: Principal, data: NewWorker, number: str, index: str,
    *, self_service: bool,
) -> Worker:
    values = new_worker_values(settings, principal, data, number, index, self_service=self_service)
    reviews = registration_reviews(local_date(values["created_at"]), values, data.evidence_reference,
                                   data.licence_issued_on)
    worker = Worker(**values)
    session.add(worker)
    await session.flush()
    await write_reviews(session, reviews)
    await outbox.add_many(session, [(worker_registered(values), worker.person_key, str(worker.id))] + [
        (reviewed_event(r, worker.person_key), worker.person_key, str(worker.id)) for r in reviews])
    if not self_service:  # staff assert the categories that make the worker eligible (E1, E2): P10
        evidence = dict(evidence_reference=data.evidence_reference, licence_issued_on=data.licence_issued_on,
                        confirmed=True) if reviews else {}  # issue 13: the categories confirmed on this evidence
        await record(session, principal, "worker.register_on_behalf", "worker", str(worker.id),
                     after=dict(township=worker.township, categories=worker.categories, **evidence))
    return worker


def _account_has_worker_problem() -> Problem:
    return Problem(409, "account_has_worker", "this account already registered a worker with another ID number")


def new_worker_values(
    settings: VoucherSettings, principal: Principal, data: NewWorker, number: str, index: str, *,
    self_service: bool, now: datetime | None = None,
) -> dict[str, Any]:
    """The row of a newly registered worker: the number encrypted, found by its blind index (`index`)."""
    return dict(
        id=uuid.uuid4(),
        account_subject=principal.subject if self_service else None,
        name=data.name,
        id_number_encrypted=cipher_for(settings).encrypt(number),
        id_blind_index=index,
        person_key=person_key(number, settings.person_key_secret),
        birth_date=birth_date_of(number),
        mobile_encrypted=cipher_for(settings).encrypt(data.mobile),
        township=data.township,
        categories=sorted(set(data.categories)),
        on_behalf=not self_service,
        registered_by=principal.subject,
        created_at=now or utcnow(),
    )


def worker_registered(worker: dict[str, Any]) -> WorkerRegistered:
    """`worker.registered` of a row made by `new_worker_values`."""
    return WorkerRegistered(
        worker_id=str(worker["id"]),
        person_key=worker["person_key"],
        account_subject=worker["account_subject"],
        masked_name=mask_name(worker["name"]),
        township=worker["township"],
        categories=worker["categories"],
        on_behalf=worker["on_behalf"],
        registered_by=worker["registered_by"],
    )


async def reveal_mobile(
    session: AsyncSession, settings: VoucherSettings, principal: Principal, worker_id: uuid.UUID, reason: str
) -> str:
    """A worker's mobile in full for bureau staff, with the reason written to the audit trail (issue 16, P10) in the
    same transaction: no reveal without its record. The entry holds who, when, whose and why, never the number."""
    worker = await session.get(Worker, worker_id)
    if worker is None:
        raise not_found("worker", worker_id)
    mobile = cipher_for(settings).decrypt(worker.mobile_encrypted)
    await record(session, principal, "worker.mobile_reveal", "worker", str(worker.id), reason=reason)
    return mobile


async def worker_of_account(session: AsyncSession, principal: Principal) -> Worker:
    worker = await session.scalar(select(Worker).where(Worker.account_subject == principal.subject))
    if worker is None:
        raise Problem(404, "worker_not_registered", "this account has not registered as a worker yet")
    return worker
