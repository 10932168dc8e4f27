"""Training institutions (I1, I3): registered and changed by bureau staff only."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.commands import Outcome
from skillkit.contracts.training import InstitutionApproved, InstitutionSuspended
from skillkit.db import utcnow
from skillkit.problems import Problem, not_found

from training_service.adapters.models import Institution, Occupation
from training_service.adapters.outbox import outbox
from training_service.handlers.inputs import InstitutionIn, InstitutionPatch, InstitutionStatusIn
from training_service.domain.rules import credit_code_or_problem


async def _known_occupations(session: AsyncSession, codes: list[str]) -> list[str]:
    wanted = sorted(set(codes))
    known = set((await session.scalars(select(Occupation.code).where(Occupation.code.in_(wanted)))).all())
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise Problem(422, "occupation_unknown", f"not in the occupation catalogue: {', '.join(unknown)}")
    return wanted


# P10: what an institution's audit entry shows. The contact person's name and mobile stay out of the append-only
# log (it can never be erased); that they changed is recorded.
_AUDITED = ("name", "credit_code", "address", "township", "kinds", "occupation_codes", "status", "status_reason")


def _audited(institution: Institution, fields: tuple[str, ...] = _AUDITED) -> dict:
    return {field: getattr(institution, field) for field in fields}


async def _emit_approved(session: AsyncSession, institution: Institution) -> None:
    await outbox.add(
        session,
        InstitutionApproved(
            institution_id=str(institution.id),
            name=institution.name,
            credit_code=institution.credit_code,
            township=institution.township,
            kinds=institution.kinds,
            occupation_codes=institution.occupation_codes,
        ),
        partition_key=str(institution.id),
        subject=str(institution.id),
    )


async def register_institution(session: AsyncSession, principal: Principal, data: InstitutionIn) -> Institution:
    credit_code = credit_code_or_problem(data.credit_code)
    if await session.scalar(select(Institution.id).where(Institution.credit_code == credit_code)):
        raise Problem(409, "institution_exists", f"an institution with credit code {credit_code} is registered")
    now = utcnow()
    institution = Institution(
        id=uuid.uuid4(),
        name=data.name,
        credit_code=credit_code,
        address=data.address,
        township=data.township,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        kinds=sorted({str(k) for k in data.kinds}),
        occupation_codes=await _known_occupations(session, data.occupation_codes),
        status="approved",
        status_changed_by=principal.subject,
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(institution)
    await session.flush()
    await _emit_approved(session, institution)
    await record(session, principal, "institution.register", "training_institution", str(institution.id),
                 after=_audited(institution))
    return institution


async def change_institution(
    session: AsyncSession, principal: Principal, institution_id: uuid.UUID, data: InstitutionPatch
) -> Institution:
    institution = await session.get(Institution, institution_id)
    if institution is None:
        raise not_found("institution", institution_id)
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise Problem(422, "nothing_to_change", "the request changes no field")
    if "occupation_codes" in changes:
        changes["occupation_codes"] = await _known_occupations(session, changes["occupation_codes"])
    if "kinds" in changes:
        changes["kinds"] = sorted({str(k) for k in data.kinds or []})
    audited = tuple(f for f in _AUDITED if f in changes)
    before = _audited(institution, audited)
    for field, value in changes.items():
        setattr(institution, field, value)
    institution.updated_at = utcnow()
    if institution.status == "approved":
        await _emit_approved(session, institution)  # the approved scope changed: announce it again
    after = _audited(institution, audited)
    if "contact_name" in changes or "contact_phone" in changes:
        after["contact_changed"] = True
    await record(session, principal, "institution.change", "training_institution", str(institution.id),
                 before=before, after=after)
    return institution


async def set_institution_status(
    session: AsyncSession, principal: Principal, institution_id: uuid.UUID, data: InstitutionStatusIn
) -> Outcome:
    institution = await session.get(Institution, institution_id)
    if institution is None:
        raise not_found("institution", institution_id)
    if institution.status == "revoked":
        raise Problem(409, "institution_revoked", "a revoked institution stays revoked (I3); register it anew")
    if institution.status == data.status:
        raise Problem(409, "institution_status_unchanged", f"the institution is already {data.status}")
    before = _audited(institution, ("status", "status_reason"))
    institution.status = data.status
    institution.status_reason = data.reason
    institution.status_changed_by = principal.subject  # P10
    institution.updated_at = utcnow()
    if data.status == "approved":
        await _emit_approved(session, institution)
    else:
        await outbox.add(
            session,
            InstitutionSuspended(institution_id=str(institution.id), status=data.status, reason=data.reason),
            partition_key=str(institution.id),
            subject=str(institution.id),
        )
    action = {"approved": "institution.approve", "suspended": "institution.suspend", "revoked": "institution.revoke"}
    await record(session, principal, action[data.status], "training_institution", str(institution.id),
                 before=before, after=_audited(institution, ("status", "status_reason")), reason=data.reason)
    return Outcome(institution, 200)
