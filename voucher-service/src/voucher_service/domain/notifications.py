"""What each key moment tells the worker: WeChat subscribe-message content built from events (pure, no I/O).

WeChat limits each template field by its type (`thing` ≤ 20 characters, `phrase` ≤ 5, `character_string` ≤ 32,
`amount`, `date`); the keys below are those of the templates the mini-program's team picks in the WeChat console
(the template ids are settings, `SKILLS_WECHAT_TEMPLATES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from skillkit.contracts.vocab import SKILL_LEVEL_LABELS, VOUCHER_KIND_LABELS, VoucherKind
from skillkit.county import local_date

from voucher_service.domain.codes import display_code

TEMPLATES = ("voucher_issued", "enrolment_bound", "enrolment_refused", "certificate_issued", "allowance_paid",
             "allowance_returned", "voucher_expiring")
EXPIRY_REMINDER_DAYS = (30, 7)

# Why an enrolment was refused, in words a worker understands (voucher binding and province real-name reasons).
REFUSAL_LABELS = {
    "unknown_voucher": "培训券无效",
    "expired": "培训券已过期",
    "revoked": "培训券已作废",
    "already_bound": "培训券已用于其他班级",
    "wrong_kind": "培训券类型与班级不符",
    "not_holder": "培训券不是本人的",
    "province_identity_mismatch": "身份信息核验未通过",
    "identity_mismatch": "身份信息核验未通过",
    "trained_elsewhere_this_year": "本年度已在其他机构参训",
}
CERTIFICATE_TYPE_LABELS = {"special_ability": "专项职业能力证书", "skill_level": "职业技能等级证书",
                           "vocational_qualification": "职业资格证书"}


@dataclass(frozen=True)
class Message:
    template: str
    person_key: str
    data: dict[str, str]
    page: str | None


def _thing(text: str) -> str:
    return text if len(text) <= 20 else text[:19] + "…"


def _day(value: date | datetime) -> str:
    return (local_date(value) if isinstance(value, datetime) else value).isoformat()


def voucher_issued(p: Any) -> Message:
    return Message("voucher_issued", p.person_key, {
        "thing1": _thing(VOUCHER_KIND_LABELS[VoucherKind(p.kind)]),
        "character_string2": display_code(p.code),
        "date3": _day(p.valid_until),
        "thing4": "请在有效期内选班报名",
    }, f"pages/vouchers/detail?id={p.voucher_id}")


def enrolment_bound(p: Any) -> Message:
    return Message("enrolment_bound", p.person_key, {
        "phrase1": "报名成功",
        "date2": _day(p.bound_at),
        "thing3": "培训券已绑定，请按时参加培训",
    }, f"pages/vouchers/detail?id={p.voucher_id}")


def enrolment_refused(p: Any, when: datetime) -> Message:
    return Message("enrolment_refused", p.person_key, {
        "phrase1": "未通过",
        "thing2": _thing(REFUSAL_LABELS.get(p.reason, "报名未通过，请联系培训机构")),
        "date3": _day(when),
    }, f"pages/vouchers/detail?id={p.voucher_id}")


def certificate_issued(p: Any) -> Message:
    level = SKILL_LEVEL_LABELS.get(p.level) if p.level else None
    what = CERTIFICATE_TYPE_LABELS.get(str(p.certificate_type), "技能证书") + (f"（{level}）" if level else "")
    return Message("certificate_issued", p.person_key, {
        "thing1": _thing(what),
        "character_string2": p.certificate_no[:32],
        "date3": _day(p.issued_on),
    }, "pages/certificates/index")


def allowance_paid(p: Any) -> Message:
    return Message("allowance_paid", p.person_key, {
        "amount1": f"{Decimal(p.amount):.2f}元",
        "thing2": "培训期间生活费补贴",
        "date3": _day(p.paid_at),
    }, "pages/subsidies/index")


def allowance_returned(p: Any) -> Message:
    """The bank returned the allowance's transfer (退票): the worker's account details are what to check; the claim is
    paid again in a later batch once they are right (docs/subsidy-service.md, "Settlement")."""
    return Message("allowance_returned", p.person_key, {
        "amount1": f"{Decimal(p.amount):.2f}元",
        "thing2": "生活费补贴被银行退回",
        "thing3": "请到乡镇服务点核对银行账户",
        "date4": _day(p.returned_at),
    }, "pages/subsidies/index")


def voucher_expiring(person_key: str, voucher_id: str, code: str, valid_until: datetime, days: int) -> Message:
    return Message("voucher_expiring", person_key, {
        "character_string1": display_code(code),
        "date2": _day(valid_until),
        "number3": str(days),
        "thing4": f"培训券{days}天内到期，请尽快报名",
    }, f"pages/vouchers/detail?id={voucher_id}")
