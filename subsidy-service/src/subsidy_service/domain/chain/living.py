"""The S4 living allowance of one chain (E3 persons), paid to the worker."""

from __future__ import annotations

from typing import Mapping

from subsidy_service.domain.chain.contests import lead_claim
from subsidy_service.domain.chain.results import ClaimDraft, claim_key
from subsidy_service.domain.chain.states import state_from
from subsidy_service.domain.chain.training import paid_days
from subsidy_service.domain.chain.vocabulary import LIVING, MAIN, ClaimState, Reason
from subsidy_service.domain.chain.working import WorkingChain, institution_of
from subsidy_service.domain.policy import Policies
from subsidy_service.domain.rules import ZERO, Line, s4_living_allowance


def living_allowance(
    person_key: str,
    c: WorkingChain,
    policies: Policies,
    pinned: Mapping[str, tuple[int, int]],
    claims: Mapping[str, ClaimDraft],
) -> ClaimDraft | None:
    """S4 for E3 persons only (declared at issue or confirmed since: the chain then has the E3 link), 15 yuan per
    attended day, paid to the worker."""
    if c.voucher is None or not any(link.name == "allowance_category" for link in c.links):
        return None
    v = c.voucher.payload
    key = claim_key(LIVING, c.voucher_id)
    table = policies.resolve(v.policy_year, pinned.get(key), c.completed.payload.completed_on if c.completed else None)
    # The mission's chain: a valid voucher, a completion and a certificate — unless the table relaxes it, which
    # the claim then records with the version and who published it. The class outcome (employment or pass rate)
    # is the institution's result and does not gate the worker's allowance for the days trained.
    needed = {"voucher", "binding", "enrolment", "funding", "realname", "completion", "certificate",
              "allowance_category"}
    relaxed: tuple[Line, ...] = ()
    if table is not None and not table.s4.requires_certificate:
        needed.discard("certificate")
        relaxed = (Line("S4", f"S4: {table.policy_year} 年政策表第 {table.version} 版"
                              f"（{table.changed_by or '未记录'} 发布）不要求证书", ZERO),)
    state, reason, missing = state_from([link for link in c.links if link.name in needed])
    if table is None:
        missing = missing + (Reason.of("no_policy_table"),)
        if state == ClaimState.ELIGIBLE:
            state, reason = ClaimState.WAITING, Reason.of("no_policy_table")
    training = lead_claim(claims, c.voucher_id)
    if state in (ClaimState.ELIGIBLE, ClaimState.WAITING) and training is not None and training.reason is not None and training.reason.code in ("e4_limit", "review_rejected"):
        state, reason, missing = ClaimState.REJECTED, Reason.of("training_claim_rejected", training.reason.code), ()
    computed = s4_living_allowance(table, paid_days(c)) if (table and c.completed) else None
    return ClaimDraft(
        claim_type=LIVING,
        subject_id=c.voucher_id,
        part=MAIN,
        person_key=person_key,
        voucher_id=c.voucher_id,
        certificate_id=None,
        institution_id=institution_of(c),
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
