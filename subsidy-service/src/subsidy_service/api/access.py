"""Who may see what: a worker their own person key, an organisation its own records, staff everything."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal, Role
from skillkit.problems import Problem

from subsidy_service.adapters.models import Claim
from subsidy_service.adapters.persons import person_of_subject

STAFF_READERS = (Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE)


async def worker_person_key(session: AsyncSession, principal: Principal) -> str:
    """The calling worker's person key: from the token's `pk` claim, else the worker projection."""
    if principal.person_key:
        return principal.person_key
    key = await person_of_subject(session, principal.subject)
    if key is None:
        raise Problem(404, "worker_not_known",
                      "no worker registration for this account has reached the subsidy service yet")
    return key


def claim_scope(principal: Principal) -> list[Any]:
    """SQL conditions limiting claims to what the principal may see (empty for staff)."""
    if principal.role == Role.TRAINING_ORG:
        return [Claim.institution_id == principal.org_id]
    if principal.role == Role.EVALUATION_ORG:
        return [Claim.claim_type == "evaluation", Claim.payee_id == principal.org_id]
    if principal.role == Role.ENTERPRISE:  # S5: the enterprise's own on-the-job training claims
        return [Claim.payee_type == "enterprise", Claim.payee_id == principal.org_id]
    return []


def may_see_claim(principal: Principal, claim: Claim, worker_key: str | None = None) -> bool:
    if principal.role in STAFF_READERS:
        return True
    if principal.role == Role.TRAINING_ORG:
        return claim.institution_id == principal.org_id
    if principal.role == Role.EVALUATION_ORG:
        return claim.claim_type == "evaluation" and claim.payee_id == principal.org_id
    if principal.role == Role.ENTERPRISE:
        return claim.payee_type == "enterprise" and claim.payee_id == principal.org_id
    if principal.role == Role.WORKER:
        return worker_key is not None and claim.person_key == worker_key
    return False
