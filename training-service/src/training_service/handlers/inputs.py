"""What the training use cases take: the request bodies, validated once by pydantic.

The handlers take these whole (the bulk uploads validate each spreadsheet row with the same model as the single
endpoint's body); the API declares them as its request bodies (`api/schemas.py` re-exports them). They live beside
the handlers, not in `domain/` (which holds rules only) nor in `api/` (which the handlers must not import).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from skillkit.contracts.vocab import EntrepreneurshipCourse, VoucherKind
from skillkit.county import CountyTime
from skillkit.names import PersonName, display_name

Text50 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
# Names (of institutions, classes, contacts): also refused when they hide control or format characters (issue 16).
Name50 = display_name(50)
Name200 = display_name(200)
# S9: the industry department whose own funds pay a class (e.g. 县农业农村局), named like the other names here.
DepartmentName = display_name(100, min_length=2)
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
Phone = Annotated[str, StringConstraints(pattern=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")]
CreditCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]
OccupationCode = Annotated[str, StringConstraints(pattern=r"^\d-\d{2}-\d{2}-\d{2}$")]
Score = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstitutionIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "临县技工学校",
                    "credit_code": "12141124MB0000000X",
                    "address": "临县临泉镇新城路1号",
                    "township": "临泉镇",
                    "contact_name": "王老师",
                    "contact_phone": "13800000001",
                    "kinds": ["inclusive", "order"],
                    "occupation_codes": ["4-10-01-05"],
                }
            ]
        },
    )

    name: Name200
    credit_code: CreditCode
    address: Text300
    township: Text50
    contact_name: Name50
    contact_phone: Phone
    kinds: list[VoucherKind] = Field(min_length=1, max_length=6)
    occupation_codes: list[OccupationCode] = Field(min_length=1, max_length=200)


class EnterpriseIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "山西临县城庄建筑工程有限公司",
                    "credit_code": "91141124MA0000001X",
                    "address": "临县城庄镇建设路8号",
                    "township": "城庄镇",
                    "contact_name": "刘经理",
                    "contact_phone": "13800000002",
                }
            ]
        },
    )

    name: Name200
    credit_code: CreditCode
    address: Text300
    township: Text50
    contact_name: Name50
    contact_phone: Phone


class InstitutionPatch(Strict):
    name: Name200 | None = None
    address: Text300 | None = None
    township: Text50 | None = None
    contact_name: Name50 | None = None
    contact_phone: Phone | None = None
    kinds: list[VoucherKind] | None = Field(default=None, min_length=1, max_length=6)
    occupation_codes: list[OccupationCode] | None = Field(default=None, min_length=1, max_length=200)


class InstitutionStatusIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "suspended", "reason": "虚报培训人数，暂停招生"}]})

    status: Literal["approved", "suspended", "revoked"]
    reason: Reason


class EmployerOrder(Strict):
    employer: Text200
    credit_code: CreditCode
    positions_promised: int = Field(ge=1, le=10000)


class ClassIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "2026年第12期养老护理员普惠制培训班",
                    "kind": "inclusive",
                    "occupation_code": "4-10-01-05",
                    "level": 5,
                    "start_date": "2026-12-01",
                    "end_date": "2026-12-07",
                    "planned_days": 7,
                    "capacity": 40,
                    "venue": "临县技工学校实训楼301",
                    "teachers": ["李老师", "赵老师"],
                    "teaching_plan_ref": "TP-2026-012",
                    "assessment_plan_ref": "AP-2026-012",
                }
            ]
        },
    )

    name: Name200
    kind: VoucherKind
    course: EntrepreneurshipCourse | None = None
    occupation_code: OccupationCode
    level: int | None = Field(default=None, ge=1, le=5)
    start_date: date
    end_date: date
    planned_days: int = Field(ge=1, le=366)
    capacity: int = Field(ge=1, le=1000)
    venue: Text300
    teachers: list[Text50] = Field(min_length=1, max_length=30)
    teaching_plan_ref: Text300
    assessment_plan_ref: Text300
    outbound: bool = False  # E8
    project_reference: Text200 | None = None  # S3
    order: EmployerOrder | None = None  # S2
    enterprise_id: uuid.UUID | None = None  # S5: the registered enterprise whose employees the class trains
    # S1: why an inclusive class plans outside the usual 3–10 days (the class then waits for the bureau's approval)
    days_reason: Reason | None = None
    # S9: an industry department's own training for its key groups, paid from its own funds (行业专项经费): the class
    # runs and is recorded as any other, but no subsidy of these rules arises from it (record only).
    funded_by_department: DepartmentName | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> "ClassIn":
        if (self.kind == VoucherKind.ENTREPRENEURSHIP) != (self.course is not None):
            raise ValueError("course (SYB/IYB/EYB/online) is given for entrepreneurship classes and only for them")
        if (self.kind == VoucherKind.ORDER) != (self.order is not None):
            raise ValueError("order (employer, credit code, positions) is given for order classes and only for them")
        if (self.kind == VoucherKind.ENTERPRISE) != (self.enterprise_id is not None):
            raise ValueError("enterprise_id (a registered enterprise, S5) is given for enterprise on-the-job classes "
                             "and only for them")
        if (self.kind == VoucherKind.PROJECT) != (self.project_reference is not None):
            raise ValueError("project_reference is given for project classes and only for them")
        if self.outbound and self.kind != VoucherKind.INCLUSIVE:
            raise ValueError("outbound (E8) applies to inclusive classes only")
        return self


class ClassDecisionIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"approved": True}]})

    approved: bool
    reason: Reason | None = None

    @model_validator(mode="after")
    def _reason_on_rejection(self) -> "ClassDecisionIn":
        if not self.approved and self.reason is None:
            raise ValueError("a rejection needs a reason")
        return self


class EnrolmentIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"voucher_code": "LX7K3Q-9P2W-X", "trainee_name": "张三", "id_number": "141124199001011232"}
            ]
        },
    )

    qr_token: Annotated[str, StringConstraints(min_length=10, max_length=4000)] | None = None
    voucher_code: Annotated[str, StringConstraints(min_length=5, max_length=20)] | None = None
    trainee_name: PersonName
    id_number: Annotated[str, StringConstraints(min_length=15, max_length=20)]

    @model_validator(mode="after")
    def _one_voucher_reference(self) -> "EnrolmentIn":
        if (self.qr_token is None) == (self.voucher_code is None):
            raise ValueError("give exactly one of qr_token (scanned) or voucher_code (typed)")
        return self


class CheckInIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"enrolment_id": "7f0c1c1e-1111-4c1a-9a57-1a2b3c4d5e6f", "method": "face",
                          "checked_at": "2026-12-01T08:55:00+08:00", "evidence_ref": "FACE-20261201-0001"}]
        },
    )

    enrolment_id: uuid.UUID
    method: Literal["face", "qr", "staff"]
    staff_id: Text50 | None = None
    checked_at: CountyTime  # any offset; answered in county time
    # P8: the evidence's reference in the site's training management system (face record, video), sent to the
    # province with the day's attendance sheet.
    evidence_ref: Text300 | None = None

    @model_validator(mode="after")
    def _staff_id(self) -> "CheckInIn":
        if self.method == "staff" and self.staff_id is None:
            raise ValueError("a staff-entered check-in needs staff_id")
        return self


class CompletionIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enrolment_id": "7f0c1c1e-1111-4c1a-9a57-1a2b3c4d5e6f", "passed": True,
                                         "theory_score": "86.5", "practical_score": "90"}]},
    )

    enrolment_id: uuid.UUID
    passed: bool
    theory_score: Score | None = None
    practical_score: Score | None = None
    completed_on: date | None = None


class DropIn(Strict):
    reason: Reason


class EmploymentIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"employer": "太原市某养老服务有限公司", "employed_on": "2027-01-05",
                                         "contract_months": 12}]},
    )

    employer: Text200
    employer_credit_code: CreditCode | None = None
    employed_on: date
    contract_months: int | None = Field(default=None, ge=1, le=120)


class LicenceIn(Strict):
    credit_code: CreditCode
    licensed_on: date


class InterestIn(Strict):
    """A worker's interest in a class (报名意向, P9): how the institution may reach them for the follow-up."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"contact_name": "张三", "mobile": "13812345678",
                                         "voucher_code": "LXNO44-RBTA-T", "note": "周末方便"}]},
    )

    contact_name: PersonName
    mobile: Annotated[str, StringConstraints(pattern=r"^1[3-9]\d{9}$")]
    # the worker's voucher, when they hold one: the institution enrols with it
    voucher_code: Annotated[str, StringConstraints(min_length=5, max_length=20)] | None = None
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class RealnameCorrectionIn(Strict):
    """P1: a rejected or withdrawn line corrected and sent again as the next version of its record."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"record_type": "trainee", "trainee_name": "张叁",
                                         "note": "姓名录入错误，已按身份证更正"}]},
    )

    record_type: Literal["trainee", "completion"]
    # A trainee line's corrected name (the ID number cannot change: another number is another person).
    trainee_name: Name50 | None = None
    note: Text300  # what was corrected (kept on the version, P10)

    @model_validator(mode="after")
    def _name_only_for_trainees(self) -> "RealnameCorrectionIn":
        if self.trainee_name is not None and self.record_type != "trainee":
            raise ValueError("trainee_name corrects a trainee line only")
        return self
