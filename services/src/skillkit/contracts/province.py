"""The province real-name training system boundary (P1).

Outbound: every trainee, class, attendance and completion record the county sends. A class record is one
submission. Trainee, attendance and completion records go as sheets: one submission carries the lines recorded
together (the trainees a consumer batch bound in one class, a day's sign-in sheet, the completions of one
upload), so the province sees a class's paperwork as the institution files it.
Inbound: the province's answer to each submission; a trainee or completion sheet is answered once, with a
verdict per line. The province also writes of its own accord (`province.realname.notified.v1`): a person found
trained elsewhere after the fact, a record withdrawn.

Records are versioned: `submission_id` names the record and stays the same when the county corrects it and
sends it again as `version` 2, 3, …; the province answers each version (`RealnameAnswered.version`). A re-send
after a timeout is the same record id and version with the same content: the province answers it as a duplicate.
A trainee's name and resident ID number travel only sealed for the province (`SealedIdentity`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict
from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, PROVINCE_OUTBOUND_TOPIC
from skillkit.contracts.vocab import (
    CertificateType,
    RealnameNotice,
    RealnameRejection,
    RealnameVerdict,
    VoucherKind,
)
from skillkit.events import EventPayload, registry


class SealedIdentity(BaseModel):
    """A trainee's identity sealed for the province only (`skillkit.sealed`: X25519 + HKDF-SHA256 + AES-256-GCM).
    The plaintext is the JSON `{"name": …, "id_number": …}`; the associated data is `kid|enrolment_id|person_key`
    of the line, so a box moved to another line does not open."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    alg: str  # X25519-HKDF-SHA256-A256GCM
    kid: str  # the province key the box is sealed to
    epk: str  # the sender's ephemeral X25519 public key, base64url
    nonce: str  # base64url, 12 bytes
    ct: str  # ciphertext and tag, base64url


def identity_aad(enrolment_id: str, person_key: str) -> bytes:
    """The associated data that binds a sealed identity to its line."""
    return f"{enrolment_id}|{person_key}".encode()


_CLASS = "5d0c7a52-8a0e-4b8e-9f55-0c1f2d3e4a5b"
_SHEET = "9a1e2b3c-4d5e-4f60-8a7b-1c2d3e4f5a6b"
_ENROLMENT = "7f0c1c1e-1111-4c1a-9a57-1a2b3c4d5e6f"
_PERSON = "667c099ffb6b9b5b9302c9560d66b10d348751a98cd2dd75395cb9ddca681485"
_COUNTY = "/linxian/training-service"
_PROVINCE = "/province/realname"
_COMMON = {"county_code": "141124", "class_id": _CLASS, "occupation_code": "4-10-01-05", "policy_year": 2026,
           "institution_id": "3c9d0f6e-2b1a-4c8d-9e7f-6a5b4c3d2e1f", "kind": "inclusive", "level": 5}
_IDENTITY = {"alg": "X25519-HKDF-SHA256-A256GCM", "kid": "province-2026-1",
             "epk": "5sQSOHc76RLeog4Q57_4l-hjFmUDXqiAbvt6NKSPYhQ", "nonce": "0NihdiVoguRLekw8",
             "ct": "LAjtQO7oPTyDfNg2rNrT7LBVegHUT2ufLPte4rrK0CXkvqr5EHvK5n2oyw_ehKg9x91kBTZXQMZl1suOSY_5N12Q"}


class AttendanceLine(BaseModel):
    """One trainee's check-in on an attendance sheet (P1: a class's sign-in sheet of one day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    method: str  # face | qr | staff
    checked_at: datetime
    # Additive: the P8 evidence of the check-in (the face record's or video's reference in the site's system).
    evidence_ref: str | None = None


class TraineeLine(BaseModel):
    """One trainee on a trainee sheet (P1: the trainees a class enrolled and bound together)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    # Additive: name and resident ID number, sealed for the province (absent only from records sent before it).
    identity: SealedIdentity | None = None


class CompletionLine(BaseModel):
    """One trainee's completion on a completion sheet (P1: the completions recorded together)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    attended_days: int
    passed: bool


class CertificateLine(BaseModel):
    """A certificate a trainee obtained after the class, reported when issued (P1: the training record's end)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    certificate_no: str
    certificate_type: CertificateType
    occupation_code: str
    level: int | None = None
    issued_on: date
    evaluation_institution_id: str
    evaluation_institution_name: str | None = None
    evaluation_institution_credit_code: str | None = None


class LineVerdict(BaseModel):
    """The province's verdict on one line of a trainee or completion sheet."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    verdict: RealnameVerdict
    reason: RealnameRejection | None = None
    detail: str | None = None


@registry.register(
    "province.realname.submitted.v1", PROVINCE_OUTBOUND_TOPIC, "A record sent to the province real-name system (P1)"
)
class RealnameSubmitted(EventPayload):
    submission_id: str  # the record's id: the same in every version and every re-send of it
    record_type: str  # trainee | class | attendance | completion | certificate
    county_code: str  # GB/T 2260 code of the county, 141124 for Lin County
    class_id: str
    enrolment_id: str | None = None
    person_key: str | None = None
    occupation_code: str | None = None
    day: date | None = None  # attendance
    attended_days: int | None = None  # completion
    passed: bool | None = None  # completion
    policy_year: int
    # Additive (optional) fields: what the province needs to file a class and to match a record to it.
    institution_id: str | None = None
    kind: VoucherKind | None = None
    level: int | None = None
    start_date: date | None = None  # class
    end_date: date | None = None  # class
    planned_days: int | None = None  # class
    # Sheets (enrolment_id and person_key are then empty): attendance, one per class and day, answered as one
    # record; trainees and completions, answered with a verdict per line (`RealnameAnswered.lines`).
    attendance: list[AttendanceLine] | None = None
    trainees: list[TraineeLine] | None = None
    completions: list[CompletionLine] | None = None
    # Additive: the record's version (1 when absent). A correction is the same record in a higher version,
    # carrying the lines corrected; a re-send repeats a version unchanged.
    version: int | None = None
    # Additive, class record: what the province files a class with.
    institution_name: str | None = None
    institution_credit_code: str | None = None  # GB 32100 unified social credit code
    venue: str | None = None
    teachers: list[str] | None = None
    planned_hours: int | None = None  # planned days x class hours per day
    standard_hours: int | None = None  # the occupation standard's minimum for the level (catalogue days x hours)
    # Additive, certificate record: the certificates one event reported (one line per certificate).
    certificates: list[CertificateLine] | None = None
    # Additive, a correction (version > 1): what the institution corrected.
    correction_note: str | None = None

    asyncapi_examples: ClassVar[tuple] = (
        ("class", "A class record: the institution and its credit code, venue, teachers, hours", _COUNTY, _CLASS,
         {**_COMMON, "submission_id": "0e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968", "version": 1, "record_type": "class",
          "start_date": "2026-12-01", "end_date": "2026-12-07", "planned_days": 5, "institution_name": "临县技工学校",
          "institution_credit_code": "12141124MB0000010G", "venue": "临县技工学校实训楼301", "teachers": ["李老师"],
          "planned_hours": 40, "standard_hours": 40}),
        ("trainee_sheet", "A trainee sheet: name and ID number sealed for the province per line", _COUNTY, _CLASS,
         {**_COMMON, "submission_id": _SHEET, "version": 1, "record_type": "trainee",
          "trainees": [{"enrolment_id": _ENROLMENT, "person_key": _PERSON, "identity": _IDENTITY}]}),
        ("trainee_correction", "Version 2 of the same sheet: the corrected line only", _COUNTY, _CLASS,
         {**_COMMON, "submission_id": _SHEET, "version": 2, "record_type": "trainee",
          "correction_note": "姓名录入错误，已按身份证更正",
          "trainees": [{"enrolment_id": _ENROLMENT, "person_key": _PERSON, "identity": _IDENTITY}]}),
        ("attendance_sheet", "A day's sign-in sheet: method and P8 evidence per line", _COUNTY, _CLASS,
         {**_COMMON, "submission_id": "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b", "version": 1,
          "record_type": "attendance", "day": "2026-12-01",
          "attendance": [{"enrolment_id": _ENROLMENT, "person_key": _PERSON, "method": "face",
                          "checked_at": "2026-12-01T00:55:00Z", "evidence_ref": "FACE-20261201-0001"}]}),
        ("completion_sheet", "A completion sheet", _COUNTY, _CLASS,
         {**_COMMON, "submission_id": "2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7a8b", "version": 1,
          "record_type": "completion",
          "completions": [{"enrolment_id": _ENROLMENT, "person_key": _PERSON, "attended_days": 5, "passed": True}]}),
        ("certificate", "A certificate reported when issued", _COUNTY, _CLASS,
         {**_COMMON, "submission_id": "3b4c5d6e-7f80-4192-8b3c-4d5e6f7a8b9c", "version": 1,
          "record_type": "certificate",
          "certificates": [{"enrolment_id": _ENROLMENT, "person_key": _PERSON, "certificate_no": "S000014112426000123",
                            "certificate_type": "skill_level", "occupation_code": "4-10-01-05", "level": 5,
                            "issued_on": "2026-12-20", "evaluation_institution_id": "4c5d6e7f-8091-42a3-9c4d-5e6f7a8b9c0d",
                            "evaluation_institution_name": "吕梁市职业技能鉴定中心",
                            "evaluation_institution_credit_code": "12141100MB00000900"}]}),
    )


@registry.register(
    "province.realname.answered.v1", PROVINCE_INBOUND_TOPIC, "The province's verdict on one submission (P1)"
)
class RealnameAnswered(EventPayload):
    submission_id: str
    record_type: str
    class_id: str
    enrolment_id: str | None = None
    person_key: str | None = None
    verdict: RealnameVerdict
    reason: RealnameRejection | None = None
    detail: str | None = None
    # The answer to a trainee or completion sheet: a verdict per line. The sheet's own verdict is accepted
    # when every line is, else rejected (its detail says how many lines were).
    lines: list[LineVerdict] | None = None
    # Additive: the version answered (1 when absent).
    version: int | None = None

    asyncapi_examples: ClassVar[tuple] = (
        ("trainee_sheet_answer", "A trainee sheet answered per line: one line rejected", _PROVINCE, _CLASS,
         {"submission_id": _SHEET, "version": 1, "record_type": "trainee", "class_id": _CLASS,
          "verdict": "rejected", "detail": "共 1 条，驳回 1 条",
          "lines": [{"enrolment_id": _ENROLMENT, "person_key": _PERSON, "verdict": "rejected",
                     "reason": "identity_mismatch", "detail": "姓名与公安人口库登记的姓名不一致"}]}),
        ("correction_answer", "Version 2 (the corrected line) accepted: it decides the line", _PROVINCE, _CLASS,
         {"submission_id": _SHEET, "version": 2, "record_type": "trainee", "class_id": _CLASS,
          "verdict": "accepted",
          "lines": [{"enrolment_id": _ENROLMENT, "person_key": _PERSON, "verdict": "accepted"}]}),
    )


@registry.register(
    "province.realname.notified.v1", PROVINCE_INBOUND_TOPIC,
    "The province's own message about a record it answered: trained elsewhere after the fact, withdrawn (P1)",
)
class RealnameNotified(EventPayload):
    notice_id: str  # the province's id of the message (a re-delivery has the same)
    notice: RealnameNotice
    submission_id: str  # the record (and its version) the message is about
    version: int | None = None
    record_type: str  # trainee | completion
    class_id: str
    enrolment_id: str
    person_key: str
    reason: RealnameRejection | None = None  # trained_elsewhere: trained_elsewhere_this_year
    detail: str | None = None
    other_county_code: str | None = None  # trained_elsewhere: where (GB/T 2260)

    asyncapi_examples: ClassVar[tuple] = (
        ("trained_elsewhere", "Found trained elsewhere this year after the fact: the claim is void", _PROVINCE, _CLASS,
         {"notice_id": "SX-2026-000451", "notice": "trained_elsewhere", "submission_id": _SHEET, "version": 1,
          "record_type": "trainee", "class_id": _CLASS, "enrolment_id": _ENROLMENT, "person_key": _PERSON,
          "reason": "trained_elsewhere_this_year", "detail": "事后核查：该学员本年度已在 141102 参加同类补贴培训",
          "other_county_code": "141102"}),
        ("withdrawn", "The record withdrawn: the claim waits for the corrected version", _PROVINCE, _CLASS,
         {"notice_id": "SX-2026-000452", "notice": "withdrawn", "submission_id": _SHEET, "version": 1,
          "record_type": "trainee", "class_id": _CLASS, "enrolment_id": _ENROLMENT, "person_key": _PERSON,
          "detail": "省平台已撤回该记录，请更正后重新上报"}),
    )
