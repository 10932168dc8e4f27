"""ORM rows -> response bodies. Resident ID numbers leave only masked."""

from __future__ import annotations

from sqlalchemy import Row

from skillkit.contracts.vocab import SKILL_LEVEL_LABELS, VOUCHER_KIND_LABELS, VoucherKind
from skillkit.pii import PiiCipher, mask_resident_id

from training_service.adapters.models import Enrolment, Institution, Occupation, OccupationLevel, TrainingClass
from training_service.api.schemas import (
    ClassOut,
    EmployerOrder,
    EnrolmentOut,
    InstitutionOut,
    OccupationLevelOut,
    OccupationOut,
)

INSTITUTION_STATUS_LABELS = {"approved": "已备案", "suspended": "已暂停", "revoked": "已撤销"}
# S9: who pays the class's training — these subsidies (on the voucher), or an industry department's own funds.
SUBSIDY_FUNDING_LABEL = "职业技能培训补贴（凭电子培训券兑现）"
DEPARTMENT_FUNDING_LABEL = "行业部门自有经费（S9，不享受本补贴）"


def funding_label(training_class: TrainingClass) -> str:
    return DEPARTMENT_FUNDING_LABEL if training_class.funded_by_department else SUBSIDY_FUNDING_LABEL


CLASS_STATUS_LABELS = {"open": "已开班", "pending_approval": "待审核", "rejected": "未通过审核", "closed": "已结班"}
ENROLMENT_STATUS_LABELS = {
    "pending": "待绑定",
    "active": "在训",
    "rejected": "已驳回",
    "completed": "已结业",
    "dropped": "已退训",
}
PROVINCE_STATUS_LABELS = {"none": "未上报", "submitted": "已上报", "accepted": "省平台已通过", "rejected": "省平台已驳回",
                          "withdrawn": "省平台已撤回"}
RECORD_TYPE_LABELS = {"class": "开班", "trainee": "学员", "attendance": "考勤", "completion": "结业", "certificate": "证书"}
NOTICE_LABELS = {"trained_elsewhere": "事后发现异地参训", "withdrawn": "省平台撤回记录"}


def occupation_view(occupation: Occupation, levels: list[OccupationLevel]) -> OccupationOut:
    return OccupationOut(
        code=occupation.code,
        name=occupation.name,
        levels=[
            OccupationLevelOut(level=lv.level, level_label=SKILL_LEVEL_LABELS[lv.level],
                               min_training_days=lv.min_training_days, subsidised_day_limit=lv.subsidised_day_limit)
            for lv in sorted(levels, key=lambda lv: -lv.level)
        ],
    )


def institution_view(i: Institution) -> InstitutionOut:
    return InstitutionOut(
        id=i.id, name=i.name, credit_code=i.credit_code, address=i.address, township=i.township,
        contact_name=i.contact_name, contact_phone=i.contact_phone, kinds=i.kinds,
        occupation_codes=i.occupation_codes, status=i.status, status_label=INSTITUTION_STATUS_LABELS[i.status],
        status_reason=i.status_reason, created_at=i.created_at, updated_at=i.updated_at,
    )


def class_view(c: TrainingClass | Row, enrolment_counts: dict[str, int] | None = None) -> ClassOut:
    """From the ORM object or a row of the classes table (same attribute names)."""
    order = (
        EmployerOrder(employer=c.employer, credit_code=c.employer_credit_code, positions_promised=c.positions_promised)
        if c.employer and c.employer_credit_code and c.positions_promised
        else None
    )
    return ClassOut(
        id=c.id, institution_id=c.institution_id, name=c.name, kind=c.kind,
        kind_label=VOUCHER_KIND_LABELS[VoucherKind(c.kind)], course=c.course, occupation_code=c.occupation_code,
        level=c.level, start_date=c.start_date, end_date=c.end_date, planned_days=c.planned_days,
        capacity=c.capacity, seats_taken=c.seats_taken, venue=c.venue, teachers=c.teachers,
        teaching_plan_ref=c.teaching_plan_ref, assessment_plan_ref=c.assessment_plan_ref, outbound=c.outbound,
        project_reference=c.project_reference, enterprise_id=c.enterprise_id, days_reason=c.days_reason,
        funded_by_department=c.funded_by_department,
        funding_label=funding_label(c),
        subsidised_day_limit=c.subsidised_day_limit, order=order,
        status=c.status, status_label=CLASS_STATUS_LABELS[c.status], decision_reason=c.decision_reason,
        outcome=c.outcome, created_at=c.created_at, enrolment_counts=enrolment_counts,
    )


def masked_id_number(e: Enrolment, cipher: PiiCipher) -> str:
    return mask_resident_id(cipher.decrypt(e.id_number_encrypted))


def enrolment_view(e: Enrolment, id_number_masked: str, attended_days: int) -> EnrolmentOut:
    return EnrolmentOut(
        id=e.id, class_id=e.class_id, institution_id=e.institution_id, voucher_id=e.voucher_id,
        voucher_code=e.voucher_code, trainee_name=e.trainee_name,
        id_number_masked=id_number_masked, status=e.status,
        status_label=ENROLMENT_STATUS_LABELS[e.status], rejection_reason=e.rejection_reason,
        rejection_detail=e.rejection_detail, province_status=e.province_status,
        province_status_label=PROVINCE_STATUS_LABELS[e.province_status], province_reason=e.province_reason,
        province_detail=e.province_detail, completion_province_status=e.completion_province_status or "none",
        completion_province_status_label=PROVINCE_STATUS_LABELS[e.completion_province_status or "none"],
        completion_province_reason=e.completion_province_reason, completion_province_detail=e.completion_province_detail,
        attended_days=e.attended_days if e.attended_days is not None else attended_days, passed=e.passed,
        theory_score=e.theory_score, practical_score=e.practical_score, completed_on=e.completed_on,
        employer=e.employer, employed_on=e.employed_on, contract_months=e.contract_months,
        licence_credit_code=e.licence_credit_code, licensed_on=e.licensed_on, created_at=e.created_at,
    )
