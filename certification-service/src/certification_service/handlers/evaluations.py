"""Use cases on evaluations (考评): scheduling, candidates, results (P3, E7, I2, I3)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.contracts.certification import EvaluationResultRecorded, EvaluationScheduled
from skillkit.contracts.vocab import CertificateType, WorkerCategory
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.pii import PiiCipher, blind_index, normalise_resident_id, person_key
from skillkit.problems import Problem, not_found

from certification_service.adapters.db import flush_or_conflict
from certification_service.adapters.models import Candidate, Evaluation, KnownWorker
from certification_service.adapters.outbox import outbox
from certification_service.api.schemas import CandidateIn, EvaluationIn
from certification_service.config import CertificationSettings
from certification_service.domain.certificates import check_level
from certification_service.domain.occupations import occupation_name
from certification_service.domain.scores import decide_pass, parse_score
from certification_service.handlers.institutions import (
    ensure_active,
    ensure_filed,
    ensure_own,
    get_institution,
    institution_of_principal,
)

# E7: a free evaluation is for students graduating this year or in the next few years, or who just did.
GRADUATION_YEARS_BACK, GRADUATION_YEARS_AHEAD = 1, 4



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
    return evaluation


async def get_evaluation(session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID) -> Evaluation:
    evaluation = await session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise not_found("evaluation", evaluation_id)
    ensure_own(principal, evaluation.institution_id)
    return evaluation


async def writable_evaluation(session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID) -> Evaluation:
    """The caller's own evaluation, at an institution in good standing (I3)."""
    evaluation = await get_evaluation(session, principal, evaluation_id)
    ensure_active(await get_institution(session, evaluation.institution_id))
    return evaluation


async def register_candidate(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation_id: uuid.UUID,
    data: CandidateIn,
) -> Candidate:
    """Registers a candidate by resident ID number, matched to a known worker through the person key."""
    number = normalise_resident_id(data.id_number, local_date(utcnow()))
    evaluation = await writable_evaluation(session, principal, evaluation_id)
    key = person_key(number, settings.person_key_secret)
    if await session.scalar(
        select(Candidate.id).where(Candidate.evaluation_id == evaluation.id, Candidate.person_key == key)
    ):
        raise Problem(409, "candidate_already_registered", "this person is already a candidate of this evaluation")
    worker = await session.get(KnownWorker, key)
    known = worker is not None and worker.registered
    graduation_year = data.graduation_year
    if graduation_year is not None:
        _check_graduation_year(graduation_year)
    if data.free_student_evaluation:
        graduation_year = await _check_free_student_evaluation(session, evaluation, worker, key, graduation_year)
    candidate = Candidate(
        evaluation_id=evaluation.id,
        name=data.name.strip(),
        id_number_encrypted=PiiCipher(settings.pii_encryption_key).encrypt(number),
        id_blind_index=blind_index(number, settings.blind_index_secret),
        person_key=key,
        unknown_person=not known,
        free_student_evaluation=data.free_student_evaluation,
        graduation_year=graduation_year,
        free_graduation_year=graduation_year if data.free_student_evaluation else None,
        registered_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(candidate)
    # The unique constraints catch what a concurrent registration slipped past the checks above.
    await flush_or_conflict(
        session, "candidate_conflict", "this person was registered concurrently (same evaluation, or E7 free evaluation)"
    )
    return candidate


def _check_graduation_year(graduation_year: int) -> None:
    this_year = local_date(utcnow()).year
    if not this_year - GRADUATION_YEARS_BACK <= graduation_year <= this_year + GRADUATION_YEARS_AHEAD:
        raise Problem(
            422,
            "graduation_year_out_of_range",
            f"graduation year {graduation_year} is outside {this_year - GRADUATION_YEARS_BACK}"
            f" to {this_year + GRADUATION_YEARS_AHEAD}",
        )


async def _check_free_student_evaluation(
    session: AsyncSession, evaluation: Evaluation, worker: KnownWorker | None, key: str, graduation_year: int | None
) -> int:
    """E7: 中职 students take one free skill-level evaluation per graduation year."""
    if evaluation.certificate_type != CertificateType.SKILL_LEVEL:
        raise Problem(
            422, "free_evaluation_not_skill_level", "the free student evaluation (E7) is for skill-level evaluations only"
        )
    if graduation_year is None:
        raise Problem(422, "graduation_year_required", "a free student evaluation (E7) needs the graduation year")
    if worker is None or WorkerCategory.VOCATIONAL_STUDENT not in (worker.categories or []):
        raise Problem(
            422,
            "free_evaluation_not_vocational_student",
            "the free evaluation (E7) is for workers registered as 中职 students (vocational_student)",
        )
    used = await session.scalar(
        select(Candidate.id).where(Candidate.person_key == key, Candidate.free_graduation_year == graduation_year)
    )
    if used is not None:
        raise Problem(
            409,
            "free_evaluation_already_used",
            f"this student already had the free evaluation of graduation year {graduation_year} (E7)",
        )
    return graduation_year


async def get_candidate(
    session: AsyncSession, principal: Principal, evaluation_id: uuid.UUID, candidate_id: uuid.UUID
) -> Candidate:
    await get_evaluation(session, principal, evaluation_id)
    candidate = await session.get(Candidate, candidate_id)
    if candidate is None or candidate.evaluation_id != evaluation_id:
        raise not_found("candidate", candidate_id)
    return candidate


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
    """Records one candidate's result. Every check happens before anything is written (bulk uploads rely on it)."""
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
    await session.flush()
    await outbox.add(
        session,
        EvaluationResultRecorded(
            evaluation_id=str(evaluation.id),
            candidate_id=str(candidate.id),
            person_key=candidate.person_key,
            passed=passed,
            theory_score=theory,
            practical_score=practical,
            free_student_evaluation=candidate.free_student_evaluation,
            graduation_year=candidate.graduation_year if candidate.free_student_evaluation else None,
            institution_id=str(evaluation.institution_id),
        ),
        partition_key=candidate.person_key,
        subject=str(candidate.id),
    )
    return candidate
