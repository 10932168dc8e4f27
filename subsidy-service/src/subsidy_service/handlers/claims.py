"""Use cases on claims from the API: the bureau's I3 review."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import audit
from skillkit.auth import Principal
from skillkit.db import utcnow
from skillkit.problems import Problem, not_found

from subsidy_service.adapters import locks
from subsidy_service.adapters.models import Claim
from subsidy_service.domain.chain import ClaimState
from subsidy_service.domain.facts import REVIEW_TYPE, ClaimReview, Fact
from subsidy_service.handlers.projection import apply_facts


async def _claim_locked(session: AsyncSession, claim_id: uuid.UUID) -> Claim:
    claim = await session.get(Claim, claim_id)
    if claim is None:
        raise not_found("claim", claim_id)
    await locks.lock_persons(session, [claim.person_key])
    await session.refresh(claim)
    return claim


async def review_claim(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID, approved: bool, reason: str | None
) -> Claim:
    """I3: work delivered before a suspension becomes payable only after this review (P10: who decided)."""
    claim = await _claim_locked(session, claim_id)
    if claim.state != ClaimState.HELD:
        raise Problem(409, "claim_not_held", f"claim {claim_id} is {claim.state}; only a held claim is reviewed")
    if not approved and not reason:
        raise Problem(422, "review_reason_required", "refusing a claim needs a reason")
    key = f"{claim.claim_type}:{claim.subject_id}:{claim.part}"
    review = ClaimReview(claim_key=key, approved=approved, reason=reason, reviewed_by=principal.subject)
    before = {"state": claim.state, "amount": str(claim.amount)}
    await apply_facts(session, [(Fact(REVIEW_TYPE, str(uuid.uuid4()), utcnow(), review), claim.person_key)])
    await session.refresh(claim)
    await audit.record(session, principal, "claim.review", "claim", str(claim.id), before=before,
                       after={"state": claim.state, "amount": str(claim.amount), "approved": approved}, reason=reason)
    return claim
