"""ORM rows -> response bodies. Resident ID numbers leave only masked."""

from __future__ import annotations

from types import SimpleNamespace

from skillkit.contracts.vocab import CertificateType
from skillkit.pii import PiiCipher, mask_resident_id

from certification_service.adapters.models import Candidate, Certificate, EvaluationInstitution, Evaluation, Filing
from certification_service.api.schemas import (
    CandidateOut,
    CertificateOut,
    EvaluationOut,
    FilingOut,
    InstitutionOut,
    UploadOut,
)
from certification_service.config import CertificationSettings
from certification_service.domain.certificates import CERTIFICATE_TYPE_LABELS, display_number, level_label
from certification_service.domain.uploads import UploadReport
from certification_service.domain.occupations import occupation_label

INSTITUTION_STATUS_LABELS = {"approved": "正常", "suspended": "暂停", "revoked": "撤销"}


def filing_view(filing: Filing, settings: CertificationSettings) -> FilingOut:
    return FilingOut(
        occupation_code=filing.occupation_code,
        occupation_name=occupation_label(filing.occupation_code, settings.extra_occupations),
        level=filing.level,
        level_label=level_label(filing.level),
        certificate_type=filing.certificate_type,
        certificate_type_label=CERTIFICATE_TYPE_LABELS[CertificateType(filing.certificate_type)],
    )


def institution_view(
    institution: EvaluationInstitution, filings: list[Filing], settings: CertificationSettings
) -> InstitutionOut:
    return InstitutionOut(
        id=institution.id,
        name=institution.name,
        credit_code=institution.credit_code,
        status=institution.status,
        status_label=INSTITUTION_STATUS_LABELS[institution.status],
        status_reason=institution.status_reason,
        filings=[filing_view(f, settings) for f in filings],
        created_at=institution.created_at,
        updated_at=institution.updated_at,
    )


def evaluation_view(evaluation: Evaluation, settings: CertificationSettings) -> EvaluationOut:
    return EvaluationOut(
        id=evaluation.id,
        institution_id=evaluation.institution_id,
        occupation_code=evaluation.occupation_code,
        occupation_name=occupation_label(evaluation.occupation_code, settings.extra_occupations),
        level=evaluation.level,
        level_label=level_label(evaluation.level),
        certificate_type=evaluation.certificate_type,
        certificate_type_label=CERTIFICATE_TYPE_LABELS[CertificateType(evaluation.certificate_type)],
        scheduled_on=evaluation.scheduled_on,
        created_at=evaluation.created_at,
    )


def candidate_view(candidate: Candidate, cipher: PiiCipher) -> CandidateOut:
    return candidate_view_of(candidate, cipher.decrypt(candidate.id_number_encrypted))


def candidate_view_of(candidate: Candidate, number: str) -> CandidateOut:
    """The view when the plaintext number is at hand (an upload just read it): no Fernet decryption per row."""
    return CandidateOut(
        id=candidate.id,
        evaluation_id=candidate.evaluation_id,
        name=candidate.name,
        id_number_masked=mask_resident_id(number),
        unknown_person=candidate.unknown_person,
        free_student_evaluation=candidate.free_student_evaluation,
        graduation_year=candidate.graduation_year,
        theory_score=candidate.theory_score,
        practical_score=candidate.practical_score,
        passed=candidate.passed,
        result_recorded_at=candidate.result_recorded_at,
        created_at=candidate.created_at,
    )


def upload_view(report: UploadReport[tuple[Candidate, str]]) -> UploadOut:
    return UploadOut(
        applied=len(report.applied),
        rejected=len(report.row_errors),
        results=[candidate_view_of(c, number) for c, number in report.applied],
        row_errors=report.row_errors,
    )


def certificate_view(certificate: Certificate | SimpleNamespace, settings: CertificationSettings) -> CertificateOut:
    """A certificate loaded by the ORM, or the row a batch issue just wrote."""
    return CertificateOut(
        id=certificate.id,
        certificate_no=certificate.certificate_no,
        display_no=display_number(certificate.certificate_no),
        holder_name=certificate.holder_name,
        certificate_type=certificate.certificate_type,
        certificate_type_label=CERTIFICATE_TYPE_LABELS[CertificateType(certificate.certificate_type)],
        occupation_code=certificate.occupation_code,
        occupation_name=occupation_label(certificate.occupation_code, settings.extra_occupations),
        level=certificate.level,
        level_label=level_label(certificate.level),
        issued_on=certificate.issued_on,
        institution_id=certificate.institution_id,
        evaluation_id=certificate.evaluation_id,
        candidate_id=certificate.candidate_id,
        free_student_evaluation=certificate.free_student_evaluation,
        graduation_year=certificate.graduation_year,
        status=certificate.status,
        revoked_reason=certificate.revoked_reason,
        revoked_at=certificate.revoked_at,
    )
