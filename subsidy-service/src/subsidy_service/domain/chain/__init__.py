"""The chain (ARCHITECTURE.md "The chain") and the claims it yields — one pure function, `evaluate_person`.

`evaluate_person(person_key, facts, policies)` re-evaluates every chain of one person from the facts alone and
returns the chains (links, event ids, what is missing or broke, in Chinese and English) and the claims (amount,
lines citing rules, state). Because it looks only at the set of facts (each fact keyed by its natural id, the
newest version winning), any arrival order, delay or duplication of the events gives the same result.

Claim states (`ClaimState`) computed here: waiting (chain incomplete) → eligible; held (I3, awaiting the bureau's review);
rejected / void with a reason. Later states (declared … paid) are set by the payment flow; such claims are
passed in as `locked` and keep their E4 / E5 slot.

One module per job: `vocabulary` (states, link names, reasons), `working` (a chain's state while evaluated),
`links`, `realname` and `categories` (the links), `rates` (a class's rates), `states` (a claim's state from its links, I3),
`training`, `living`, `evaluation` (the claims of each type), `contests` (E4 / E5), `results` (what is
returned), `person` (`evaluate_person`, which runs them in order) and `changes` (the stored claims against a new
evaluation's drafts: what to add, update, void, recompute or recover).
"""

from subsidy_service.domain.chain.changes import (
    AddClaim,
    ClaimEvent,
    OpenRecovery,
    Recompute,
    ReleaseSlots,
    UpdateClaim,
    VoidFrozen,
    claim_changes,
    evaluation_inputs,
    may_recover,
    stored_values,
)
from subsidy_service.domain.chain.person import evaluate_person
from subsidy_service.domain.chain.results import ChainView, ClaimDraft, PersonResult, claim_key
from subsidy_service.domain.chain.vocabulary import ELIGIBLE_OR_LATER, FROZEN, ClaimState, Reason

__all__ = [
    "ELIGIBLE_OR_LATER", "FROZEN", "AddClaim", "ChainView", "ClaimDraft", "ClaimEvent", "ClaimState", "OpenRecovery",
    "PersonResult", "Recompute", "Reason", "ReleaseSlots", "UpdateClaim", "VoidFrozen", "claim_changes",
    "claim_key", "evaluate_person", "evaluation_inputs", "may_recover", "stored_values",
]
