"""Enterprises whose employees take on-the-job training (S5): registered by bureau staff, named by their classes,
the payee of the S5 claim (the subsidy service learns of them from `enterprise.registered.v1`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.contracts.training import EnterpriseRegistered
from skillkit.db import utcnow
from skillkit.problems import Problem

from training_service.adapters.models import Enterprise
from training_service.adapters.outbox import outbox
from training_service.handlers.inputs import EnterpriseIn
from training_service.domain.rules import credit_code_or_problem


async def register_enterprise(session: AsyncSession, principal: Principal, data: EnterpriseIn) -> Enterprise:
    credit_code = credit_code_or_problem(data.credit_code)  # GB 32100 check character (python-stdnum cn.uscc)
    if await session.scalar(select(Enterprise.id).where(Enterprise.credit_code == credit_code)):
        raise Problem(409, "enterprise_exists", f"an enterprise with credit code {credit_code} is registered")
    enterprise = Enterprise(
        id=uuid.uuid4(), name=data.name, credit_code=credit_code, address=data.address, township=data.township,
        contact_name=data.contact_name, contact_phone=data.contact_phone, created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(enterprise)
    await session.flush()
    await outbox.add(
        session,
        EnterpriseRegistered(enterprise_id=str(enterprise.id), name=enterprise.name, credit_code=credit_code,
                             township=enterprise.township, registered_by=principal.subject),
        partition_key=str(enterprise.id),
        subject=str(enterprise.id),
    )
    # P10; the contact person's name and mobile stay out of the append-only log (it can never be erased).
    await record(session, principal, "enterprise.register", "enterprise", str(enterprise.id),
                 after=dict(name=enterprise.name, credit_code=credit_code, township=enterprise.township))
    return enterprise


async def enterprise_for_class(session: AsyncSession, enterprise_id: uuid.UUID | None) -> Enterprise | None:
    """S5: an on-the-job class names a registered enterprise."""
    if enterprise_id is None:
        return None
    enterprise = await session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise Problem(422, "enterprise_unknown", f"enterprise {enterprise_id} is not registered (S5)")
    return enterprise
