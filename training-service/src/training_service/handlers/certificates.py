"""P1: certificates reported to the province when issued.

Decision: the training service sends the certificate record, not the certification service. The province's
training record is the class's (class, trainees, attendance, completion); the certificate closes it, and the
training service is the one that holds the province feed (its key, record versions, re-sends, answers) and knows
which class and enrolment the certificate belongs to. The certification service stays unaware of the province.

It consumes `skills.certification.v1` (consumer group `training-service-certification`):
- `evaluation_institution.filed` keeps the evaluation institutions' names and credit codes (the newest filing by
  event time stands), so the certificate record names who evaluated;
- `certificate.issued` finds the person's enrolment in a class of the certificate's occupation that started on
  or before the issue date (completed or still training; the latest such class), and sends a certificate record
  of that class with one line. A certificate with no such enrolment (an E7 student's free evaluation, a
  certificate for training elsewhere) is not ours to report."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.certification import CertificateIssued, EvaluationInstitutionFiled
from skillkit.contracts.province import CertificateLine
from skillkit.events import Envelope

from training_service.adapters.models import Enrolment, EvaluationInstitution, TrainingClass
from training_service.adapters.outbox import outbox
from training_service.config import TrainingSettings
from training_service.handlers import province

log = logging.getLogger("training_service.certificates")


async def on_institution_filed(session: AsyncSession, envelope: Envelope) -> None:
    filed: EvaluationInstitutionFiled = envelope.payload
    row = await session.get(EvaluationInstitution, filed.institution_id)
    if row is None:
        session.add(EvaluationInstitution(id=filed.institution_id, name=filed.name, credit_code=filed.credit_code,
                                          updated_at=envelope.time))
    elif row.updated_at <= envelope.time:
        row.name, row.credit_code, row.updated_at = filed.name, filed.credit_code, envelope.time


async def on_certificate_issued(session: AsyncSession, envelope: Envelope, settings: TrainingSettings) -> None:
    certificate: CertificateIssued = envelope.payload
    if not settings.province_realname_enabled:
        return
    found = (await session.execute(
        select(Enrolment, TrainingClass).join(TrainingClass, TrainingClass.id == Enrolment.class_id)
        .where(Enrolment.person_key == certificate.person_key,
               TrainingClass.occupation_code == certificate.occupation_code,
               TrainingClass.start_date <= certificate.issued_on,
               Enrolment.status.in_(("active", "completed")))
        .order_by(TrainingClass.start_date.desc(), Enrolment.id).limit(1))).first()
    if found is None:
        log.info("a certificate without an enrolment here: not reported",
                 extra={"certificate_id": certificate.certificate_id})
        return
    enrolment, training_class = found
    evaluator = await session.get(EvaluationInstitution, certificate.institution_id)
    line = CertificateLine(
        enrolment_id=str(enrolment.id), person_key=enrolment.person_key, certificate_no=certificate.certificate_no,
        certificate_type=certificate.certificate_type, occupation_code=certificate.occupation_code,
        level=certificate.level, issued_on=certificate.issued_on,
        evaluation_institution_id=certificate.institution_id,
        evaluation_institution_name=evaluator.name if evaluator else None,
        evaluation_institution_credit_code=evaluator.credit_code if evaluator else None)
    event = province.certificate_sheet(session, settings, training_class, [line])
    if event is not None:
        outbox.defer(session, event[0], partition_key=event[1], subject=event[2])


async def before_commit(session: AsyncSession) -> None:
    await outbox.write_deferred(session)
