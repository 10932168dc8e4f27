"""The S8 evaluation claims of one person, one per certificate: traced to a validly used voucher (E6) or a free
student evaluation (E7); paid to the evaluation institution."""

from __future__ import annotations

from typing import Mapping

from subsidy_service.domain.chain.results import ClaimDraft, claim_key
from subsidy_service.domain.chain.states import reviewed
from subsidy_service.domain.chain.vocabulary import BROKEN, EVALUATION, MAIN, OK, USE_LINKS, ClaimState, Reason
from subsidy_service.domain.chain.working import WorkingChain, department_funded
from subsidy_service.domain.facts import FactSet
from subsidy_service.domain.policy import Policies
from subsidy_service.domain.rules import ZERO, Line, s8_evaluation, s8_key


def evaluation_claims(
    person_key: str,
    facts: FactSet,
    chains: Mapping[str, WorkingChain],
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
        # S9: a chain through a class an industry department pays from its own funds traces no evaluation subsidy;
        # a certificate only such chains lead to earns none (void, like the training claims of those chains)
        department = [vid for vid in leading if department_funded(chains[vid]) is not None]
        leading = [vid for vid in leading if vid not in department]
        live = [vid for vid in leading if chains[vid].revoked is None]
        used = [vid for vid in live if _validly_used(chains[vid])]
        voucher_id = used[0] if used else None
        missing: tuple[Reason, ...] = ()
        if cert.key in revoked:
            state, reason = ClaimState.VOID, Reason.of("certificate_revoked", revoked[cert.key].payload.reason)
        elif department and not leading:
            voucher_id = department[0]
            state, reason = ClaimState.VOID, Reason.of("industry_department_funded")
        elif leading and not live and not p.free_student_evaluation:
            # the only vouchers leading to this certificate were revoked: their claims are void
            gone = chains[leading[0]].revoked
            state, reason = ClaimState.VOID, Reason.of("voucher_revoked", gone.payload.reason.value)
        elif table is None:
            state, reason = ClaimState.WAITING, Reason.of("no_policy_table")
            missing = (reason,)
        elif computed is None:
            state, reason = ClaimState.REJECTED, Reason.of("s8_no_amount")
        elif voucher_id is None and not p.free_student_evaluation:
            broken = [_misuse(chains[vid]) for vid in live]
            if broken and all(broken):
                state, reason = ClaimState.REJECTED, broken[0]
            else:
                state, reason = ClaimState.WAITING, Reason.of("evaluation_no_voucher")
                missing = (reason,)
        else:
            state, reason = ClaimState.ELIGIBLE, None
        evaluator = facts.get("evaluation_institution", p.institution_id)
        if state == ClaimState.ELIGIBLE and evaluator is not None and evaluator.payload.status in ("suspended", "revoked"):
            state, reason = reviewed(key, facts, Reason.of("evaluation_institution_suspended"))
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


def _validly_used(c: WorkingChain) -> bool:
    """E6 for an evaluation: the voucher was bound while valid to an enrolment in a filed class of its kind (and
    approved, for an order class). Real-name and completion are the training claim's links, not the evaluation's."""
    return all(link.status == OK for link in c.links if link.name in USE_LINKS)


def _misuse(c: WorkingChain) -> Reason | None:
    """Why the voucher was not validly used for its class (its broken binding or enrolment link); None while no
    such link is broken (a missing one may still arrive)."""
    return next((link.reason for link in c.links if link.name in USE_LINKS and link.status == BROKEN), None)
