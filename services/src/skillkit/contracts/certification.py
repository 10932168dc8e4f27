"""Events produced by the certification service (topic skills.certification.v1)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from skillkit.contracts.topics import CERTIFICATION_TOPIC
from skillkit.contracts.vocab import CertificateType
from skillkit.events import EventPayload, registry


class Filing(EventPayload):
    occupation_code: str
    level: int | None = None
    certificate_type: CertificateType


@registry.register(
    "evaluation_institution.filed.v1", CERTIFICATION_TOPIC, "An evaluation institution and its filings (I2)"
)
class EvaluationInstitutionFiled(EventPayload):
    institution_id: str
    name: str
    credit_code: str
    status: str
    filings: list[Filing]
    # Additive: re-emitted as a full snapshot whenever the status or the filings change (I2, I3).
    status_reason: str | None = None


@registry.register("evaluation.scheduled.v1", CERTIFICATION_TOPIC, "An evaluation (考评) was scheduled")
class EvaluationScheduled(EventPayload):
    evaluation_id: str
    institution_id: str
    occupation_code: str
    level: int | None = None
    certificate_type: CertificateType
    scheduled_on: date


@registry.register("evaluation.result_recorded.v1", CERTIFICATION_TOPIC, "A candidate's evaluation result")
class EvaluationResultRecorded(EventPayload):
    evaluation_id: str
    candidate_id: str
    person_key: str
    passed: bool
    theory_score: Decimal | None = None
    practical_score: Decimal | None = None
    free_student_evaluation: bool = False  # E7
    # Additive: the graduation year of an E7 free evaluation, and the institution that evaluated.
    graduation_year: int | None = None
    institution_id: str | None = None


@registry.register("certificate.issued.v1", CERTIFICATION_TOPIC, "A certificate was issued (持证)")
class CertificateIssued(EventPayload):
    certificate_id: str
    certificate_no: str
    person_key: str
    certificate_type: CertificateType
    occupation_code: str
    level: int | None = None
    issued_on: date
    institution_id: str
    evaluation_id: str
    free_student_evaluation: bool = False  # E7
    graduation_year: int | None = None


@registry.register("certificate.revoked.v1", CERTIFICATION_TOPIC, "A certificate was revoked")
class CertificateRevoked(EventPayload):
    certificate_id: str
    person_key: str
    reason: str  # fraud | error
    revoked_at: datetime
    # Additive: what the subsidy service needs to find the payments that relied on the certificate.
    certificate_no: str | None = None
    institution_id: str | None = None
    occupation_code: str | None = None
    level: int | None = None
    revoked_by: str | None = None
