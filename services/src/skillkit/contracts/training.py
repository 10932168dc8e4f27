"""Events produced by the training service (topic skills.training.v1).

Person events are keyed by the trainee's person key; institution and class events by their own id.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from skillkit.contracts.topics import TRAINING_TOPIC
from skillkit.contracts.vocab import EntrepreneurshipCourse, VoucherKind
from skillkit.events import EventPayload, registry


@registry.register("institution.approved.v1", TRAINING_TOPIC, "A training institution was approved (I1)")
class InstitutionApproved(EventPayload):
    institution_id: str
    name: str
    credit_code: str
    township: str
    kinds: list[VoucherKind]
    occupation_codes: list[str]


@registry.register("institution.suspended.v1", TRAINING_TOPIC, "A training institution was suspended or revoked (I3)")
class InstitutionSuspended(EventPayload):
    institution_id: str
    status: str  # suspended | revoked
    reason: str


@registry.register("class.opened.v1", TRAINING_TOPIC, "A class was opened (开班备案)")
class ClassOpened(EventPayload):
    class_id: str
    institution_id: str
    kind: VoucherKind
    course: EntrepreneurshipCourse | None = None
    occupation_code: str
    level: int | None = None
    start_date: date
    end_date: date
    planned_days: int
    capacity: int
    outbound: bool = False  # E8: organised outbound training for rural workers
    # S2: subsidised-day limit of the occupation and level from the occupation catalogue.
    subsidised_day_limit: int | None = None
    project_reference: str | None = None  # S3: the project whose rate table applies
    # S5 (additive, issue 13): the registered enterprise whose employees an on-the-job class trains (the payee).
    enterprise_id: str | None = None
    # S1 (additive, issue 13): why an inclusive class plans outside the usual 3–10 days; it then needs approval too
    days_reason: str | None = None
    # S9 (additive): the industry department whose own funds pay the class (its 行业专项经费); record only — the
    # subsidy service makes no claim of any kind from training in such a class. None: the ordinary subsidies.
    funded_by_department: str | None = None
    needs_approval: bool  # S2: order classes; S1: inclusive classes outside 3–10 days
    status: str  # open | pending_approval


@registry.register("enterprise.registered.v1", TRAINING_TOPIC,
                   "The bureau registered an enterprise (S5: its on-the-job classes, the claim's payee)")
class EnterpriseRegistered(EventPayload):
    enterprise_id: str
    name: str
    credit_code: str  # GB 32100, checked (python-stdnum cn.uscc)
    township: str
    registered_by: str


@registry.register("class.approved.v1", TRAINING_TOPIC, "The bureau decided on an order class (S2)")
class ClassApproved(EventPayload):
    class_id: str
    approved: bool
    reason: str | None = None
    decided_by: str


@registry.register("training.enrolled.v1", TRAINING_TOPIC, "A trainee was enrolled on a voucher (pending binding)")
class TrainingEnrolled(EventPayload):
    enrolment_id: str
    class_id: str
    institution_id: str
    voucher_id: str
    person_key: str
    kind: VoucherKind
    occupation_code: str
    level: int | None = None
    class_start: date
    class_end: date


@registry.register("training.enrolment_rejected.v1", TRAINING_TOPIC, "An enrolment was rejected (saga compensation)")
class TrainingEnrolmentRejected(EventPayload):
    enrolment_id: str
    voucher_id: str
    person_key: str
    reason: str
    detail: str


@registry.register(
    "training.started.v1", TRAINING_TOPIC, "A trainee attended the first day of training on a voucher (once per enrolment)"
)
class TrainingStarted(EventPayload):
    """Emitted when an enrolment's first attendance is recorded, whatever the order of the days uploaded.
    The day-by-day attendance goes to the province (P1 attendance sheets) and is summed in `training.completed`;
    the other services only need to know that training began (the voucher moves to in_training)."""

    enrolment_id: str
    voucher_id: str
    class_id: str
    person_key: str
    first_day: date  # the earliest attended day known when the event was written
    checked_at: datetime


@registry.register("training.completed.v1", TRAINING_TOPIC, "A trainee's completion (结业) was recorded")
class TrainingCompleted(EventPayload):
    enrolment_id: str
    voucher_id: str
    class_id: str
    person_key: str
    attended_days: int
    passed: bool
    theory_score: Decimal | None = None
    practical_score: Decimal | None = None
    completed_on: date


@registry.register("training.dropped.v1", TRAINING_TOPIC, "A trainee left the class before completion")
class TrainingDropped(EventPayload):
    enrolment_id: str
    voucher_id: str
    person_key: str
    reason: str


@registry.register("training.employment_recorded.v1", TRAINING_TOPIC, "Follow-up: a trainee was employed")
class TrainingEmploymentRecorded(EventPayload):
    enrolment_id: str
    voucher_id: str
    person_key: str
    employer: str
    employer_credit_code: str | None = None
    employed_on: date
    contract_months: int | None = None


@registry.register("training.business_licensed.v1", TRAINING_TOPIC, "Follow-up: a trainee obtained a business licence")
class TrainingBusinessLicensed(EventPayload):
    enrolment_id: str
    voucher_id: str
    person_key: str
    credit_code: str
    licensed_on: date


@registry.register("class.outcome_reported.v1", TRAINING_TOPIC, "A class reported its outcome: follow-up closed, or S6 pass rate with the licence window open")
class ClassOutcomeReported(EventPayload):
    class_id: str
    institution_id: str
    kind: VoucherKind
    trainees_completed: int
    trainees_attended: int  # attended at least one day
    employed: int
    passed: int
    licensed_within_six_months: int
    employment_rate: Decimal | None = None  # employed / completed
    pass_rate: Decimal | None = None  # passed / attended at least one day
    licence_rate: Decimal | None = None  # licensed within six months / passed
    # S6 (additive, issue 13): an entrepreneurship class reports its pass rate as soon as its trainees' results are
    # in, while the six-month licence follow-up stays open (`follow_up_open`, until `follow_up_closes_on`), and
    # reports again with each licence recorded; the report that closes the window has `follow_up_open` false.
    follow_up_open: bool = False
    follow_up_closes_on: date | None = None
