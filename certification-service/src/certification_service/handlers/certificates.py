"""Use cases on certificates (持证): issuing for those who passed, revocation (I2, I3, E5, E7)."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.contracts.certification import CertificateIssued, CertificateRevoked
from skillkit.contracts.vocab import CertificateType
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.problems import Problem, not_found

from certification_service.adapters.db import flush_or_conflict
from certification_service.adapters.models import Candidate, Certificate, CertificateSequence, Evaluation
from certification_service.adapters.outbox import outbox
from certification_service.domain.revocation import RevokeIn
from certification_service.domain.certificates import certificate_number, level_slot
from certification_service.handlers.institutions import ensure_active, ensure_filed, ensure_own, get_institution

ACTIVE = "active"


async def issue_certificate(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID) -> Certificate:
    candidate = await session.get(Candidate, candidate_id)
    if candidate is None:
        raise not_found("candidate", candidate_id)
    evaluation = await session.get(Evaluation, candidate.evaluation_id)
    assert evaluation is not None
    ensure_own(principal, evaluation.institution_id)
    institution = await get_institution(session, evaluation.institution_id)
    ensure_active(institution)  # I3
    # I2: filed for the occupation and level at the time of issuing, not only when the evaluation was scheduled.
    await ensure_filed(session, institution, evaluation.occupation_code, evaluation.level, evaluation.certificate_type)
    if candidate.result_recorded_at is None:
        raise Problem(409, "result_not_recorded", "the candidate has no recorded result yet")
    if not candidate.passed:
        raise Problem(409, "candidate_not_passed", "only a candidate who passed receives a certificate")
    duplicate = await session.scalar(
        select(Certificate.certificate_no).where(
            Certificate.person_key == candidate.person_key,
            Certificate.occupation_code == evaluation.occupation_code,
            Certificate.level_slot == level_slot(evaluation.level),
            Certificate.active_slot == ACTIVE,
        )
    )
    if duplicate is not None:
        raise Problem(
            409,
            "certificate_duplicate",
            f"this person already holds certificate {duplicate} for this occupation and level",
        )
    today = local_date(utcnow())
    number = certificate_number(today.year, await _next_sequence(session, today.year))
    certificate = Certificate(
        certificate_no=number,
        candidate_id=candidate.id,
        evaluation_id=evaluation.id,
        institution_id=institution.id,
        person_key=candidate.person_key,
        holder_name=candidate.name,
        certificate_type=evaluation.certificate_type,
        occupation_code=evaluation.occupation_code,
        level=evaluation.level,
        level_slot=level_slot(evaluation.level),
        active_slot=ACTIVE,
        issued_on=today,
        issued_by=principal.subject,
        free_student_evaluation=candidate.free_student_evaluation,
        graduation_year=candidate.graduation_year if candidate.free_student_evaluation else None,
        status="valid",
        created_at=utcnow(),
    )
    session.add(certificate)
    await flush_or_conflict(
        session, "certificate_duplicate", "this person was certified for this occupation and level concurrently"
    )
    await outbox.add(
        session,
        CertificateIssued(
            certificate_id=str(certificate.id),
            certificate_no=certificate.certificate_no,
            person_key=certificate.person_key,
            certificate_type=CertificateType(certificate.certificate_type),
            occupation_code=certificate.occupation_code,
            level=certificate.level,
            issued_on=certificate.issued_on,
            institution_id=str(certificate.institution_id),
            evaluation_id=str(certificate.evaluation_id),
            free_student_evaluation=certificate.free_student_evaluation,
            graduation_year=certificate.graduation_year,
        ),
        partition_key=certificate.person_key,
        subject=str(certificate.id),
    )
    return certificate


async def _next_sequence(session: AsyncSession, year: int) -> int:
    """The next running number of the year; the row lock serialises concurrent issuers."""
    for _ in range(3):
        value = await session.scalar(
            update(CertificateSequence)
            .where(CertificateSequence.year == year)
            .values(last_value=CertificateSequence.last_value + 1)
            .returning(CertificateSequence.last_value)
        )
        if value is not None:
            return int(value)
        try:
            async with session.begin_nested():
                session.add(CertificateSequence(year=year, last_value=1))
            return 1
        except IntegrityError:
            continue  # another issuer created the year's row first: take the next number from it
    raise RuntimeError(f"could not allocate a certificate number for {year}")


async def get_certificate(session: AsyncSession, principal: Principal, certificate_id: uuid.UUID) -> Certificate:
    certificate = await session.get(Certificate, certificate_id)
    if certificate is None:
        raise not_found("certificate", certificate_id)
    ensure_own(principal, certificate.institution_id)
    return certificate


async def revoke_certificate(
    session: AsyncSession, principal: Principal, certificate_id: uuid.UUID, data: RevokeIn
) -> Certificate:
    """Revocation (fraud, error) by bureau staff; the subsidy service stops or claws back what relied on it."""
    certificate = await get_certificate(session, principal, certificate_id)
    if certificate.status == "revoked":
        raise Problem(409, "certificate_already_revoked", "this certificate is already revoked")
    now = utcnow()
    certificate.status = "revoked"
    certificate.active_slot = None
    certificate.revoked_reason = str(data.reason)
    certificate.revoked_note = data.note
    certificate.revoked_by = principal.subject
    certificate.revoked_at = now
    await session.flush()
    await outbox.add(
        session,
        CertificateRevoked(
            certificate_id=str(certificate.id),
            person_key=certificate.person_key,
            reason=str(data.reason),
            revoked_at=now,
            certificate_no=certificate.certificate_no,
            institution_id=str(certificate.institution_id),
            occupation_code=certificate.occupation_code,
            level=certificate.level,
            revoked_by=principal.subject,
        ),
        partition_key=certificate.person_key,
        subject=str(certificate.id),
    )
    return certificate


async def issue_for_evaluation(
    session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID
) -> tuple[list[Certificate], list[tuple[Candidate, Problem]]]:
    """Issues the certificates of every candidate of the evaluation who passed and has none yet.

    Each candidate runs in its own savepoint: one refused (e.g. already certified elsewhere, E5) does
    not stop the others, and is reported with its problem code.
    """
    evaluation = await session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise not_found("evaluation", evaluation_id)
    ensure_own(principal, evaluation.institution_id)
    institution = await get_institution(session, evaluation.institution_id)
    ensure_active(institution)  # I3
    await ensure_filed(session, institution, evaluation.occupation_code, evaluation.level, evaluation.certificate_type)
    already = select(Certificate.candidate_id).where(Certificate.evaluation_id == evaluation.id)
    candidates = list(
        await session.scalars(
            select(Candidate)
            .where(Candidate.evaluation_id == evaluation.id, Candidate.passed.is_(True), Candidate.id.not_in(already))
            .order_by(Candidate.created_at, Candidate.id)
        )
    )
    issued: list[Certificate] = []
    refused: list[tuple[Candidate, Problem]] = []
    for candidate in candidates:
        try:
            async with session.begin_nested():
                issued.append(await issue_certificate(session, principal, candidate.id))
        except Problem as problem:
            refused.append((candidate, problem))
    return issued, refused
