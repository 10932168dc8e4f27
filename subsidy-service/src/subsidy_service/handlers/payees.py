"""Payees and their bank accounts: names learnt from the owning services' events, accounts registered by the payee
(or the bureau for a worker), stored encrypted, every change kept as a new version (P10)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import audit
from skillkit.auth import Principal
from skillkit.db import utcnow
from skillkit.events import Envelope
from skillkit.pii import PiiCipher, mask_name
from skillkit.problems import Problem

from subsidy_service.adapters.models import Person
from subsidy_service.adapters.settlement_models import Payee, PayeeAccount

PAYEE_TYPES = ("institution", "evaluation_institution", "worker", "enterprise")
# S5: the enterprise an on-the-job class names is the payee of its S5 claims (registered in the training service).
PAYEE_EVENTS = {"institution.approved.v1": "institution", "evaluation_institution.filed.v1": "evaluation_institution",
                "enterprise.registered.v1": "enterprise"}
ACCOUNT_NUMBER = re.compile(r"^\d{8,30}$")


async def remember_payee(session: AsyncSession, envelope: Envelope) -> None:
    """The legal name and credit code of a training or evaluation institution or an enterprise (S5; the newest event
    wins)."""
    data = envelope.data
    payee_id = data.enterprise_id if PAYEE_EVENTS[envelope.type] == "enterprise" else data.institution_id
    payee = await session.get(Payee, (PAYEE_EVENTS[envelope.type], payee_id))
    if payee is None:
        session.add(Payee(payee_type=PAYEE_EVENTS[envelope.type], payee_id=payee_id, name=data.name,
                          credit_code=data.credit_code, updated_at=envelope.time))
    elif envelope.time >= payee.updated_at:
        payee.name, payee.credit_code, payee.updated_at = data.name, data.credit_code, envelope.time


def _normalised(name: str) -> str:
    return re.sub(r"\s+", "", name).replace("（", "(").replace("）", ")")


async def payee_name(session: AsyncSession, payee_type: str, payee_id: str) -> str | None:
    if payee_type == "worker":
        return (await session.scalars(select(Person.masked_name).where(Person.worker_id == payee_id))).first()
    payee = await session.get(Payee, (payee_type, payee_id))
    return payee.name if payee else None


def name_matches(payee_type: str, registered: str, account_name: str) -> bool:
    """A worker is known by the masked name only (张*三): the account holder's name must mask to it."""
    if payee_type == "worker":
        return mask_name(account_name.strip()) == registered
    return _normalised(registered) == _normalised(account_name)


def mask_account(last4: str) -> str:
    return f"****{last4}"


async def current_account(session: AsyncSession, payee_type: str, payee_id: str) -> PayeeAccount | None:
    return (await session.scalars(
        select(PayeeAccount).where(PayeeAccount.payee_type == payee_type, PayeeAccount.payee_id == payee_id)
        .order_by(PayeeAccount.version.desc()).limit(1)
    )).first()


async def register_account(session: AsyncSession, principal: Principal, cipher: PiiCipher, payee_type: str,
                           payee_id: str, account_name: str, account_number: str, bank_name: str, bank_city: str,
                           now: datetime | None = None) -> PayeeAccount:
    number = re.sub(r"[\s-]", "", account_number)
    if not ACCOUNT_NUMBER.match(number):
        raise Problem(422, "account_number_invalid", "a bank account number is 8 to 30 digits")
    registered = await payee_name(session, payee_type, payee_id)
    if registered is None:
        raise Problem(409, "payee_unknown",
                      f"{payee_type} {payee_id} is not known to the subsidy service yet (no registration event)")
    if not name_matches(payee_type, registered, account_name):
        raise Problem(422, "account_name_mismatch",
                      f"the account name must be the payee's registered name ({registered})")
    previous = await current_account(session, payee_type, payee_id)
    version = (await session.scalar(select(func.coalesce(func.max(PayeeAccount.version), 0)).where(
        PayeeAccount.payee_type == payee_type, PayeeAccount.payee_id == payee_id))) + 1
    account = PayeeAccount(
        payee_type=payee_type, payee_id=payee_id, version=version, account_name=account_name.strip(),
        account_number_enc=cipher.encrypt(number), account_last4=number[-4:], bank_name=bank_name.strip(),
        bank_city=bank_city.strip(), changed_by=principal.subject, changed_role=principal.role.value,
        changed_at=now or utcnow(),
    )
    session.add(account)
    await session.flush()

    def shown(a: PayeeAccount | None) -> dict[str, str] | None:
        return None if a is None else {"account_name": a.account_name, "account": mask_account(a.account_last4),
                                       "bank_name": a.bank_name, "bank_city": a.bank_city, "version": str(a.version)}

    await audit.record(session, principal, "payee_account.register", "payee", f"{payee_type}:{payee_id}",
                       before=shown(previous), after=shown(account))
    return account
