"""Use cases on certificates (持证): issuing for those who passed, revocation (I2, I3, E5, E7)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.contracts.certification import CertificateIssued, CertificateRevoked
from skillkit.contracts.vocab import CertificateType
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.problems import Problem, not_found

from certification_service.adapters.db import ROW_LOCK, flush_or_conflict
from certification_service.adapters.models import (
    Candidate,
    Certificate,
    CertificateSequence,
    Evaluation,
    EvaluationInstitution,
)
from certification_service.adapters.outbox import outbox
from certification_service.handlers.inputs import RevokeIn
from certification_service.domain.certificates import certificate_number, level_slot
from certification_service.handlers.institutions import ensure_active, ensure_own, filed, not_filed

ACTIVE = "active"
CERTIFICATES = Certificate.__table__

# The statements of a batch issue, built once (building these ORM selects cost more CPU than running them).
# The evaluation and its institution, checked for issuing: own, I3, and I2 at the time of issuing.
_ISSUING = (
    select(
        Evaluation,
        EvaluationInstitution,
        filed(
            Evaluation.institution_id,
            Evaluation.occupation_code,
            func.coalesce(Evaluation.level, 0),  # level_slot() in SQL
            Evaluation.certificate_type,
        ),
    )
    .join(EvaluationInstitution, EvaluationInstitution.id == Evaluation.institution_id)
    .where(Evaluation.id == bindparam("evaluation_id"))
)
# `count` running numbers of the year; returns the last. (A bind named like a SET column is reserved: `p_`.)
_RESERVE = (
    update(CertificateSequence)
    .where(CertificateSequence.year == bindparam("p_year"))
    .values(last_value=CertificateSequence.last_value + bindparam("p_count"))
    .returning(CertificateSequence.last_value)
)
# The evaluation's passed candidates without a certificate from it, each with the active certificate the person
# may already hold for this occupation and level (E5), in registration order.
_TO_ISSUE = (
    select(Candidate, Certificate.certificate_no)
    .outerjoin(
        Certificate,
        and_(
            Certificate.person_key == Candidate.person_key,
            Certificate.occupation_code == bindparam("occupation_code"),
            Certificate.level_slot == bindparam("level_slot"),
            Certificate.active_slot == ACTIVE,
        ),
    )
    .where(
        Candidate.evaluation_id == bindparam("evaluation_id"),
        Candidate.passed.is_(True),
        Candidate.id.not_in(select(Certificate.candidate_id).where(Certificate.evaluation_id == bindparam("evaluation_id"))),
    )
    .order_by(Candidate.created_at, Candidate.id)
)


async def issue_certificate(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID) -> Certificate:
    candidate = await session.get(Candidate, candidate_id)
    if candidate is None:
        raise not_found("candidate", candidate_id)
    evaluation, _ = await _issuing(session, principal, candidate.evaluation_id)
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
        raise _duplicate()
    # One certificate per result, whatever became of it: a certificate revoked (for fraud or error) must not
    # come back from the same result. The unique index on certificates.candidate_id backs this under concurrency.
    issued = await session.scalar(select(Certificate.certificate_no).where(Certificate.candidate_id == candidate.id))
    if issued is not None:
        raise Problem(
            409,
            "candidate_already_certified",
            f"certificate {issued} was already issued for this result; a new certificate needs a new evaluation",
        )
    today = local_date(utcnow())
    [row] = _certificate_rows(principal, evaluation, [candidate], today, await _allocate(session, today.year, 1))
    certificate = Certificate(**row)
    session.add(certificate)
    await flush_or_conflict(
        session, "certificate_duplicate", "this person was certified for this occupation and level concurrently"
    )
    await outbox.add(session, _issued(certificate), partition_key=certificate.person_key, subject=str(certificate.id))
    return certificate


async def issue_one(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID) -> Certificate:
    """The institution issues one candidate's certificate: recorded as its decision (P10)."""
    certificate = await issue_certificate(session, principal, candidate_id)
    await record(session, principal, "certificate.issue", "certificate", str(certificate.id),
                 after=_audited_issue(certificate))
    return certificate


def _audited_issue(certificate: Certificate | SimpleNamespace) -> dict[str, Any]:
    return dict(certificate_no=certificate.certificate_no, candidate_id=certificate.candidate_id,
                evaluation_id=certificate.evaluation_id, occupation_code=certificate.occupation_code,
                level=certificate.level, status=certificate.status)


async def _issuing(
    session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID
) -> tuple[Evaluation, EvaluationInstitution]:
    """The evaluation and its institution, checked for issuing in one query: own, I3, and I2 at the time of
    issuing, not only when the evaluation was scheduled (the filing may have been withdrawn since)."""
    row = (await session.execute(_ISSUING, {"evaluation_id": evaluation_id})).first()
    if row is None:
        raise not_found("evaluation", evaluation_id)
    evaluation, institution, is_filed = row
    ensure_own(principal, evaluation.institution_id)
    ensure_active(institution)  # I3
    if not is_filed:  # I2
        raise not_filed(evaluation.occupation_code, evaluation.level, evaluation.certificate_type)
    return evaluation, institution


def _duplicate() -> Problem:
    # Without the number: the certificate may be another institution's, and this one could otherwise learn, for any
    # ID number it registers, who holds which certificate (E5 is all it needs to know).
    return Problem(409, "certificate_duplicate", "this person already holds a certificate for this occupation and level")


def _certificate_rows(
    principal: Principal, evaluation: Evaluation, candidates: list[Candidate], today: date, first_sequence: int
) -> list[dict[str, Any]]:
    """The candidates' certificates as rows of every column, numbered from `first_sequence` in their order."""
    now = utcnow()
    return [
        dict(
            id=uuid.uuid4(),
            certificate_no=certificate_number(today.year, first_sequence + i),
            candidate_id=candidate.id,
            evaluation_id=evaluation.id,
            institution_id=evaluation.institution_id,
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
            revoked_reason=None,
            revoked_note=None,
            revoked_by=None,
            revoked_at=None,
            created_at=now,
        )
        for i, candidate in enumerate(candidates)
    ]


def _issued(certificate: Certificate | SimpleNamespace) -> CertificateIssued:
    return CertificateIssued(
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
    )


async def _allocate(session: AsyncSession, year: int, count: int) -> int:
    """Reserves `count` running numbers of the year and returns the first; the row lock serialises issuers."""
    for _ in range(3):
        value = await session.scalar(_RESERVE, {"p_year": year, "p_count": count})
        if value is not None:
            return int(value) - count + 1
        try:
            async with session.begin_nested():
                session.add(CertificateSequence(year=year, last_value=count))
            return 1
        except IntegrityError:
            continue  # another issuer created the year's row first: take the numbers from it
    raise RuntimeError(f"could not allocate certificate numbers for {year}")


async def get_certificate(
    session: AsyncSession, principal: Principal, certificate_id: uuid.UUID, *, for_update: bool = False
) -> Certificate:
    certificate = await session.get(
        Certificate, certificate_id, with_for_update=ROW_LOCK if for_update else None, populate_existing=for_update
    )
    if certificate is None:
        raise not_found("certificate", certificate_id)
    ensure_own(principal, certificate.institution_id)
    return certificate


async def revoke_certificate(
    session: AsyncSession, principal: Principal, certificate_id: uuid.UUID, data: RevokeIn
) -> Certificate:
    """Revocation (fraud, error) by bureau staff; the subsidy service stops or claws back what relied on it."""
    # Locked so that of two concurrent revocations the second sees the first (`certificate_already_revoked`)
    # rather than both succeeding and emitting two `certificate.revoked.v1`.
    certificate = await get_certificate(session, principal, certificate_id, for_update=True)
    if certificate.status == "revoked":
        raise Problem(409, "certificate_already_revoked", "this certificate is already revoked")
    now = utcnow()
    before = dict(status=certificate.status)
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
    await record(session, principal, "certificate.revoke", "certificate", str(certificate.id), before=before,  # P10
                 after=dict(status="revoked", revoked_reason=str(data.reason), revoked_note=data.note),
                 reason=str(data.reason))
    return certificate


async def issue_for_evaluation(
    session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID
) -> tuple[Sequence[Certificate | SimpleNamespace], list[tuple[Candidate, Problem]]]:
    """Issues the certificates of every candidate of the evaluation who passed and has none yet.

    Set-based: one query for those candidates with the certificate each may already hold for this occupation
    and level (refused as `certificate_duplicate`, the others still issued), one reservation of the numbers,
    one INSERT of the certificates and one of their events. If a concurrent issuer certified one of these
    persons in between, the INSERT hits the unique constraint: the batch is undone (numbers included) and
    redone one candidate at a time, each in its own savepoint, so that only that candidate is refused.
    """
    evaluation, _ = await _issuing(session, principal, evaluation_id)
    rows = (await session.execute(_TO_ISSUE, {
        "evaluation_id": evaluation.id, "occupation_code": evaluation.occupation_code,
        "level_slot": level_slot(evaluation.level),
    })).all()
    eligible = [candidate for candidate, held in rows if held is None]
    refused = [(candidate, _duplicate()) for candidate, held in rows if held is not None]
    if not eligible:
        return [], refused
    today = local_date(utcnow())
    try:
        async with session.begin_nested():
            written = _certificate_rows(principal, evaluation, eligible, today,
                                        await _allocate(session, today.year, len(eligible)))
            await session.execute(CERTIFICATES.insert(), written)
    except IntegrityError:
        issued, refused = await _issue_one_by_one(session, principal, [candidate for candidate, _ in rows])
    else:
        # The rows as written, for the events and the response: Core INSERT and plain objects, because ORM objects
        # cost their instrumentation and a unit-of-work flush for rows nothing in this request reads again.
        issued = [SimpleNamespace(**row) for row in written]
        await outbox.add_many(session, [(_issued(c), c.person_key, str(c.id)) for c in issued])
    if issued:  # P10: one entry for the batch, naming each certificate
        await record(session, principal, "certificate.issue_batch", "evaluation", str(evaluation.id), after=dict(
            issued=len(issued), refused=len(refused),
            certificates=[dict(id=c.id, **_audited_issue(c)) for c in issued]))
    return issued, refused


async def _issue_one_by_one(
    session: AsyncSession, principal: Principal, candidates: list[Candidate]
) -> tuple[list[Certificate], list[tuple[Candidate, Problem]]]:
    issued: list[Certificate] = []
    refused: list[tuple[Candidate, Problem]] = []
    for candidate in candidates:
        try:
            async with session.begin_nested():
                issued.append(await issue_certificate(session, principal, candidate.id))
        except Problem as problem:
            refused.append((candidate, problem))
    return issued, refused
