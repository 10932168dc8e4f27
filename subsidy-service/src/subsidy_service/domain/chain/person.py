"""`evaluate_person`: every chain and claim of one person, from the facts alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from subsidy_service.domain.chain.contests import contest_e4, contest_e5, follow_first_stage, lead_claim
from subsidy_service.domain.chain.evaluation import evaluation_claims
from subsidy_service.domain.chain.links import evaluate_chain
from subsidy_service.domain.chain.living import living_allowance
from subsidy_service.domain.chain.results import ChainView, ClaimDraft, PersonResult
from subsidy_service.domain.chain.training import training_claims
from subsidy_service.domain.chain.vocabulary import BROKEN, MISSING, OK, RECORD_ONLY, ClaimState, Link, Reason
from subsidy_service.domain.chain.working import WorkingChain, event_ids, institution_of
from subsidy_service.domain.facts import FactSet
from subsidy_service.domain.policy import Policies
from subsidy_service.domain.rules import ZERO


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
    chain_links: dict[str, WorkingChain] = {}
    for voucher_id in voucher_ids:
        chain = evaluate_chain(person_key, voucher_id, facts, policies, pinned)
        chain_links[voucher_id] = chain
        for draft in training_claims(person_key, chain, facts, policies, pinned):
            result.claims[draft.key] = draft
    contest_e4(result.claims, locked)
    follow_first_stage(result.claims, locked)
    for voucher_id, chain in chain_links.items():
        living = living_allowance(person_key, chain, policies, pinned, result.claims)
        if living is not None:
            result.claims[living.key] = living
    for draft in evaluation_claims(person_key, facts, chain_links, policies, pinned):
        result.claims[draft.key] = draft
    contest_e5(result.claims, locked)
    _record_only(result.claims)
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
            institution_id=institution_of(chain),
            certificate_id=chain.certificate.key if chain.certificate else None,
            links=tuple(links),
        )
    return result


def _record_only(claims: dict[str, ClaimDraft]) -> None:
    """S9: a claim of training outside these subsidies (`RECORD_ONLY`) is void and carries no amount; it cites S9
    alone."""
    for key, draft in list(claims.items()):
        if draft.reason is not None and draft.reason.code in RECORD_ONLY:
            claims[key] = replace(draft, amount=ZERO, lines=())


def _limits_link(c: WorkingChain, claims: Mapping[str, ClaimDraft]) -> Link:
    """Link 6: E4 per year, and the institution still in good standing (I3)."""
    draft = lead_claim(claims, c.voucher_id)
    if draft is None:
        return Link("limits", MISSING if c.voucher is None else OK, reason=Reason.of("voucher_missing") if c.voucher is None else None)
    if draft.reason is not None and draft.reason.code in ("e4_limit", "review_rejected"):
        return Link("limits", BROKEN, event_ids(c.voucher), draft.reason)
    if c.suspended is not None:
        if draft.state == ClaimState.HELD:
            return Link("limits", OK, event_ids(c.suspended), Reason.of("institution_suspended"))
        return Link("limits", OK, event_ids(c.suspended), note="机构暂停前已交付的培训，局方已复核")
    return Link("limits", OK)
