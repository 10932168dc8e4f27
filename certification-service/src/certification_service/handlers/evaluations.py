"""Use cases on evaluations (考评): scheduling, candidates' results (P3, I2, I3); registering is candidates.py."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.contracts.certification import EvaluationResultRecorded, EvaluationScheduled
from skillkit.contracts.vocab import CertificateType
from skillkit.db import utcnow
from skillkit.problems import Problem, not_found

from certification_service.adapters.db import ROW_LOCK
from certification_service.adapters.models import Candidate, Evaluation, EvaluationInstitution
from certification_service.adapters.outbox import outbox
from certification_service.config import CertificationSettings
from certification_service.domain.certificates import check_level
from certification_service.handlers.inputs import EvaluationIn
from certification_service.domain.occupations import occupation_name
from certification_service.domain.scores import decide_pass, parse_score
from certification_service.handlers.institutions import (
    ensure_active,
    ensure_filed,
    ensure_own,
    institution_of_principal,
)


async def schedule_evaluation(
    session: AsyncSession, settings: CertificationSettings, principal: Principal, data: EvaluationIn
) -> Evaluation:
    occupation_name(data.occupation_code, settings.extra_occupations)
    level = check_level(data.certificate_type, data.level)
    institution = await institution_of_principal(session, principal)
    ensure_active(institution)  # I3
    await ensure_filed(session, institution, data.occupation_code, level, data.certificate_type)  # I2
    evaluation = Evaluation(
        institution_id=institution.id,
        occupation_code=data.occupation_code,
        level=level,
        certificate_type=str(data.certificate_type),
        scheduled_on=data.scheduled_on,
        scheduled_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(evaluation)
    await session.flush()
    await outbox.add(
        session,
        EvaluationScheduled(
            evaluation_id=str(evaluation.id),
            institution_id=str(institution.id),
            occupation_code=evaluation.occupation_code,
            level=evaluation.level,
            certificate_type=CertificateType(evaluation.certificate_type),
            scheduled_on=evaluation.scheduled_on,
        ),
        partition_key=str(evaluation.id),
        subject=str(evaluation.id),
    )
    await record(session, principal, "evaluation.schedule", "evaluation", str(evaluation.id), after=dict(  # P10
        institution_id=institution.id, occupation_code=evaluation.occupation_code, level=evaluation.level,
        certificate_type=evaluation.certificate_type, scheduled_on=evaluation.scheduled_on))
    return evaluation


async def get_evaluation(session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID) -> Evaluation:
    evaluation = await session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise not_found("evaluation", evaluation_id)
    ensure_own(principal, evaluation.institution_id)
    return evaluation


# Built once: every upload request runs it, and building the ORM select cost more than a small query's round trip.
_WRITABLE = (
    select(Evaluation, EvaluationInstitution)
    .join(EvaluationInstitution, EvaluationInstitution.id == Evaluation.institution_id)
    .where(Evaluation.id == bindparam("evaluation_id"))
)


async def writable_evaluation(session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID) -> Evaluation:
    """The caller's own evaluation, at an institution in good standing (I3); one query for both."""
    row = (await session.execute(_WRITABLE, {"evaluation_id": evaluation_id})).first()
    if row is None:
        raise not_found("evaluation", evaluation_id)
    evaluation, institution = row
    ensure_own(principal, evaluation.institution_id)
    ensure_active(institution)
    return evaluation


async def get_candidate(
    session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID, candidate_id: uuid.UUID
) -> Candidate:
    """The candidate, locked for recording their result."""
    await get_evaluation(session, principal, evaluation_id)
    # Locked so that concurrent results for the same candidate are serialised: the second one sees the first
    # recorded (`result_already_recorded`) instead of both passing the check and the last writer winning.
    candidate = await session.get(Candidate, candidate_id, with_for_update=ROW_LOCK, populate_existing=True)
    if candidate is None or candidate.evaluation_id != evaluation_id:
        raise not_found("candidate", candidate_id)
    return candidate


def apply_result(
    settings: CertificationSettings,
    principal: Principal,
    evaluation: Evaluation,
    candidate: Candidate,
    theory_raw: Any,
    practical_raw: Any,
    declared_pass: bool | None,
) -> EvaluationResultRecorded:
    """Sets one candidate's result (no I/O) and returns its event. Every check comes before the first change,
    so a refused row leaves the candidate as it was (bulk uploads rely on it)."""
    theory = parse_score(theory_raw, "theory score")
    practical = parse_score(practical_raw, "practical score")
    passed = decide_pass(theory, practical, Decimal(settings.pass_mark), declared_pass)
    if candidate.result_recorded_at is not None:
        raise Problem(409, "result_already_recorded", "this candidate's result is already recorded")
    candidate.theory_score = theory
    candidate.practical_score = practical
    candidate.passed = passed
    candidate.result_recorded_at = utcnow()
    candidate.result_recorded_by = principal.subject
    return EvaluationResultRecorded(
        evaluation_id=str(evaluation.id),
        candidate_id=str(candidate.id),
        person_key=candidate.person_key,
        passed=passed,
        theory_score=theory,
        practical_score=practical,
        free_student_evaluation=candidate.free_student_evaluation,
        graduation_year=candidate.graduation_year if candidate.free_student_evaluation else None,
        institution_id=str(evaluation.institution_id),
    )


async def record_result(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation: Evaluation,
    candidate: Candidate,
    theory_raw: Any,
    practical_raw: Any,
    declared_pass: bool | None,
) -> Candidate:
    """Records one candidate's result and emits `evaluation.result_recorded.v1`."""
    event = apply_result(settings, principal, evaluation, candidate, theory_raw, practical_raw, declared_pass)
    await session.flush()
    await outbox.add(session, event, partition_key=candidate.person_key, subject=str(candidate.id))
    await record(session, principal, "candidate.result", "candidate", str(candidate.id), after=dict(  # P10
        evaluation_id=evaluation.id, theory_score=candidate.theory_score, practical_score=candidate.practical_score,
        passed=candidate.passed))
    return candidate
