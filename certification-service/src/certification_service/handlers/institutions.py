"""Use cases on evaluation institutions (评价机构) and their filings (备案, I2). Bureau staff only."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Exists, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from skillkit.audit import record
from skillkit.auth import Principal, Role
from skillkit.contracts.certification import EvaluationInstitutionFiled
from skillkit.contracts.certification import Filing as FilingPayload
from skillkit.contracts.vocab import CertificateType
from skillkit.db import utcnow
from skillkit.problems import Problem, not_found

from certification_service.adapters.db import ROW_LOCK
from certification_service.adapters.models import EvaluationInstitution, Filing
from certification_service.adapters.outbox import outbox
from certification_service.domain.institutions import InstitutionStatus
from certification_service.handlers.inputs import FilingIn, InstitutionIn, InstitutionStatusIn
from certification_service.config import CertificationSettings
from certification_service.domain.certificates import check_level, level_slot
from certification_service.domain.occupations import occupation_name


def credit_code_or_problem(raw: str) -> str:
    """GB 32100 unified social credit code (统一社会信用代码) with its check character."""
    try:
        return uscc.validate(raw.strip().upper())
    except InvalidChecksum as exc:
        raise Problem(422, "credit_code_check_character", "unified social credit code check character is wrong") from exc
    except (InvalidLength, InvalidFormat) as exc:
        raise Problem(
            422, "credit_code_format", "unified social credit code must be 18 characters of digits and capitals"
        ) from exc
    except (InvalidComponent, ValidationError) as exc:
        raise Problem(422, "credit_code_invalid", "unified social credit code is not valid") from exc


def checked_filings(filings: list[FilingIn], settings: CertificationSettings) -> list[tuple[str, int | None, str]]:
    """Validates every filing (occupation catalogue, level 1-5 where levelled); duplicates collapse."""
    seen: dict[tuple[str, int, str], tuple[str, int | None, str]] = {}
    for filing in filings:
        occupation_name(filing.occupation_code, settings.extra_occupations)
        level = check_level(filing.certificate_type, filing.level)
        seen[(filing.occupation_code, level_slot(level), filing.certificate_type)] = (
            filing.occupation_code,
            level,
            str(filing.certificate_type),
        )
    return list(seen.values())


async def filings_of(session: AsyncSession, institution_id: uuid.UUID) -> list[Filing]:
    rows = await session.scalars(
        select(Filing)
        .where(Filing.institution_id == institution_id)
        .order_by(Filing.occupation_code, Filing.certificate_type, Filing.level_slot)
    )
    return list(rows)


def _filing_list(filings: list[Filing]) -> list[dict[str, Any]]:
    """The filings as the audit trail shows them (P10), in a stable order."""
    return [dict(occupation_code=f.occupation_code, level=f.level, certificate_type=f.certificate_type)
            for f in sorted(filings, key=lambda f: (f.occupation_code, f.certificate_type, f.level_slot))]


async def _emit_filed(session: AsyncSession, institution: EvaluationInstitution) -> None:
    filings = await filings_of(session, institution.id)
    await outbox.add(
        session,
        EvaluationInstitutionFiled(
            institution_id=str(institution.id),
            name=institution.name,
            credit_code=institution.credit_code,
            status=institution.status,
            status_reason=institution.status_reason,
            filings=[
                FilingPayload(
                    occupation_code=f.occupation_code, level=f.level, certificate_type=CertificateType(f.certificate_type)
                )
                for f in filings
            ],
        ),
        partition_key=str(institution.id),
        subject=str(institution.id),
    )


async def register_institution(
    session: AsyncSession, settings: CertificationSettings, principal: Principal, data: InstitutionIn
) -> EvaluationInstitution:
    code = credit_code_or_problem(data.credit_code)
    filings = checked_filings(data.filings, settings)
    if await session.scalar(select(EvaluationInstitution.id).where(EvaluationInstitution.credit_code == code)):
        raise Problem(409, "institution_credit_code_taken", f"an institution with credit code {code} is already registered")
    now = utcnow()
    institution = EvaluationInstitution(
        name=data.name.strip(),
        credit_code=code,
        status=InstitutionStatus.APPROVED,
        status_reason=None,
        created_by=principal.subject,
        created_at=now,
        updated_by=principal.subject,
        updated_at=now,
    )
    session.add(institution)
    await session.flush()
    for occupation, level, certificate_type in filings:
        session.add(
            Filing(
                institution_id=institution.id,
                occupation_code=occupation,
                level=level,
                level_slot=level_slot(level),
                certificate_type=certificate_type,
                created_at=now,
            )
        )
    await session.flush()
    await _emit_filed(session, institution)
    await record(session, principal, "evaluation_institution.register", "evaluation_institution", str(institution.id),
                 after=dict(name=institution.name, credit_code=code, status=institution.status,
                            filings=_filing_list(await filings_of(session, institution.id))))
    return institution


async def get_institution(
    session: AsyncSession, institution_id: uuid.UUID, *, for_update: bool = False
) -> EvaluationInstitution:
    institution = await session.get(EvaluationInstitution, institution_id,
                                    with_for_update=ROW_LOCK if for_update else None, populate_existing=for_update)
    if institution is None:
        raise not_found("institution", institution_id)
    return institution


async def replace_filings(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    institution_id: uuid.UUID,
    filings_in: list[FilingIn],
) -> EvaluationInstitution:
    """The filing list is replaced as a whole (the provincial filing is one document); I2."""
    # Locked: two concurrent replacements would both delete and re-insert, and the second collide with the first.
    institution = await get_institution(session, institution_id, for_update=True)
    filings = checked_filings(filings_in, settings)
    before = _filing_list(await filings_of(session, institution.id))
    for existing in await filings_of(session, institution.id):
        await session.delete(existing)
    await session.flush()
    now = utcnow()
    for occupation, level, certificate_type in filings:
        session.add(
            Filing(
                institution_id=institution.id,
                occupation_code=occupation,
                level=level,
                level_slot=level_slot(level),
                certificate_type=certificate_type,
                created_at=now,
            )
        )
    institution.updated_by = principal.subject
    institution.updated_at = now
    await session.flush()
    await _emit_filed(session, institution)
    await record(session, principal, "evaluation_institution.filings", "evaluation_institution", str(institution.id),
                 before=dict(filings=before),
                 after=dict(filings=_filing_list(await filings_of(session, institution.id))))
    return institution


async def change_status(
    session: AsyncSession, principal: Principal, institution_id: uuid.UUID, data: InstitutionStatusIn
) -> EvaluationInstitution:
    """I3: suspend, revoke or reinstate, always with who and (for suspension and revocation) why."""
    # Locked so that concurrent changes are serialised: the second is checked against the first's status (a
    # revocation stays final, the same change is not made and announced twice).
    institution = await get_institution(session, institution_id, for_update=True)
    if data.status != InstitutionStatus.APPROVED and not data.reason:
        raise Problem(422, "status_reason_required", f"setting status {data.status} needs a reason")
    if institution.status == InstitutionStatus.REVOKED:
        raise Problem(409, "institution_revoked_final", "a revoked institution cannot change status; register anew")
    if institution.status == data.status:
        raise Problem(409, "institution_status_unchanged", f"the institution is already {data.status}")
    before = dict(status=institution.status, status_reason=institution.status_reason)
    institution.status = data.status
    institution.status_reason = data.reason
    institution.updated_by = principal.subject
    institution.updated_at = utcnow()
    await session.flush()
    await _emit_filed(session, institution)
    action = {InstitutionStatus.APPROVED: "evaluation_institution.reinstate",
              InstitutionStatus.SUSPENDED: "evaluation_institution.suspend",
              InstitutionStatus.REVOKED: "evaluation_institution.revoke"}[InstitutionStatus(data.status)]
    await record(session, principal, action, "evaluation_institution", str(institution.id), before=before,
                 after=dict(status=institution.status, status_reason=institution.status_reason), reason=data.reason)
    return institution


async def institution_of_principal(session: AsyncSession, principal: Principal) -> EvaluationInstitution:
    """The evaluation institution an evaluation_org principal acts for (its org claim is the institution id)."""
    try:
        institution_id = uuid.UUID(str(principal.org_id))
    except ValueError as exc:
        raise Problem(403, "institution_not_registered", "the organisation is not a registered evaluation institution") from exc
    institution = await session.get(EvaluationInstitution, institution_id)
    if institution is None:
        raise Problem(403, "institution_not_registered", "the organisation is not a registered evaluation institution")
    return institution


def ensure_active(institution: EvaluationInstitution) -> None:
    """I3: a suspended or revoked institution takes no new evaluations and issues nothing."""
    if institution.status == InstitutionStatus.SUSPENDED:
        raise Problem(409, "institution_suspended", f"the institution is suspended: {institution.status_reason}")
    if institution.status == InstitutionStatus.REVOKED:
        raise Problem(409, "institution_revoked", f"the institution is revoked: {institution.status_reason}")


def filed(institution_id: Any, occupation_code: Any, level_slot_: Any, certificate_type: Any) -> Exists:
    """I2 as a SQL condition (values or columns), so a query can check it along with what it reads."""
    return exists().where(
        Filing.institution_id == institution_id,
        Filing.occupation_code == occupation_code,
        Filing.level_slot == level_slot_,
        Filing.certificate_type == certificate_type,
    )


# I2 for given values, built once (scheduling an evaluation runs it).
_FILED = select(filed(bindparam("institution_id"), bindparam("occupation_code"), bindparam("level_slot"),
                      bindparam("certificate_type")))


def not_filed(occupation_code: str, level: int | None, certificate_type: str) -> Problem:
    level_text = f" level {level}" if level is not None else ""
    return Problem(
        403,
        "institution_not_filed",
        f"the institution is not filed for {certificate_type} {occupation_code}{level_text} (I2)",
    )


async def ensure_filed(
    session: AsyncSession, institution: EvaluationInstitution, occupation_code: str, level: int | None, certificate_type: str
) -> None:
    """I2: only the occupations and levels the institution is filed for."""
    if not await session.scalar(_FILED, dict(institution_id=institution.id, occupation_code=occupation_code,
                                             level_slot=level_slot(level), certificate_type=certificate_type)):
        raise not_filed(occupation_code, level, certificate_type)


def ensure_own(principal: Principal, institution_id: uuid.UUID) -> None:
    """Organisation scope: an evaluation institution sees and changes only its own records."""
    if principal.role == Role.EVALUATION_ORG and _org_uuid(principal) != institution_id:
        raise Problem(403, "organisation_forbidden", "this record belongs to another evaluation institution")


def _org_uuid(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(principal.org_id))
    except ValueError:
        return None
