"""The chain (ARCHITECTURE.md "The chain") and the claims it yields — one pure function.

`evaluate_person(person_key, facts, policies)` re-evaluates every chain of one person from the facts
alone and returns the chains (links, event ids, what is missing or broke, in Chinese and English) and the
claims (amount, lines citing rules, state). Because it looks only at the set of facts (each fact keyed by
its natural id, the newest version winning), any arrival order, delay or duplication of the events gives
the same result.

Claim states computed here: waiting (chain incomplete) → eligible; held (I3, awaiting the bureau's
review); rejected / void with a reason. Later states (declared … paid) are set by the payment flow; such
claims are passed in as `locked` and keep their E4 / E5 slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Mapping

from skillkit.county import day_start, local_date

from subsidy_service.domain.facts import NOTICE_TYPE, Fact, FactSet
from subsidy_service.domain.policy import Policies, PolicyTable
from subsidy_service.domain.rules import (
    ZERO,
    Computed,
    Line,
    pct,
    s1_inclusive,
    s2_order,
    s3_project,
    s3_stage_parts,
    s4_living_allowance,
    s5_enterprise,
    s6_parts,
    s6_platform_fee,
    s7_caregiver,
    s8_evaluation,
    s8_key,
)

WAITING, ELIGIBLE, HELD, REJECTED, VOID = "waiting", "eligible", "held", "rejected", "void"
OK, MISSING, BROKEN, NOT_REQUIRED = "ok", "missing", "broken", "not_required"

TRAINING, LIVING, EVALUATION = "training", "living_allowance", "evaluation"
MAIN, S6_FIRST, S6_REST = "main", "S6-80", "S6-20"
S3_FIRST = "S3-1"  # S3 staged settlement: parts S3-1 … S3-n, one per stage of the project
# The links an S3 stage needs (RULES.md S3 分时段阶段性结算; the stages themselves are the project's table).
S3_STAGE_LINKS = {"enrolment_verified": ("voucher", "binding", "enrolment", "realname")}

LINK_LABELS = {
    "voucher": "培训券",
    "binding": "绑定",
    "enrolment": "报名",
    "realname": "实名制",
    "completion": "结业",
    "certificate": "证书",
    "class_outcome": "班级成效",
    "limits": "限额与机构",
}

# Breaks that void the claims (the voucher or the certificate itself is gone); other breaks reject.
# P1: a person the province finds trained elsewhere this year after the fact holds no subsidy here (E4 across
# counties): the claim is void, with the reason.
VOIDING = frozenset({"voucher_revoked", "voucher_expired_unused", "certificate_revoked", "realname_trained_elsewhere"})
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
    "training_claim_rejected": ("对应的培训补贴未获兑现（{0}）", "the voucher's training subsidy is refused ({0})"),
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


@dataclass(frozen=True)
class ClaimDraft:
    claim_type: str
    subject_id: str  # voucher id (training, living allowance) or certificate id (evaluation)
    part: str
    person_key: str
    voucher_id: str | None
    certificate_id: str | None
    institution_id: str | None  # the training institution of the chain
    payee_type: str
    payee_id: str | None
    kind: str  # voucher kind, or certificate type for evaluation claims
    policy_year: int
    table_year: int | None
    table_version: int | None
    amount: Decimal
    lines: tuple[Line, ...]
    state: str
    reason: Reason | None = None
    missing: tuple[Reason, ...] = ()
    quota_slot: str | None = None  # E4
    level_slot: str | None = None  # E5
    order: tuple = ()  # precedence inside an E4 / E5 contest

    @property
    def key(self) -> str:
        return claim_key(self.claim_type, self.subject_id, self.part)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The rules of its lines, then the rule that rejected or holds it."""
        ids = [line.rule_id for line in self.lines]
        if self.reason is not None and self.reason.code in RULE_OF_REASON:
            ids.append(RULE_OF_REASON[self.reason.code])
        return tuple(dict.fromkeys(ids))


def claim_key(claim_type: str, subject_id: str, part: str = MAIN) -> str:
    return f"{claim_type}:{subject_id}:{part}"


@dataclass(frozen=True)
class ChainView:
    voucher_id: str
    person_key: str
    kind: str | None
    policy_year: int | None
    enrolment_id: str | None
    class_id: str | None
    institution_id: str | None
    certificate_id: str | None
    links: tuple[Link, ...]

    @property
    def status(self) -> str:
        statuses = {link.status for link in self.links}
        if any(link.status == BROKEN for link in self.links):
            return "broken"
        if MISSING in statuses:
            return "waiting"
        if any(link.name == "limits" and link.reason is not None for link in self.links):
            return "held"
        return "complete"

    @property
    def problems(self) -> tuple[Reason, ...]:
        return tuple(link.reason for link in self.links if link.reason is not None and link.status != OK)


@dataclass(frozen=True)
class PersonResult:
    chains: dict[str, ChainView] = field(default_factory=dict)
    claims: dict[str, ClaimDraft] = field(default_factory=dict)


def _ids(*facts: Fact | None) -> tuple[str, ...]:
    return tuple(sorted({f.event_id for f in facts if f is not None}))


def _fraction(count_num: int, count_den: int, reported: Decimal | None) -> Fraction | None:
    """A class rate: exact from the counts when there are any, else the reported rate."""
    if count_den > 0:
        return Fraction(count_num, count_den)
    if reported is not None:
        return Fraction(reported)
    return None


@dataclass
class _Chain:
    """Working state of one voucher's chain while it is evaluated."""

    voucher_id: str
    voucher: Fact | None = None
    revoked: Fact | None = None
    expired: Fact | None = None
    bound: Fact | None = None
    enrolled: Fact | None = None
    klass: Fact | None = None
    approval: Fact | None = None
    outcome: Fact | None = None
    completed: Fact | None = None
    certificate: Fact | None = None
    suspended: Fact | None = None
    links: list[Link] = field(default_factory=list)


def evaluate_person(
    person_key: str,
    facts: FactSet,
    policies: Policies,
    *,
    locked: frozenset[str] = frozenset(),
    pinned: Mapping[str, tuple[int, int]] | None = None,
) -> PersonResult:
    """Every chain and claim of one person, from the facts alone.

    `locked`: keys of claims already declared or paid (they keep their E4/E5 slot whatever else happens).
    `pinned`: claim key -> (table year, version) for claims that became eligible under that table version.
    """
    pinned = pinned or {}
    voucher_ids = sorted(
        {
            f.field("voucher_id")
            for kind in ("voucher", "bound", "binding_rejected", "expired", "revoked", "enrolled", "completed")
            for f in facts.of(kind)
            if f.person_key == person_key and f.field("voucher_id")
        }
    )
    result = PersonResult()
    chain_links: dict[str, _Chain] = {}
    for voucher_id in voucher_ids:
        chain = _evaluate_chain(person_key, voucher_id, facts, policies, pinned)
        chain_links[voucher_id] = chain
        for draft in _training_claims(person_key, chain, facts, policies, pinned):
            result.claims[draft.key] = draft
    _contest_e4(result.claims, locked)
    _follow_first_stage(result.claims, locked)
    for voucher_id, chain in chain_links.items():
        living = _living_allowance(person_key, chain, policies, pinned, result.claims)
        if living is not None:
            result.claims[living.key] = living
    for draft in _evaluation_claims(person_key, facts, chain_links, policies, pinned):
        result.claims[draft.key] = draft
    _contest_e5(result.claims, locked)
    for voucher_id, chain in chain_links.items():
        links = list(chain.links)
        links.append(_limits_link(chain, result.claims))
        result.chains[voucher_id] = ChainView(
            voucher_id=voucher_id,
            person_key=person_key,
            kind=chain.voucher.payload.kind.value if chain.voucher else None,
            policy_year=chain.voucher.payload.policy_year if chain.voucher else None,
            enrolment_id=chain.enrolled.key if chain.enrolled else (chain.bound.payload.enrolment_id if chain.bound else None),
            class_id=chain.klass.key if chain.klass else (chain.enrolled.payload.class_id if chain.enrolled else None),
            institution_id=_institution(chain),
            certificate_id=chain.certificate.key if chain.certificate else None,
            links=tuple(links),
        )
    return result


def _institution(chain: _Chain) -> str | None:
    for fact in (chain.klass, chain.enrolled, chain.bound):
        if fact is not None:
            return fact.payload.institution_id
    return None


def _chain_table(c: _Chain, enrolment_id: str | None, facts: FactSet, policies: Policies,
                 pinned: Mapping[str, tuple[int, int]]) -> PolicyTable | None:
    """The table the chain's own gates (P1's real-name requirement, E8, the S6 pass rate) are read from: the one its
    training claim is computed with — the version it was pinned to once eligible, else the version in effect on
    the completion day — so that a later version never changes an eligible claim's chain."""
    if c.voucher is None:
        return None
    v = c.voucher.payload
    key = claim_key(TRAINING, c.voucher_id, S6_FIRST if v.kind.value == "entrepreneurship" else MAIN)
    completed = facts.get("completed", enrolment_id) if enrolment_id else None
    on = completed.payload.completed_on if completed is not None and completed.payload.voucher_id == c.voucher_id else None
    return policies.resolve(v.policy_year, pinned.get(key) or pinned.get(claim_key(TRAINING, c.voucher_id, S3_FIRST)), on)


def _evaluate_chain(person_key: str, voucher_id: str, facts: FactSet, policies: Policies,
                    pinned: Mapping[str, tuple[int, int]]) -> _Chain:
    c = _Chain(voucher_id)
    links = c.links
    # 1. voucher: issued for V and P, not revoked; expiry only matters for a voucher never validly bound.
    c.voucher = facts.get("voucher", voucher_id)
    if c.voucher is not None and c.voucher.person_key != person_key:
        c.voucher = None
    c.revoked = facts.get("revoked", voucher_id)
    c.expired = facts.get("expired", voucher_id)
    if c.voucher is None:
        links.append(Link("voucher", MISSING, reason=Reason.of("voucher_missing")))
    elif c.revoked is not None:
        links.append(
            Link("voucher", BROKEN, _ids(c.voucher, c.revoked), Reason.of("voucher_revoked", c.revoked.payload.reason.value))
        )
    else:
        links.append(Link("voucher", OK, _ids(c.voucher)))

    # 2. binding: voucher.bound for an enrolment that was not rejected, while the voucher was valid.
    bounds = [f for f in facts.of("bound") if f.payload.voucher_id == voucher_id]
    rejected_bindings = {f.payload.enrolment_id: f for f in facts.of("binding_rejected") if f.payload.voucher_id == voucher_id}
    enrolment_rejections = {f.key: f for f in facts.of("enrolment_rejected")}
    # A drop-out or a rejected enrolment releases the voucher, which may then be enrolled again: the live
    # enrolment is the bound one that was neither rejected nor dropped.
    drops = {f.key: f for f in facts.of("dropped") if f.payload.voucher_id == voucher_id}
    ended = set(rejected_bindings) | set(enrolment_rejections) | set(drops)
    live = [b for b in bounds if b.payload.enrolment_id not in ended]
    live.sort(key=lambda b: (b.payload.bound_at, b.payload.enrolment_id))
    c.bound = live[0] if live else None
    valid_binding = c.bound is not None and (
        c.voucher is None or c.voucher.payload.valid_from <= c.bound.payload.bound_at < c.voucher.payload.valid_until
    )
    if c.bound is None:
        enrolments_of_v = [f for f in facts.of("enrolled") if f.payload.voucher_id == voucher_id]
        if c.expired is not None and c.revoked is None:
            links.append(Link("binding", BROKEN, _ids(c.expired), Reason.of("voucher_expired_unused")))
        elif rejected_bindings:
            last = max(rejected_bindings.values(), key=Fact.order)
            links.append(Link("binding", BROKEN, _ids(*rejected_bindings.values()),
                              Reason.of("binding_rejected", last.payload.reason.value)))
        elif enrolments_of_v and all(e.key in enrolment_rejections for e in enrolments_of_v):
            last = max((enrolment_rejections[e.key] for e in enrolments_of_v), key=Fact.order)
            links.append(Link("binding", BROKEN, _ids(*enrolments_of_v, last),
                              Reason.of("enrolment_rejected", last.payload.reason)))
        elif bounds and all(b.payload.enrolment_id in enrolment_rejections for b in bounds):
            last = max((enrolment_rejections[b.payload.enrolment_id] for b in bounds), key=Fact.order)
            links.append(Link("binding", BROKEN, _ids(*bounds, last), Reason.of("enrolment_rejected", last.payload.reason)))
        elif drops and (not bounds or all(b.payload.enrolment_id in ended for b in bounds)):
            last = max(drops.values(), key=Fact.order)
            links.append(Link("binding", BROKEN, _ids(*bounds, *drops.values()), Reason.of("dropped", last.payload.reason)))
        else:
            links.append(Link("binding", MISSING, reason=Reason.of("binding_missing")))
    elif c.voucher is not None and not valid_binding:
        links.append(Link("binding", BROKEN, _ids(c.bound), Reason.of("bound_outside_validity")))
    else:
        links.append(Link("binding", OK, _ids(c.bound)))

    # 3. enrolment: training.enrolled on V (the bound one), its class filed (and approved for order classes).
    enrolment_id = c.bound.payload.enrolment_id if c.bound else None
    if enrolment_id is None:
        candidates = [f for f in facts.of("enrolled") if f.payload.voucher_id == voucher_id and f.key not in ended]
        enrolment_id = candidates[0].key if candidates else None
    c.enrolled = facts.get("enrolled", enrolment_id) if enrolment_id else None
    if c.enrolled is not None and c.enrolled.payload.voucher_id != voucher_id:
        c.enrolled = None
    class_id = c.enrolled.payload.class_id if c.enrolled else (c.bound.payload.class_id if c.bound else None)
    c.klass = facts.get("class", class_id) if class_id else None
    c.approval = facts.get("class_approval", class_id) if class_id else None
    c.outcome = facts.get("class_outcome", class_id) if class_id else None
    institution_id = _institution(c)
    c.suspended = facts.get("suspended", institution_id) if institution_id else None
    dropped = facts.get("dropped", enrolment_id) if enrolment_id else None
    rejection = enrolment_rejections.get(enrolment_id) if enrolment_id else None
    if rejection is not None:
        links.append(Link("enrolment", BROKEN, _ids(c.enrolled, rejection), Reason.of("enrolment_rejected", rejection.payload.reason)))
    elif c.enrolled is None:
        links.append(Link("enrolment", MISSING, reason=Reason.of("enrolment_missing")))
    elif dropped is not None:
        links.append(Link("enrolment", BROKEN, _ids(c.enrolled, dropped), Reason.of("dropped", dropped.payload.reason)))
    elif c.klass is None:
        links.append(Link("enrolment", MISSING, _ids(c.enrolled), Reason.of("class_missing")))
    elif c.voucher is not None and c.klass.payload.kind != c.voucher.payload.kind:
        links.append(Link("enrolment", BROKEN, _ids(c.enrolled, c.klass), Reason.of("kind_mismatch")))
    elif c.klass.payload.needs_approval and (c.approval is None or not c.approval.payload.approved):
        if c.approval is None:
            waiting = (Reason.of("class_days_approval_missing", c.klass.payload.planned_days)
                       if c.klass.payload.kind.value == "inclusive" else Reason.of("class_approval_missing"))
            links.append(Link("enrolment", MISSING, _ids(c.enrolled, c.klass), waiting))
        else:
            links.append(Link("enrolment", BROKEN, _ids(c.enrolled, c.klass, c.approval),
                              Reason.of("class_not_approved", c.approval.payload.reason or "-")))
    else:
        note = None
        if c.klass.payload.days_reason and c.approval is not None:  # S1: outside 3–10 days, approved with a reason
            note = (f"计划 {c.klass.payload.planned_days} 天（超出 3–10 天）经局方审批："
                    f"{c.klass.payload.days_reason}（{c.approval.payload.decided_by}）")
        links.append(Link("enrolment", OK, _ids(c.enrolled, c.klass, c.approval), note=note))

    table = _chain_table(c, enrolment_id, facts, policies, pinned)

    # 4. real-name (P1): per record type the newest word on the line — the answer to its newest version (a
    # correction is the record's next version), or the province's later notice on that version; a person found
    # trained elsewhere after the fact voids the claim, any rejection breaks, a withdrawn record waits for its
    # corrected version, the trainee record's acceptance completes the link; without a verdict the link waits
    # when the table requires it.
    answers = [
        f for f in facts.of("realname")
        if (enrolment_id is not None and f.payload.enrolment_id == enrolment_id)
        or (class_id is not None and f.payload.enrolment_id is None and f.payload.class_id == class_id)
    ]
    newest: dict[tuple[str, str | None], Fact] = {}
    for answer in answers:
        slot = (answer.payload.record_type, answer.payload.enrolment_id)
        if slot not in newest or _realname_rank(answer) > _realname_rank(newest[slot]):
            newest[slot] = answer
    words = {slot: _realname_word(f) for slot, f in newest.items()}
    of_word = {word: [newest[slot] for slot, w in words.items() if w == word]
               for word in ("trained_elsewhere", "rejected", "withdrawn")}
    trainee_ok = [a for slot, a in newest.items() if slot[0] == "trainee" and words[slot] == "accepted"]
    required = table.realname_required if table is not None else True
    if of_word["trained_elsewhere"]:
        worst = max(of_word["trained_elsewhere"], key=Fact.order)
        where = worst.payload.other_county_code or worst.payload.detail or "-"
        links.append(Link("realname", BROKEN, _ids(*of_word["trained_elsewhere"]),
                          Reason.of("realname_trained_elsewhere", where)))
    elif of_word["rejected"]:
        rejected_answers = of_word["rejected"]
        worst = max(rejected_answers, key=Fact.order)
        why = worst.payload.reason.value if worst.payload.reason else (worst.payload.detail or "-")
        links.append(Link("realname", BROKEN, _ids(*rejected_answers), Reason.of("realname_rejected", why)))
    elif of_word["withdrawn"]:
        worst = max(of_word["withdrawn"], key=Fact.order)
        links.append(Link("realname", MISSING, _ids(*newest.values()),
                          Reason.of("realname_withdrawn", worst.payload.detail or "-")))
    elif trainee_ok:
        links.append(Link("realname", OK, _ids(*trainee_ok)))
    elif not required:
        links.append(Link("realname", NOT_REQUIRED, _ids(*newest.values())))
    else:
        links.append(Link("realname", MISSING, _ids(*newest.values()), Reason.of("realname_missing")))

    # 5. completion: training.completed for that enrolment, with attended days, inside V's validity.
    c.completed = facts.get("completed", enrolment_id) if enrolment_id else None
    if c.completed is not None and c.completed.payload.voucher_id != voucher_id:
        c.completed = None
    if c.completed is None:
        links.append(Link("completion", MISSING, reason=Reason.of("completion_missing")))
    else:
        p = c.completed.payload
        note = f"实际培训 {p.attended_days} 天"
        if c.klass is not None and p.attended_days > c.klass.payload.planned_days:
            note += f"，按计划培训天数 {c.klass.payload.planned_days} 天补贴"
        if p.attended_days <= 0:
            links.append(Link("completion", BROKEN, _ids(c.completed), Reason.of("no_attended_days"), note))
        elif c.voucher is not None and day_start(p.completed_on) >= c.voucher.payload.valid_until:
            links.append(Link("completion", BROKEN, _ids(c.completed), Reason.of("completed_outside_validity"), note))
        elif c.bound is not None and p.completed_on < local_date(c.bound.payload.bound_at):
            # no back-dated training (the training service refuses such days; this holds the chain to it too)
            links.append(Link("completion", BROKEN, _ids(c.completed, c.bound), Reason.of("completed_before_binding"),
                              note))
        elif c.voucher is not None and c.voucher.payload.kind.value == "entrepreneurship" and not p.passed:
            links.append(Link("completion", BROKEN, _ids(c.completed), Reason.of("not_passed"), note))
        else:
            links.append(Link("completion", OK, _ids(c.completed), note=note))

    # 6. certificate: same person, the class's occupation, issued on/after the class start, not revoked.
    if c.klass is None:
        links.append(Link("certificate", MISSING, reason=Reason.of("certificate_missing")))
    else:
        matching = [
            f for f in facts.of("certificate")
            if f.person_key == person_key
            and f.payload.occupation_code == c.klass.payload.occupation_code
            and f.payload.issued_on >= c.klass.payload.start_date
        ]
        revoked = {f.key: f for f in facts.of("certificate_revoked")}
        valid = sorted((f for f in matching if f.key not in revoked), key=lambda f: (f.payload.issued_on, f.key))
        if valid:
            c.certificate = valid[0]
            links.append(Link("certificate", OK, _ids(c.certificate)))
        elif matching:
            gone = min(matching, key=lambda f: (f.payload.issued_on, f.key))
            links.append(Link("certificate", BROKEN, _ids(gone, revoked[gone.key]),
                              Reason.of("certificate_revoked", revoked[gone.key].payload.reason)))
        else:
            links.append(Link("certificate", MISSING, reason=Reason.of("certificate_missing")))

    # 7. class outcome: employment rate for order classes (S2), pass and licence rates for S6.
    kind = c.voucher.payload.kind.value if c.voucher else (c.klass.payload.kind.value if c.klass else None)
    outbound = bool(c.klass and c.klass.payload.outbound and table is not None and table.e8.paid_as_inclusive)
    if kind == "order" and not outbound:
        rate = _employment_rate(c.outcome)
        if rate is None:
            links.append(Link("class_outcome", MISSING, _ids(c.outcome), Reason.of("outcome_missing")))
        else:
            links.append(Link("class_outcome", OK, _ids(c.outcome), note=f"班级就业率 {pct(rate)}"))
    elif kind == "entrepreneurship":
        rate = _pass_rate(c.outcome)
        if rate is None:
            links.append(Link("class_outcome", MISSING, _ids(c.outcome), Reason.of("outcome_missing")))
        elif table is not None and rate < Fraction(table.s6.pass_rate_gate):
            links.append(Link("class_outcome", BROKEN, _ids(c.outcome),
                              Reason.of("pass_rate_below", pct(rate), pct(Fraction(table.s6.pass_rate_gate)))))
        else:
            licence = _licence_rate(c.outcome)
            note = f"班级合格率 {pct(rate)}；营业执照率 {pct(licence) if licence is not None else '—'}"
            links.append(Link("class_outcome", OK, _ids(c.outcome), note=note))
    else:
        links.append(Link("class_outcome", NOT_REQUIRED))
    return c


def _employment_rate(outcome: Fact | None) -> Fraction | None:
    if outcome is None:
        return None
    p = outcome.payload
    return _fraction(p.employed, p.trainees_completed, p.employment_rate)


def _pass_rate(outcome: Fact | None) -> Fraction | None:
    if outcome is None:
        return None
    p = outcome.payload
    return _fraction(p.passed, p.trainees_attended, p.pass_rate)


def _licence_rate(outcome: Fact | None) -> Fraction | None:
    if outcome is None:
        return None
    p = outcome.payload
    return _fraction(p.licensed_within_six_months, p.passed, p.licence_rate)


def _realname_rank(fact: Fact) -> tuple:
    """P1: which word on a line stands — the higher record version first (the institution's correction); on one
    version the province's notice over its answer (the province re-answering a version it has since withdrawn
    does not undo the withdrawal; only a corrected version does); then the event time and id."""
    return (fact.payload.version or 1, fact.type == NOTICE_TYPE, fact.order())


def _realname_word(fact: Fact) -> str:
    """accepted | rejected (an answer) or trained_elsewhere | withdrawn (a notice of the province's own)."""
    if fact.type == NOTICE_TYPE:
        return fact.payload.notice.value
    return fact.payload.verdict.value


def _state_from(links: list[Link] | tuple[Link, ...]) -> tuple[str, Reason | None, tuple[Reason, ...]]:
    broken = [link.reason for link in links if link.status == BROKEN and link.reason is not None]
    missing = tuple(link.reason for link in links if link.status == MISSING and link.reason is not None)
    voiding = [r for r in broken if r.code in VOIDING]
    if voiding:
        return VOID, voiding[0], missing
    if broken:
        return REJECTED, broken[0], missing
    if missing:
        return WAITING, missing[0], missing
    return ELIGIBLE, None, ()


def _with_suspension(state: str, reason: Reason | None, chain: _Chain, key: str, facts: FactSet) -> tuple[str, Reason | None]:
    """I3: a suspended institution's delivered work is payable only after the bureau's review."""
    if state != ELIGIBLE or chain.suspended is None:
        return state, reason
    return _reviewed(key, facts, Reason.of("institution_suspended"))


def _reviewed(key: str, facts: FactSet, held: Reason) -> tuple[str, Reason | None]:
    review = facts.get("review", key)
    if review is None:
        return HELD, held
    if review.payload.approved:
        return ELIGIBLE, None
    return REJECTED, Reason.of("review_rejected", review.payload.reason or "-")


def _training_claims(
    person_key: str, c: _Chain, facts: FactSet, policies: Policies, pinned: Mapping[str, tuple[int, int]]
) -> list[ClaimDraft]:
    if c.voucher is None:
        return []  # E6: no voucher, no subsidy (and no claim until the voucher is known)
    v = c.voucher.payload
    kind = v.kind.value
    parts = (S6_FIRST, S6_REST) if kind == "entrepreneurship" else (MAIN,)
    on = c.completed.payload.completed_on if c.completed else None
    stages = _s3_stages(c, policies, pinned, on) if kind == "project" else ()
    if stages:  # S3 staged settlement: one claim line per stage of the project
        parts = tuple(f"S3-{number}" for number in range(1, len(stages) + 1))
    drafts = []
    for part in parts:
        key = claim_key(TRAINING, c.voucher_id, part)
        table = policies.resolve(v.policy_year, pinned.get(key), on)
        stage = stages[int(part[3:]) - 1] if stages else None
        needed = S3_STAGE_LINKS.get(stage.code) if stage is not None else None
        links = [link for link in c.links if needed is None or link.name in needed]
        computed = None
        if table is not None:
            computed = _s3_stage_amount(c, table, part) if stage is not None else _training_amount(c, table, part)
        state, reason, missing = _state_from(links)
        if stage is not None and stage.code == "employment" and state == ELIGIBLE:
            employed = facts.get("employed", c.enrolled.key) if c.enrolled is not None else None
            months = employed.payload.contract_months if employed is not None else None
            if months is None or months < stage.employment_months:
                reason = Reason.of("employment_missing", stage.employment_months)
                state, missing = WAITING, (reason,)
        if table is None:
            missing = missing + (Reason.of("no_policy_table"),)
            if state == ELIGIBLE:
                state, reason = WAITING, Reason.of("no_policy_table")
        if part == S6_REST and state == ELIGIBLE and table is not None:
            # S6's second part: eligible the moment licences reach the gate, whether or not the six-month window
            # is still open; short of it, it waits while the window is open and is refused once it closed.
            licence = _licence_rate(c.outcome)
            gate = Fraction(table.s6.licence_rate_gate)
            if licence is None or licence < gate:
                shown = pct(licence) if licence is not None else "0.0 %"
                outcome = c.outcome.payload if c.outcome is not None else None
                if outcome is not None and outcome.follow_up_open:
                    closes = outcome.follow_up_closes_on.isoformat() if outcome.follow_up_closes_on else "—"
                    reason = Reason.of("licence_follow_up_open", shown, pct(gate), closes)
                    state, missing = WAITING, (reason,)
                else:
                    reason = Reason.of("licence_rate_below", shown, pct(gate))
                    state, missing = REJECTED, ()
        if state == ELIGIBLE and computed is None:
            state, reason = WAITING, Reason.of("outcome_missing")
        payee_type, payee_id = _training_payee(c)
        if kind == "enterprise" and c.klass is not None and payee_id is None and state == ELIGIBLE:
            state, reason = WAITING, Reason.of("enterprise_not_named")
            missing = (reason,)
        state, reason = _with_suspension(state, reason, c, key, facts)
        slot = None
        if part == MAIN and kind == "inclusive":
            slot = "inclusive"
        elif part in (MAIN, S3_FIRST) and kind in ("project", "order"):
            slot = "project_or_order"  # a staged project holds its E4 slot with its first stage
        completed_on = c.completed.payload.completed_on if c.completed else date.max
        drafts.append(
            ClaimDraft(
                claim_type=TRAINING,
                subject_id=c.voucher_id,
                part=part,
                person_key=person_key,
                voucher_id=c.voucher_id,
                certificate_id=c.certificate.key if c.certificate else None,
                institution_id=_institution(c),
                payee_type=payee_type,
                payee_id=payee_id,
                kind=kind,
                policy_year=v.policy_year,
                table_year=table.policy_year if table else None,
                table_version=table.version if table else None,
                amount=computed.amount if computed else ZERO,
                lines=computed.lines if computed else (),
                state=state,
                reason=reason,
                missing=missing,
                quota_slot=slot,  # provisional: the E4 contest keeps it only for the winner
                order=(completed_on, c.voucher_id),
            )
        )
    return drafts


def _s3_stages(c: _Chain, policies: Policies, pinned: Mapping[str, tuple[int, int]], on: date | None) -> tuple:
    """The stages of the class's project, from the table its first stage is (or would be) computed with."""
    if c.voucher is None or c.klass is None:
        return ()
    table = policies.resolve(c.voucher.payload.policy_year, pinned.get(claim_key(TRAINING, c.voucher_id, S3_FIRST)), on)
    return table.s3.rate(c.klass.payload.project_reference).stages if table is not None else ()


def _s3_stage_amount(c: _Chain, table: PolicyTable, part: str) -> Computed | None:
    """A stage's share: on the attended (paid) days once completed, on the class's planned days before."""
    if c.klass is None:
        return None
    klass = c.klass.payload
    planned = c.completed is None
    parts = s3_stage_parts(table, klass.planned_days if planned else _paid_days(c), klass.project_reference, planned)
    number = int(part[3:])
    return parts[number - 1] if number <= len(parts) else None


def _training_payee(c: _Chain) -> tuple[str, str | None]:
    """S5 is claimed by the enterprise the on-the-job class names; every other training claim by the institution."""
    kind = c.voucher.payload.kind.value if c.voucher else None
    if kind == "enterprise":
        return "enterprise", c.klass.payload.enterprise_id if c.klass is not None else None
    return "institution", _institution(c)


def _paid_days(c: _Chain) -> int:
    """The attended days, at most the class's planned days: the per-day subsidies (S1–S7) pay the training the
    class filed, and a day beyond its plan is not subsidised (the check-ins stay on record)."""
    days = c.completed.payload.attended_days if c.completed else 0
    return min(days, c.klass.payload.planned_days) if c.klass is not None else days


def _training_amount(c: _Chain, table: PolicyTable, part: str) -> Computed | None:
    if c.completed is None or c.voucher is None:
        return None
    days = _paid_days(c)
    kind = c.voucher.payload.kind.value
    klass = c.klass.payload if c.klass else None
    if klass is not None and klass.outbound and table.e8.paid_as_inclusive and kind not in ("entrepreneurship", "enterprise"):
        return s1_inclusive(table, days, rule_id="E8")  # E8: outbound training paid as S1
    if kind == "inclusive":
        return s1_inclusive(table, days)
    if kind == "order":
        rate = _employment_rate(c.outcome)
        if rate is None or klass is None:
            return None
        return s2_order(table, days, rate, klass.occupation_code, klass.level, klass.subsidised_day_limit)
    if kind == "project":
        return s3_project(table, days, klass.project_reference if klass else None)
    if kind == "enterprise":
        return s5_enterprise(table)
    if kind == "caregiver":
        return s7_caregiver(table, days)
    if kind == "entrepreneurship":
        first, rest = s6_parts(table, days)
        fee = s6_platform_fee(table) if klass is not None and klass.course == "online" else None
        if fee is not None:  # the operator delivered the course: its fee comes with the first part, whole
            first = Computed(first.amount + fee.amount, first.lines + (fee,))
        return first if part == S6_FIRST else rest
    return None


def _contest(claims: dict[str, ClaimDraft], slot_of, locked: frozenset[str], loser_reason) -> None:
    """At most one live claim per slot: a locked (declared / paid) claim first, then the earliest."""
    groups: dict[tuple, list[ClaimDraft]] = {}
    for draft in claims.values():
        slot = slot_of(draft)
        if slot is not None:
            groups.setdefault(slot, []).append(draft)
    for slot, drafts in groups.items():
        contenders = [d for d in drafts if d.key in locked or d.state in (ELIGIBLE, HELD)]
        contenders.sort(key=lambda d: (d.key not in locked, d.order, d.key))
        winner = contenders[0].key if contenders else None
        for d in drafts:
            if d.key == winner:
                continue
            if d.state in (ELIGIBLE, HELD) and d.key not in locked:
                reason = loser_reason(d)
                claims[d.key] = replace(d, state=REJECTED, reason=reason, missing=(), quota_slot=None, level_slot=None)
            else:
                claims[d.key] = replace(claims[d.key], quota_slot=None, level_slot=None)


def _contest_e4(claims: dict[str, ClaimDraft], locked: frozenset[str]) -> None:
    """E4: per person per calendar (policy) year one inclusive and one project-or-order training subsidy."""
    _contest(
        claims,
        lambda d: (d.policy_year, d.quota_slot) if d.claim_type == TRAINING and d.quota_slot else None,
        locked,
        lambda d: Reason.of("e4_limit", "普惠制" if d.quota_slot == "inclusive" else "项目制/订单式"),
    )


def _follow_first_stage(claims: dict[str, ClaimDraft], locked: frozenset[str]) -> None:
    """S3 staged settlement: the later stages follow their first stage's E4 refusal (one project subsidy a year)."""
    for key, draft in list(claims.items()):
        if draft.claim_type != TRAINING or not draft.part.startswith("S3-") or draft.part == S3_FIRST:
            continue
        first = claims.get(claim_key(TRAINING, draft.subject_id, S3_FIRST))
        if (first is not None and first.reason is not None and first.reason.code == "e4_limit"
                and key not in locked and draft.state in (ELIGIBLE, HELD, WAITING)):
            claims[key] = replace(draft, state=REJECTED, reason=first.reason, missing=())


def _contest_e5(claims: dict[str, ClaimDraft], locked: frozenset[str]) -> None:
    """E5: an evaluation subsidy once per person per certificate level."""
    _contest(
        claims,
        lambda d: d.level_slot if d.claim_type == EVALUATION and d.level_slot else None,
        locked,
        lambda d: Reason.of("e5_limit"),
    )


def _living_allowance(
    person_key: str,
    c: _Chain,
    policies: Policies,
    pinned: Mapping[str, tuple[int, int]],
    claims: Mapping[str, ClaimDraft],
) -> ClaimDraft | None:
    """S4 for E3 persons only: 15 yuan per attended day, paid to the worker."""
    if c.voucher is None or not c.voucher.payload.living_allowance_eligible:
        return None
    v = c.voucher.payload
    key = claim_key(LIVING, c.voucher_id)
    table = policies.resolve(v.policy_year, pinned.get(key), c.completed.payload.completed_on if c.completed else None)
    # The mission's chain: a valid voucher, a completion and a certificate — unless the table relaxes it, which
    # the claim then records with the version and who published it. The class outcome (employment or pass rate)
    # is the institution's result and does not gate the worker's allowance for the days trained.
    needed = {"voucher", "binding", "enrolment", "realname", "completion", "certificate"}
    relaxed: tuple[Line, ...] = ()
    if table is not None and not table.s4.requires_certificate:
        needed.discard("certificate")
        relaxed = (Line("S4", f"S4: {table.policy_year} 年政策表第 {table.version} 版"
                              f"（{table.changed_by or '未记录'} 发布）不要求证书", ZERO),)
    state, reason, missing = _state_from([link for link in c.links if link.name in needed])
    if table is None:
        missing = missing + (Reason.of("no_policy_table"),)
        if state == ELIGIBLE:
            state, reason = WAITING, Reason.of("no_policy_table")
    training = _lead_claim(claims, c.voucher_id)
    if state in (ELIGIBLE, WAITING) and training is not None and training.reason is not None and training.reason.code in ("e4_limit", "review_rejected"):
        state, reason, missing = REJECTED, Reason.of("training_claim_rejected", training.reason.code), ()
    computed = s4_living_allowance(table, _paid_days(c)) if (table and c.completed) else None
    return ClaimDraft(
        claim_type=LIVING,
        subject_id=c.voucher_id,
        part=MAIN,
        person_key=person_key,
        voucher_id=c.voucher_id,
        certificate_id=None,
        institution_id=_institution(c),
        payee_type="worker",
        payee_id=v.worker_id,
        kind=v.kind.value,
        policy_year=v.policy_year,
        table_year=table.policy_year if table else None,
        table_version=table.version if table else None,
        amount=computed.amount if computed else ZERO,
        lines=(computed.lines if computed else ()) + relaxed,
        state=state,
        reason=reason,
        missing=missing,
    )


def _evaluation_claims(
    person_key: str,
    facts: FactSet,
    chains: Mapping[str, _Chain],
    policies: Policies,
    pinned: Mapping[str, tuple[int, int]],
) -> list[ClaimDraft]:
    """S8 per certificate, payee the evaluation institution; E6 traced to a voucher, or E7 free evaluation."""
    revoked = {f.key: f for f in facts.of("certificate_revoked")}
    drafts = []
    for cert in facts.of("certificate"):
        if cert.person_key != person_key:
            continue
        p = cert.payload
        slot = s8_key(p.certificate_type.value, p.level)
        if slot is None:
            continue  # no evaluation subsidy exists for this certificate type (e.g. entrepreneurship training)
        key = claim_key(EVALUATION, cert.key)
        year = p.issued_on.year
        table = policies.resolve(year, pinned.get(key), p.issued_on)
        computed = s8_evaluation(table, p.certificate_type.value, p.level) if table is not None else None
        leading = [
            vid for vid, chain in sorted(chains.items())
            if chain.voucher is not None
            and chain.klass is not None
            and chain.enrolled is not None
            and chain.klass.payload.occupation_code == p.occupation_code
            and chain.klass.payload.start_date <= p.issued_on
        ]
        live = [vid for vid in leading if chains[vid].revoked is None]
        used = [vid for vid in live if _validly_used(chains[vid])]
        voucher_id = used[0] if used else None
        missing: tuple[Reason, ...] = ()
        if cert.key in revoked:
            state, reason = VOID, Reason.of("certificate_revoked", revoked[cert.key].payload.reason)
        elif leading and not live and not p.free_student_evaluation:
            # the only vouchers leading to this certificate were revoked: their claims are void
            gone = chains[leading[0]].revoked
            state, reason = VOID, Reason.of("voucher_revoked", gone.payload.reason.value)
        elif table is None:
            state, reason = WAITING, Reason.of("no_policy_table")
            missing = (reason,)
        elif computed is None:
            state, reason = REJECTED, Reason.of("s8_no_amount")
        elif voucher_id is None and not p.free_student_evaluation:
            broken = [_misuse(chains[vid]) for vid in live]
            if broken and all(broken):
                state, reason = REJECTED, broken[0]
            else:
                state, reason = WAITING, Reason.of("evaluation_no_voucher")
                missing = (reason,)
        else:
            state, reason = ELIGIBLE, None
        evaluator = facts.get("evaluation_institution", p.institution_id)
        if state == ELIGIBLE and evaluator is not None and evaluator.payload.status in ("suspended", "revoked"):
            state, reason = _reviewed(key, facts, Reason.of("evaluation_institution_suspended"))
        lines = computed.lines if computed else ()
        if p.free_student_evaluation and computed is not None:
            lines = lines + (Line("E7", "E7: 中职学生毕业年度免费评价，可申领评价补贴", ZERO),)
        drafts.append(
            ClaimDraft(
                claim_type=EVALUATION,
                subject_id=cert.key,
                part=MAIN,
                person_key=person_key,
                voucher_id=voucher_id,
                certificate_id=cert.key,
                institution_id=chains[voucher_id].enrolled.payload.institution_id if voucher_id else None,
                payee_type="evaluation_institution",
                payee_id=p.institution_id,
                kind=p.certificate_type.value,
                policy_year=year,
                table_year=table.policy_year if table else None,
                table_version=table.version if table else None,
                amount=computed.amount if computed else ZERO,
                lines=lines,
                state=state,
                reason=reason,
                missing=missing,
                level_slot=slot,
                order=(p.issued_on, cert.key),
            )
        )
    return drafts


def _validly_used(c: _Chain) -> bool:
    """E6 for an evaluation: the voucher was bound while valid to an enrolment in a filed class of its kind (and
    approved, for an order class). Real-name and completion are the training claim's links, not the evaluation's."""
    return all(link.status == OK for link in c.links if link.name in USE_LINKS)


def _misuse(c: _Chain) -> Reason | None:
    """Why the voucher was not validly used for its class (its broken binding or enrolment link); None while no
    such link is broken (a missing one may still arrive)."""
    return next((link.reason for link in c.links if link.name in USE_LINKS and link.status == BROKEN), None)



def _lead_claim(claims: Mapping[str, ClaimDraft], voucher_id: str) -> ClaimDraft | None:
    """The voucher's training claim that holds its E4 slot: main, S6's first part, or S3's first stage."""
    for part in (MAIN, S6_FIRST, S3_FIRST):
        draft = claims.get(claim_key(TRAINING, voucher_id, part))
        if draft is not None:
            return draft
    return None


def _limits_link(c: _Chain, claims: Mapping[str, ClaimDraft]) -> Link:
    """Link 6: E4 per year, and the institution still in good standing (I3)."""
    draft = _lead_claim(claims, c.voucher_id)
    if draft is None:
        return Link("limits", MISSING if c.voucher is None else OK, reason=Reason.of("voucher_missing") if c.voucher is None else None)
    if draft.reason is not None and draft.reason.code in ("e4_limit", "review_rejected"):
        return Link("limits", BROKEN, _ids(c.voucher), draft.reason)
    if c.suspended is not None:
        if draft.state == HELD:
            return Link("limits", OK, _ids(c.suspended), Reason.of("institution_suspended"))
        return Link("limits", OK, _ids(c.suspended), note="机构暂停前已交付的培训，局方已复核")
    return Link("limits", OK)
