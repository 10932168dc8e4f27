"""The links of one voucher's chain (ARCHITECTURE.md "The chain"): voucher, binding, enrolment, funding (S9, only
for an industry department's own class), real-name, completion, certificate, class outcome — each ok, missing,
broken or not required, with the events behind it and the reason; then the categories on evidence (E1–E3,
`categories.py`). The limits link (E4, I3) comes after the claims (`person.py`)."""

from __future__ import annotations

from fractions import Fraction
from typing import Mapping

from skillkit.county import day_start, local_date

from subsidy_service.domain.chain.categories import allowance_category_link, category_link
from subsidy_service.domain.chain.rates import employment_rate, licence_rate, pass_rate
from subsidy_service.domain.chain.realname import realname_link
from subsidy_service.domain.chain.results import claim_key
from subsidy_service.domain.chain.vocabulary import (
    BROKEN,
    MAIN,
    MISSING,
    NOT_REQUIRED,
    OK,
    S3_FIRST,
    S6_FIRST,
    TRAINING,
    Link,
    Reason,
)
from subsidy_service.domain.chain.working import WorkingChain, department_funded, event_ids, institution_of
from subsidy_service.domain.facts import Fact, FactSet
from subsidy_service.domain.policy import Policies, PolicyTable
from subsidy_service.domain.rules import pct


def chain_table(c: WorkingChain, enrolment_id: str | None, facts: FactSet, policies: Policies,
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


def evaluate_chain(person_key: str, voucher_id: str, facts: FactSet, policies: Policies,
                   pinned: Mapping[str, tuple[int, int]]) -> WorkingChain:
    c = WorkingChain(voucher_id)
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
            Link("voucher", BROKEN, event_ids(c.voucher, c.revoked), Reason.of("voucher_revoked", c.revoked.payload.reason.value))
        )
    else:
        links.append(Link("voucher", OK, event_ids(c.voucher)))

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
            links.append(Link("binding", BROKEN, event_ids(c.expired), Reason.of("voucher_expired_unused")))
        elif rejected_bindings:
            last = max(rejected_bindings.values(), key=Fact.order)
            links.append(Link("binding", BROKEN, event_ids(*rejected_bindings.values()),
                              Reason.of("binding_rejected", last.payload.reason.value)))
        elif enrolments_of_v and all(e.key in enrolment_rejections for e in enrolments_of_v):
            last = max((enrolment_rejections[e.key] for e in enrolments_of_v), key=Fact.order)
            links.append(Link("binding", BROKEN, event_ids(*enrolments_of_v, last),
                              Reason.of("enrolment_rejected", last.payload.reason)))
        elif bounds and all(b.payload.enrolment_id in enrolment_rejections for b in bounds):
            last = max((enrolment_rejections[b.payload.enrolment_id] for b in bounds), key=Fact.order)
            links.append(Link("binding", BROKEN, event_ids(*bounds, last), Reason.of("enrolment_rejected", last.payload.reason)))
        elif drops and (not bounds or all(b.payload.enrolment_id in ended for b in bounds)):
            last = max(drops.values(), key=Fact.order)
            links.append(Link("binding", BROKEN, event_ids(*bounds, *drops.values()), Reason.of("dropped", last.payload.reason)))
        else:
            links.append(Link("binding", MISSING, reason=Reason.of("binding_missing")))
    elif c.voucher is not None and not valid_binding:
        links.append(Link("binding", BROKEN, event_ids(c.bound), Reason.of("bound_outside_validity")))
    else:
        links.append(Link("binding", OK, event_ids(c.bound)))

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
    institution_id = institution_of(c)
    c.suspended = facts.get("suspended", institution_id) if institution_id else None
    dropped = facts.get("dropped", enrolment_id) if enrolment_id else None
    rejection = enrolment_rejections.get(enrolment_id) if enrolment_id else None
    if rejection is not None:
        links.append(Link("enrolment", BROKEN, event_ids(c.enrolled, rejection), Reason.of("enrolment_rejected", rejection.payload.reason)))
    elif c.enrolled is None:
        links.append(Link("enrolment", MISSING, reason=Reason.of("enrolment_missing")))
    elif dropped is not None:
        links.append(Link("enrolment", BROKEN, event_ids(c.enrolled, dropped), Reason.of("dropped", dropped.payload.reason)))
    elif c.klass is None:
        links.append(Link("enrolment", MISSING, event_ids(c.enrolled), Reason.of("class_missing")))
    elif c.voucher is not None and c.klass.payload.kind != c.voucher.payload.kind:
        links.append(Link("enrolment", BROKEN, event_ids(c.enrolled, c.klass), Reason.of("kind_mismatch")))
    elif c.klass.payload.needs_approval and (c.approval is None or not c.approval.payload.approved):
        if c.approval is None:
            waiting = (Reason.of("class_days_approval_missing", c.klass.payload.planned_days)
                       if c.klass.payload.kind.value == "inclusive" else Reason.of("class_approval_missing"))
            links.append(Link("enrolment", MISSING, event_ids(c.enrolled, c.klass), waiting))
        else:
            links.append(Link("enrolment", BROKEN, event_ids(c.enrolled, c.klass, c.approval),
                              Reason.of("class_not_approved", c.approval.payload.reason or "-")))
    else:
        note = None
        if c.klass.payload.days_reason and c.approval is not None:  # S1: outside 3–10 days, approved with a reason
            note = (f"计划 {c.klass.payload.planned_days} 天（超出 3–10 天）经局方审批："
                    f"{c.klass.payload.days_reason}（{c.approval.payload.decided_by}）")
        links.append(Link("enrolment", OK, event_ids(c.enrolled, c.klass, c.approval), note=note))
    department = department_funded(c)
    if department is not None:
        # S9: an industry department's own training for its key groups, paid from its own funds — recorded like any
        # training, but outside these subsidies: the reason voids every claim of the chain (VOIDING; 0.00,
        # `person.py`), whatever arrived first, and the chain says why.
        links.append(Link("funding", BROKEN, event_ids(c.klass), Reason.of("industry_department_funded"),
                          note=f"{department}使用行业专项经费开展的重点群体培训（只登记，不申领本补贴）"))

    table = chain_table(c, enrolment_id, facts, policies, pinned)

    # 4. real-name (P1)
    links.append(realname_link(enrolment_id, class_id, facts, table))

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
            links.append(Link("completion", BROKEN, event_ids(c.completed), Reason.of("no_attended_days"), note))
        elif c.voucher is not None and day_start(p.completed_on) >= c.voucher.payload.valid_until:
            links.append(Link("completion", BROKEN, event_ids(c.completed), Reason.of("completed_outside_validity"), note))
        elif c.bound is not None and p.completed_on < local_date(c.bound.payload.bound_at):
            # no back-dated training (the training service refuses such days; this holds the chain to it too)
            links.append(Link("completion", BROKEN, event_ids(c.completed, c.bound), Reason.of("completed_before_binding"),
                              note))
        elif c.voucher is not None and c.voucher.payload.kind.value == "entrepreneurship" and not p.passed:
            links.append(Link("completion", BROKEN, event_ids(c.completed), Reason.of("not_passed"), note))
        else:
            links.append(Link("completion", OK, event_ids(c.completed), note=note))

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
            links.append(Link("certificate", OK, event_ids(c.certificate)))
        elif matching:
            gone = min(matching, key=lambda f: (f.payload.issued_on, f.key))
            links.append(Link("certificate", BROKEN, event_ids(gone, revoked[gone.key]),
                              Reason.of("certificate_revoked", revoked[gone.key].payload.reason)))
        else:
            links.append(Link("certificate", MISSING, reason=Reason.of("certificate_missing")))

    # 7. class outcome: employment rate for order classes (S2), pass and licence rates for S6.
    kind = c.voucher.payload.kind.value if c.voucher else (c.klass.payload.kind.value if c.klass else None)
    outbound = bool(c.klass and c.klass.payload.outbound and table is not None and table.e8.paid_as_inclusive)
    if kind == "order" and not outbound:
        rate = employment_rate(c.outcome)
        if rate is None:
            links.append(Link("class_outcome", MISSING, event_ids(c.outcome), Reason.of("outcome_missing")))
        else:
            links.append(Link("class_outcome", OK, event_ids(c.outcome), note=f"班级就业率 {pct(rate)}"))
    elif kind == "entrepreneurship":
        rate = pass_rate(c.outcome)
        if rate is None:
            links.append(Link("class_outcome", MISSING, event_ids(c.outcome), Reason.of("outcome_missing")))
        elif table is not None and rate < Fraction(table.s6.pass_rate_gate):
            links.append(Link("class_outcome", BROKEN, event_ids(c.outcome),
                              Reason.of("pass_rate_below", pct(rate), pct(Fraction(table.s6.pass_rate_gate)))))
        else:
            licence = licence_rate(c.outcome)
            note = f"班级合格率 {pct(rate)}；营业执照率 {pct(licence) if licence is not None else '—'}"
            links.append(Link("class_outcome", OK, event_ids(c.outcome), note=note))
    else:
        links.append(Link("class_outcome", NOT_REQUIRED))

    # 8. categories on evidence (issue 13): E1 / E2 for the training subsidy of the kinds that rest on one, E3 for
    # the allowance
    links.extend(link for link in (category_link(c, facts), allowance_category_link(c, facts)) if link is not None)
    return c
