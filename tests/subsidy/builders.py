"""Hand-built facts and envelopes for the subsidy tests: one complete chain by default, every field overridable."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from skillkit.contracts.certification import CertificateIssued, CertificateRevoked
from skillkit.contracts.province import LineVerdict, RealnameAnswered
from skillkit.contracts.training import (
    ClassApproved,
    ClassOpened,
    ClassOutcomeReported,
    InstitutionSuspended,
    TrainingCompleted,
    TrainingDropped,
    TrainingEnrolled,
    TrainingEnrolmentRejected,
)
from skillkit.contracts.voucher import (
    VoucherBindingRejected,
    VoucherBound,
    VoucherExpired,
    VoucherIssued,
    VoucherRevoked,
    WorkerAccountLinked,
    WorkerCategoryReviewed,
    WorkerRegistered,
)
from skillkit.events import Envelope

from subsidy_service.domain.facts import Fact, FactSet, split_lines

T0 = datetime(2023, 3, 1, 2, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.n = 0

    def tick(self) -> datetime:
        self.n += 1
        return T0 + timedelta(minutes=self.n)


def fact(payload: Any, clock: Clock, event_id: str | None = None, at: datetime | None = None) -> Fact:
    return Fact(payload.__event_type__, event_id or str(uuid.uuid4()), at or clock.tick(), payload)


def as_facts(events: Iterable[Fact]) -> list[Fact]:
    """The facts the projection stores for these events (a province sheet answer: one per line, P1), for the
    pure tests that build a FactSet without the handler."""
    return [f for e in events for f in split_lines(e)]


def fact_set(events: Iterable[Fact]) -> FactSet:
    """The FactSet the store would hand `evaluate_person` for these events."""
    return FactSet(as_facts(events))


def line(enrolment: str, person: str, verdict: str = "accepted", reason: str | None = None,
         detail: str | None = None) -> LineVerdict:
    return LineVerdict(enrolment_id=enrolment, person_key=person, verdict=verdict, reason=reason, detail=detail)


def sheet_answer(submission: str, record_type: str, klass: str, lines: list[LineVerdict], clock: Clock, *,
                 event_id: str | None = None, at: datetime | None = None) -> Fact:
    """The province's answer to a trainee or completion sheet, as the platform now gets it (P1): a verdict per
    line; the sheet's own verdict accepted only when every line is, enrolment and person empty."""
    rejected = sum(1 for entry in lines if entry.verdict.value == "rejected")
    return fact(RealnameAnswered(
        submission_id=submission, record_type=record_type, class_id=klass,
        verdict="rejected" if rejected else "accepted",
        detail=f"{rejected} of {len(lines)} lines rejected" if rejected else None, lines=lines),
        clock, event_id=event_id, at=at)


def single_answer(submission: str, record_type: str, klass: str, clock: Clock, *, enrolment: str | None = None,
                  person: str | None = None, verdict: str = "accepted", reason: str | None = None,
                  detail: str | None = None, event_id: str | None = None, at: datetime | None = None) -> Fact:
    """A province answer on one record: a class record (no enrolment), or a trainee / completion record on its
    own (the form before sheets; the contract still allows it)."""
    return fact(RealnameAnswered(
        submission_id=submission, record_type=record_type, class_id=klass, enrolment_id=enrolment,
        person_key=person, verdict=verdict, reason=reason, detail=detail), clock, event_id=event_id, at=at)


def envelope(f: Fact) -> Envelope:
    return Envelope(
        id=f.event_id,
        type=f.type,
        source="/tests",
        time=f.time,
        subject=None,
        partition_key=getattr(f.payload, "person_key", None) or "x",
        correlation_id=None,
        causation_id=None,
        data=f.payload,
    )


def chain(
    *,
    person: str = "P1",
    voucher: str = "V1",
    enrolment: str = "E1",
    klass: str = "C1",
    institution: str = "I1",
    kind: str = "inclusive",
    year: int = 2023,
    days: int | None = 5,
    planned_days: int | None = None,  # the class's plan: the attended days unless given
    passed: bool = True,
    e3: bool = False,
    outbound: bool = False,
    course: str | None = None,
    day_limit: int | None = None,
    project: str | None = None,
    occupation: str = "4-10-01-01",
    level: int | None = 5,
    cert_type: str | None = "skill_level",
    certificate: str = "CERT1",
    cert_on: date = date(2023, 6, 20),
    realname: str | None = "accepted",
    realname_sheet: bool = True,
    outcome: dict[str, int] | None = None,
    approved: bool | None = None,
    start: date = date(2023, 6, 1),
    completed_on: date = date(2023, 6, 15),
    bound_at: datetime | None = None,
    valid_until: datetime | None = None,
    clock: Clock | None = None,
    free_student: bool = False,
    enterprise: str | None = "ENT1",  # S5: the enterprise an on-the-job class names (its payee)
    days_reason: str | None = None,  # S1: an inclusive class outside 3–10 days (needs approval)
    department: str | None = None,  # S9: the industry department whose own funds pay the class (record only)
    confirmed: bool = True,  # issue 13: the worker's categories confirmed by staff (else only claimed)
    categories: list[str] | None = None,  # declared at issue: 脱贫劳动力 with e3, else 农村转移就业劳动者
) -> list[Fact]:
    """Every event of one chain (person, voucher, enrolment, class, certificate), complete unless told. The
    trainee record's answer comes as a one-line trainee sheet (`realname_sheet=False`: a single-record
    answer). Pure tests turn the events into facts with `as_facts`."""
    clock = clock or Clock()
    categories = categories or (["poverty_alleviated_labour"] if e3 else ["rural_migrant"])
    facts = [
        fact(VoucherIssued(
            voucher_id=voucher, code="ABCD2345", worker_id=f"W-{person}", person_key=person, kind=kind,
            policy_year=year, valid_from=datetime(year, 1, 10, tzinfo=timezone.utc),
            valid_until=valid_until or datetime(year + 1, 3, 31, 16, tzinfo=timezone.utc), channel="claim",
            categories=categories, living_allowance_eligible=e3, issued_by="staff-1"), clock),
        fact(ClassOpened(
            class_id=klass, institution_id=institution, kind=kind, course=course, occupation_code=occupation,
            level=level, start_date=start, end_date=start + timedelta(days=30), planned_days=planned_days or max(days or 1, 1),
            capacity=40, outbound=outbound, subsidised_day_limit=day_limit, project_reference=project,
            enterprise_id=enterprise if kind == "enterprise" else None, days_reason=days_reason,
            funded_by_department=department,
            needs_approval=kind == "order" or days_reason is not None,
            status="open" if kind != "order" and days_reason is None else "pending_approval"), clock),
        fact(TrainingEnrolled(
            enrolment_id=enrolment, class_id=klass, institution_id=institution, voucher_id=voucher,
            person_key=person, kind=kind, occupation_code=occupation, level=level, class_start=start,
            class_end=start + timedelta(days=30)), clock),
        fact(VoucherBound(
            voucher_id=voucher, person_key=person, enrolment_id=enrolment, class_id=klass,
            institution_id=institution, bound_at=bound_at or _bound_before(year, completed_on)), clock),
    ]
    if kind == "order" and approved is None:
        approved = True
    if approved is not None:
        facts.append(fact(ClassApproved(class_id=klass, approved=approved, reason=None if approved else "材料不全",
                                        decided_by="bureau-1"), clock))
    if realname is not None:
        # the trainee record's answer: a line of the class's trainee sheet (P1), or a single-record answer
        reason = "identity_mismatch" if realname == "rejected" else None
        if realname_sheet:
            facts.append(sheet_answer(f"S-trainees-{klass}-{enrolment}", "trainee", klass,
                                      [line(enrolment, person, realname, reason)], clock))
        else:
            facts.append(single_answer(f"S-{enrolment}", "trainee", klass, clock, enrolment=enrolment,
                                       person=person, verdict=realname, reason=reason))
    if days is not None:
        facts.append(fact(TrainingCompleted(
            enrolment_id=enrolment, voucher_id=voucher, class_id=klass, person_key=person, attended_days=days,
            passed=passed, completed_on=completed_on), clock))
    if cert_type is not None:
        facts.append(fact(CertificateIssued(
            certificate_id=certificate, certificate_no=f"NO-{certificate}", person_key=person,
            certificate_type=cert_type, occupation_code=occupation, level=level, issued_on=cert_on,
            institution_id="EV1", evaluation_id="EVAL1", free_student_evaluation=free_student), clock))
    if outcome is not None:
        facts.append(outcome_fact(klass, institution, kind, clock, **outcome))
    if confirmed:  # last, so that the chain's other events keep their places in the list
        facts += [category_review(person, category, clock) for category in categories]
    return facts


def category_review(person: str, category: str, clock: Clock, *, status: str = "confirmed", source: str = "staff",
                    licence_issued_on: date | None = None, at: datetime | None = None) -> Fact:
    """Issue 13: staff (or an office's roster) decided a category of the person on evidence."""
    return fact(WorkerCategoryReviewed(
        worker_id=f"W-{person}", person_key=person, category=category, status=status, source=source,
        evidence_reference=f"档案 {person}-{category}", licence_issued_on=licence_issued_on, reviewed_by="township-li",
        reviewed_at=T0), clock, at=at)


def _bound_before(year: int, completed_on: date) -> datetime:
    """20 May, or for a training completed by then a day inside the voucher's validity before its completion (no
    back-dated training: a completion before the binding is refused)."""
    may = datetime(year, 5, 20, tzinfo=timezone.utc)
    if completed_on > may.date():
        return may
    return datetime(year, 1, 10, 12, tzinfo=timezone.utc) + (completed_on - date(year, 1, 10)) / 2


def outcome_fact(klass: str, institution: str, kind: str, clock: Clock, *, completed: int = 10,
                 attended: int = 10, employed: int = 0, passed: int = 0, licensed: int = 0,
                 at: datetime | None = None, follow_up_open: bool = False,
                 closes_on: date | None = None) -> Fact:
    return fact(ClassOutcomeReported(
        class_id=klass, institution_id=institution, kind=kind, trainees_completed=completed,
        trainees_attended=attended, employed=employed, passed=passed, licensed_within_six_months=licensed,
        follow_up_open=follow_up_open, follow_up_closes_on=closes_on), clock, at=at)


def certificate(person: str, cert_id: str, clock: Clock, *, cert_type: str = "skill_level", level: int | None = 5,
                occupation: str = "4-10-01-01", issued_on: date = date(2023, 6, 20), free_student: bool = False,
                institution: str = "EV1") -> Fact:
    return fact(CertificateIssued(
        certificate_id=cert_id, certificate_no=f"NO-{cert_id}", person_key=person, certificate_type=cert_type,
        occupation_code=occupation, level=level, issued_on=issued_on, institution_id=institution,
        evaluation_id="EVAL-" + cert_id, free_student_evaluation=free_student), clock)


def voucher_revoked(person: str, voucher: str, clock: Clock) -> Fact:
    return fact(VoucherRevoked(voucher_id=voucher, person_key=person, reason="fraud", revoked_by="staff-2",
                               revoked_at=clock.tick()), clock)


def certificate_revoked(person: str, cert_id: str, clock: Clock) -> Fact:
    return fact(CertificateRevoked(certificate_id=cert_id, person_key=person, reason="fraud",
                                   revoked_at=clock.tick()), clock)


def suspended(institution: str, clock: Clock) -> Fact:
    return fact(InstitutionSuspended(institution_id=institution, status="suspended", reason="违规"), clock)


def dropped(person: str, voucher: str, enrolment: str, clock: Clock) -> Fact:
    return fact(TrainingDropped(enrolment_id=enrolment, voucher_id=voucher, person_key=person, reason="moved"), clock)


def enrolment_rejected(person: str, voucher: str, enrolment: str, clock: Clock) -> Fact:
    return fact(TrainingEnrolmentRejected(enrolment_id=enrolment, voucher_id=voucher, person_key=person,
                                          reason="binding_rejected", detail="voucher expired"), clock)


def binding_rejected(person: str, voucher: str, enrolment: str, clock: Clock) -> Fact:
    return fact(VoucherBindingRejected(voucher_id=voucher, person_key=person, enrolment_id=enrolment,
                                       reason="expired", detail="expired"), clock)


def expired(person: str, voucher: str, clock: Clock) -> Fact:
    return fact(VoucherExpired(voucher_id=voucher, person_key=person, expired_at=clock.tick()), clock)


def registered(person: str, subject: str | None, clock: Clock, worker_id: str | None = None) -> Fact:
    return fact(WorkerRegistered(worker_id=worker_id or f"W-{person}", person_key=person, account_subject=subject,
                                 masked_name="张*", township="临泉镇", categories=["rural_migrant"],
                                 on_behalf=subject is None, registered_by="staff-1"), clock)


def linked(person: str, subject: str, clock: Clock) -> Fact:
    return fact(WorkerAccountLinked(worker_id=f"W-{person}", person_key=person, account_subject=subject), clock)




def evaluation_institution(institution: str, status: str, clock: Clock) -> Fact:
    from skillkit.contracts.certification import EvaluationInstitutionFiled, Filing

    return fact(EvaluationInstitutionFiled(
        institution_id=institution, name="吕梁评价中心", credit_code="12141124MB0000000X", status=status,
        filings=[Filing(occupation_code="4-10-01-01", level=5, certificate_type="skill_level")]), clock)
