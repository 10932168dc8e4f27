"""The chain's vocabulary: claim states (the one definition, used by every layer), link statuses, claim types
and parts, the links' labels, and every reason a link or a claim gives (Chinese and English), with the rule behind
it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ClaimState(StrEnum):
    """A claim's states (ARCHITECTURE.md "The chain", "Settlement"): the chain computes the first five; the
    settlement flow sets the others."""

    WAITING = "waiting"  # the chain is incomplete
    ELIGIBLE = "eligible"
    HELD = "held"  # I3: awaiting the bureau's review
    REJECTED = "rejected"
    VOID = "void"
    DECLARED = "declared"  # frozen on a payee's declaration (P4)
    VERIFIED = "verified"  # line approved by the bureau (验收); also back here when a payment failed or was returned
    APPROVED = "approved"  # in a payment batch, money reserved (P6)
    PAID = "paid"
    REFUSED = "refused"  # line rejected by the bureau, with its reason
    EXPIRED = "expired"  # not paid by the P5 deadline


# States after eligibility that the settlement flow sets: the chain evaluation no longer recomputes them (their
# amount and table version stay as frozen; they keep their E4 / E5 slot).
FROZEN = frozenset({ClaimState.DECLARED, ClaimState.VERIFIED, ClaimState.APPROVED, ClaimState.PAID,
                    ClaimState.REFUSED, ClaimState.EXPIRED})
# Frozen but not yet paid: a void of the chain still voids them (and their declaration line shows the change).
UNPAID_FROZEN = frozenset({ClaimState.DECLARED, ClaimState.VERIFIED, ClaimState.APPROVED})
# Eligible and on its way to payment, or paid: a live claim (E4 across declarations, the reports' "eligible" stage).
ELIGIBLE_OR_LATER = (ClaimState.ELIGIBLE, ClaimState.DECLARED, ClaimState.VERIFIED, ClaimState.APPROVED,
                     ClaimState.PAID)

OK, MISSING, BROKEN, NOT_REQUIRED = "ok", "missing", "broken", "not_required"

TRAINING, LIVING, EVALUATION = "training", "living_allowance", "evaluation"
MAIN, S6_FIRST, S6_REST = "main", "S6-80", "S6-20"
S3_FIRST = "S3-1"  # S3 staged settlement: parts S3-1 … S3-n, one per stage of the project
# The links an S3 stage needs (RULES.md S3 分时段阶段性结算; the stages themselves are the project's table).
S3_STAGE_LINKS = {"enrolment_verified": ("voucher", "binding", "enrolment", "funding", "realname", "category")}
# The E3 link gates the S4 allowance only, never the training subsidy of the same voucher.
ALLOWANCE_ONLY_LINKS = frozenset({"allowance_category"})

LINK_LABELS = {
    "voucher": "培训券",
    "binding": "绑定",
    "enrolment": "报名",
    "realname": "实名制",
    "completion": "结业",
    "certificate": "证书",
    "class_outcome": "班级成效",
    "limits": "限额与机构",
    "category": "人员类别核实",
    "allowance_category": "生活费补贴人员类别核实",
    "funding": "经费来源",  # S9: shown only for a class an industry department pays from its own funds
}

# Breaks that void the claims (the voucher or the certificate itself is gone); other breaks reject.
# P1: a person the province finds trained elsewhere this year after the fact holds no subsidy here (E4 across
# counties): the claim is void, with the reason.
# S9: training in a class an industry department pays from its own funds is outside these subsidies (record only):
# every claim of the chain is void, whatever arrived first.
VOIDING = frozenset({"voucher_revoked", "voucher_expired_unused", "certificate_revoked", "realname_trained_elsewhere",
                     "industry_department_funded"})
# Voiding reasons of training outside these subsidies (S9, record only): the void claim carries no amount (it is no
# refusal of an amount, unlike the other void claims, which show what they would have paid), and it voids a claim
# before payment only — a paid claim keeps its state and opens no recovery (no revocation of what was delivered).
RECORD_ONLY = frozenset({"industry_department_funded"})
# The links that say a voucher was validly used for its class (E6 for evaluation claims).
USE_LINKS = ("binding", "enrolment")

REASONS: dict[str, tuple[str, str]] = {
    "voucher_missing": ("尚未收到发券记录", "the voucher's issue has not been received yet"),
    "voucher_revoked": ("培训券已作废（{0}）", "the voucher was revoked ({0})"),
    "voucher_expired_unused": ("培训券过期未使用", "the voucher expired before it was bound to a training"),
    "binding_missing": ("培训券尚未绑定培训报名", "the voucher is not yet bound to a training enrolment"),
    "binding_rejected": ("培训券绑定被拒绝（{0}）", "binding the voucher was rejected ({0})"),
    "bound_outside_validity": ("绑定时培训券不在有效期内", "the voucher was not valid when it was bound"),
    "enrolment_missing": ("尚未收到培训报名记录", "the training enrolment has not been received yet"),
    "enrolment_rejected": ("报名被退回（{0}）", "the enrolment was rejected ({0})"),
    "dropped": ("学员中途退训（{0}）", "the trainee left the class before completion ({0})"),
    "class_missing": ("尚未收到开班备案", "the class filing (class.opened) has not been received yet"),
    "class_approval_missing": ("订单式培训班尚待审核备案", "the order class awaits the bureau's approval (S2)"),
    "class_days_approval_missing": (
        "普惠制培训班计划 {0} 天，超出通常的 3–10 天，尚待局方审批（S1）",
        "the inclusive class plans {0} days, outside the usual 3–10, and awaits the bureau's approval (S1)",
    ),
    "class_not_approved": ("培训班未获审核备案（{0}）", "the bureau did not approve the class ({0})"),
    "kind_mismatch": ("培训券类型与培训班类型不符", "the voucher's kind differs from the class's kind"),
    "realname_missing": ("尚待省培训实名制系统确认", "awaiting the province real-name system's verdict (P1)"),
    "realname_rejected": ("省培训实名制系统退回（{0}）", "the province real-name system rejected it ({0})"),
    "realname_withdrawn": (
        "省培训实名制系统撤回了记录（{0}），待机构更正后重新上报",
        "the province real-name system withdrew the record ({0}); waiting for the institution's corrected version",
    ),
    "realname_trained_elsewhere": (
        "省培训实名制系统事后核查：本年度已在其他县参加同类培训（{0}）",
        "the province found after the fact that the person trained elsewhere this year ({0})",
    ),
    "completion_missing": ("尚未结业", "the training is not completed yet"),
    "no_attended_days": ("实际培训天数为 0", "no training day was attended"),
    "completed_outside_validity": ("结业日期超出培训券有效期", "the completion is outside the voucher's validity"),
    "completed_before_binding": (
        "结业日期早于培训券绑定日期（补录的培训不予补贴）",
        "the completion is dated before the voucher was bound (no back-dated training)",
    ),
    "not_passed": ("创业培训考核未合格", "the trainee did not pass the entrepreneurship course (S6)"),
    "certificate_missing": (
        "尚未取得与培训工种对应的证书",
        "no certificate yet for the class's occupation issued on or after the class start",
    ),
    "certificate_revoked": ("证书已被撤销（{0}）", "the certificate was revoked ({0})"),
    "outcome_missing": ("尚待班级成效报告（就业率 / 合格率）", "awaiting the class outcome report (S2 / S6)"),
    "pass_rate_below": ("班级合格率 {0} 低于 {1}", "the class pass rate {0} is below {1} (S6)"),
    "licence_rate_below": (
        "六个月跟踪期结束，取得营业执照人数占合格人数 {0}，未达 {1}",
        "business licences within six months are {0} of those who passed, below {1} (S6)",
    ),
    "licence_follow_up_open": (
        "营业执照跟踪期至 {2} 结束；目前取得营业执照人数占合格人数 {0}，未达 {1}",
        "the business-licence follow-up is open until {2}; licences are {0} of those who passed, below {1} (S6)",
    ),
    "enterprise_not_named": (
        "企业在岗职工培训班未登记所属企业（S5 由企业申领）",
        "the on-the-job class names no registered enterprise; S5 is claimed by the enterprise",
    ),
    "employment_missing": (
        "尚未登记就业（劳动合同不少于 {0} 个月，S3 就业阶段）",
        "no employment recorded yet with a contract of at least {0} months (S3 employment stage)",
    ),
    "claim_superseded": (
        "该补贴已由新的结算方式取代（如 S3 分阶段结算）",
        "the claim was superseded (e.g. by the project's S3 staged settlement)",
    ),
    "e4_limit": ("本年度已享受同类培训补贴（E4）", "this person already has this year's {0} training subsidy (E4)"),
    "e5_limit": ("同一等级已享受过评价补贴（E5）", "an evaluation subsidy at this level was already granted (E5)"),
    "institution_suspended": (
        "培训机构已被暂停或撤销，待局方复核（I3）",
        "the institution was suspended or revoked; payable only after the bureau's review (I3)",
    ),
    "evaluation_institution_suspended": (
        "评价机构已被暂停或撤销，待局方复核（I3）",
        "the evaluation institution was suspended or revoked; payable only after the bureau's review (I3)",
    ),
    "review_rejected": ("局方复核不予兑现（{0}）", "the bureau's review refused payment ({0})"),
    "no_policy_table": ("该政策年度尚无政策表", "there is no policy table for the policy year"),
    "s8_no_amount": ("S8 未设定该等级评价补贴标准", "S8 sets no evaluation subsidy for this certificate"),
    "evaluation_no_voucher": (
        "证书无对应的电子培训券（E6），且非中职学生免费评价（E7）",
        "no electronic training voucher leads to this certificate (E6) and it is no free student evaluation (E7)",
    ),
    "category_unconfirmed": (
        "人员类别（{0}）为本人申报，尚待乡镇或人社局工作人员、主管部门名单核实（{2}）",
        "the category ({1}) is only claimed: it awaits confirmation by township or bureau staff or the owning "
        "office's roster ({2})",
    ),
    "category_rejected": ("人员类别（{0}）经核实不符（{2}）", "the category ({1}) was rejected on evidence ({2})"),
    "founder_licence_not_within_year": (
        "营业执照签发于 {0}，报名时（{1}）已满一年，不属于创业初期创业者（E2）",
        "the business licence was issued on {0}, a year or more before the enrolment on {1} (E2)",
    ),
    "training_claim_rejected": ("对应的培训补贴未获兑现（{0}）", "the voucher's training subsidy is refused ({0})"),
    "industry_department_funded": (
        "行业部门自有经费培训，不属本补贴范围（S9）",
        "an industry department's own training, paid from its own funds: outside these subsidies (S9)",
    ),
}

# The rule behind a reason that limits, holds or refuses a claim (the claim cites it beside its lines' rules).
RULE_OF_REASON = {
    "e4_limit": "E4",
    "e5_limit": "E5",
    "s8_no_amount": "S8",
    "evaluation_no_voucher": "E6",
    "institution_suspended": "I3",
    "evaluation_institution_suspended": "I3",
    "review_rejected": "I3",
    "founder_licence_not_within_year": "E2",
    "industry_department_funded": "S9",
}


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str

    @classmethod
    def of(cls, code: str, *args: object) -> "Reason":
        zh, en = REASONS[code]
        return cls(code, zh.format(*args), en.format(*args))


@dataclass(frozen=True)
class Link:
    name: str
    status: str
    event_ids: tuple[str, ...] = ()
    reason: Reason | None = None
    note: str | None = None  # facts worth showing: rates, days

    @property
    def label(self) -> str:
        return LINK_LABELS[self.name]
