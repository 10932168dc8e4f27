"""Shared vocabulary of the platform: kinds, categories, reasons. English codes, Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class VoucherKind(StrEnum):
    INCLUSIVE = "inclusive"  # 普惠制 (S1)
    ORDER = "order"  # 订单式 (S2)
    PROJECT = "project"  # 项目制 (S3)
    ENTERPRISE = "enterprise"  # 企业在岗职工 (S5)
    ENTREPRENEURSHIP = "entrepreneurship"  # 创业培训 (S6)
    CAREGIVER = "caregiver"  # 吕梁山护工 (S7)


VOUCHER_KIND_LABELS = {
    VoucherKind.INCLUSIVE: "普惠制培训券",
    VoucherKind.ORDER: "订单式培训券",
    VoucherKind.PROJECT: "项目制培训券",
    VoucherKind.ENTERPRISE: "企业在岗职工培训券",
    VoucherKind.ENTREPRENEURSHIP: "创业培训券",
    VoucherKind.CAREGIVER: "吕梁山护工培训券",
}


class WorkerCategory(StrEnum):
    # E1: the six categories (六类人员)
    POVERTY_ALLEVIATED = "poverty_alleviated"  # 脱贫人口
    GRADUATING_COLLEGE = "graduating_college"  # 毕业年度高校毕业生
    SCHOOL_LEAVER = "school_leaver"  # 城乡未继续升学的应届初高中毕业生
    RURAL_MIGRANT = "rural_migrant"  # 农村转移就业劳动者
    URBAN_UNEMPLOYED = "urban_unemployed"  # 城镇登记失业人员
    EMPLOYMENT_DIFFICULTY = "employment_difficulty"  # 就业困难人员
    # E3: living allowance groups
    POVERTY_ALLEVIATED_LABOUR = "poverty_alleviated_labour"  # 脱贫劳动力
    MONITORED_HOUSEHOLD = "monitored_household"  # 监测户
    # E2: entrepreneurship groups beyond the six
    RETURNING_ENTREPRENEUR = "returning_entrepreneur"  # 返乡入乡创业人员
    NEW_BUSINESS_FOUNDER = "new_business_founder"  # 营业执照签发一年内的创业者
    # S5 and E7
    ENTERPRISE_EMPLOYEE = "enterprise_employee"  # 企业在岗职工
    VOCATIONAL_STUDENT = "vocational_student"  # 中职学生


WORKER_CATEGORY_LABELS = {
    WorkerCategory.POVERTY_ALLEVIATED: "脱贫人口",
    WorkerCategory.GRADUATING_COLLEGE: "毕业年度高校毕业生",
    WorkerCategory.SCHOOL_LEAVER: "城乡未继续升学的应届初高中毕业生",
    WorkerCategory.RURAL_MIGRANT: "农村转移就业劳动者",
    WorkerCategory.URBAN_UNEMPLOYED: "城镇登记失业人员",
    WorkerCategory.EMPLOYMENT_DIFFICULTY: "就业困难人员",
    WorkerCategory.POVERTY_ALLEVIATED_LABOUR: "脱贫劳动力",
    WorkerCategory.MONITORED_HOUSEHOLD: "监测户",
    WorkerCategory.RETURNING_ENTREPRENEUR: "返乡入乡创业人员",
    WorkerCategory.NEW_BUSINESS_FOUNDER: "创业初期创业者",
    WorkerCategory.ENTERPRISE_EMPLOYEE: "企业在岗职工",
    WorkerCategory.VOCATIONAL_STUDENT: "中职学生",
}


# The category groups of the eligibility rules, shared by the voucher service (at issue) and the subsidy chain (on
# evidence, issue 13).
# E1: the six categories (六类人员); 脱贫劳动力 (working-age members of 脱贫人口) count as 脱贫人口.
E1_SIX_CATEGORIES = frozenset({
    WorkerCategory.POVERTY_ALLEVIATED, WorkerCategory.POVERTY_ALLEVIATED_LABOUR, WorkerCategory.GRADUATING_COLLEGE,
    WorkerCategory.SCHOOL_LEAVER, WorkerCategory.RURAL_MIGRANT, WorkerCategory.URBAN_UNEMPLOYED,
    WorkerCategory.EMPLOYMENT_DIFFICULTY,
})
# E2: entrepreneurship training adds returning entrepreneurs and founders with a licence under a year old.
E2_ENTREPRENEURSHIP = E1_SIX_CATEGORIES | {WorkerCategory.RETURNING_ENTREPRENEUR, WorkerCategory.NEW_BUSINESS_FOUNDER}
# E3: only these groups receive the S4 living allowance.
E3_LIVING_ALLOWANCE = frozenset({WorkerCategory.POVERTY_ALLEVIATED_LABOUR, WorkerCategory.MONITORED_HOUSEHOLD})


class CategoryReviewStatus(StrEnum):
    """Issue 13: a category the worker declared is `claimed` until staff or the owning office's roster decide."""

    CLAIMED = "claimed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


CATEGORY_REVIEW_STATUS_LABELS = {
    CategoryReviewStatus.CLAIMED: "本人申报，待核实",
    CategoryReviewStatus.CONFIRMED: "已核实",
    CategoryReviewStatus.REJECTED: "核实未通过",
}


class CategoryOffice(StrEnum):
    """The offices whose registers confirm categories in bulk (issue 13); staff confirm one by one as `staff`."""

    RURAL_REVITALISATION = "rural_revitalisation"  # 县乡村振兴局：脱贫人口、监测户名单
    EMPLOYMENT_SERVICE = "employment_service"  # 县人社局就业服务中心：失业登记、就业困难人员认定、转移就业台账
    EDUCATION = "education"  # 县教育局：毕业生名单
    MARKET_REGULATION = "market_regulation"  # 县市场监管局：营业执照登记


CATEGORY_OFFICE_LABELS = {
    CategoryOffice.RURAL_REVITALISATION: "县乡村振兴局",
    CategoryOffice.EMPLOYMENT_SERVICE: "县人社局就业服务中心",
    CategoryOffice.EDUCATION: "县教育局",
    CategoryOffice.MARKET_REGULATION: "县市场监管局",
}
STAFF_SOURCE = "staff"  # a confirmation by township or bureau staff on evidence they saw


class EntrepreneurshipCourse(StrEnum):
    SYB = "SYB"  # 创办企业
    IYB = "IYB"  # 改善企业
    EYB = "EYB"  # 扩大企业
    ONLINE = "online"  # 网络创业


class RevocationReason(StrEnum):
    FRAUD = "fraud"
    DECEASED = "deceased"
    INELIGIBLE = "ineligible"
    DUPLICATE = "duplicate"


class BindingRejection(StrEnum):
    UNKNOWN_VOUCHER = "unknown_voucher"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ALREADY_BOUND = "already_bound"
    WRONG_KIND = "wrong_kind"
    NOT_HOLDER = "not_holder"


class CertificateType(StrEnum):
    SPECIAL_ABILITY = "special_ability"  # 专项职业能力
    SKILL_LEVEL = "skill_level"  # 职业技能等级
    VOCATIONAL_QUALIFICATION = "vocational_qualification"  # 职业资格
    SPECIAL_OPERATION = "special_operation"  # 特种作业操作证
    SPECIAL_EQUIPMENT = "special_equipment"  # 特种设备作业人员
    ENTREPRENEURSHIP_TRAINING = "entrepreneurship_training"  # 创业培训合格


# Skill levels 5..1 (5 = 初级工 … 1 = 高级技师).
SKILL_LEVEL_LABELS = {5: "初级工", 4: "中级工", 3: "高级工", 2: "技师", 1: "高级技师"}


class RealnameVerdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RealnameRejection(StrEnum):
    IDENTITY_MISMATCH = "identity_mismatch"
    TRAINED_ELSEWHERE_THIS_YEAR = "trained_elsewhere_this_year"
    MISSING_FIELD = "missing_field"  # a field the province needs is absent or invalid (e.g. the credit code)


class RealnameNotice(StrEnum):
    """What the province tells the county of its own accord about a record it had answered (P1)."""

    TRAINED_ELSEWHERE = "trained_elsewhere"  # the person was found trained elsewhere this year, after the fact
    WITHDRAWN = "withdrawn"  # the province withdrew the record (to be corrected and resubmitted)
