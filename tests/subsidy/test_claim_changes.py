"""The claim diff (`domain/chain/changes.py`), pure: a person's stored claims against the drafts of a new
evaluation — what is added, updated (with the event it emits), voided, recomputed or recovered — without a
database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

from subsidy_service.domain.chain import (
    AddClaim,
    ClaimState,
    ClaimEvent,
    OpenRecovery,
    Recompute,
    ReleaseSlots,
    UpdateClaim,
    VoidFrozen,
    claim_changes,
    evaluate_person,
    evaluation_inputs,
    stored_values,
)
from subsidy_service.domain.policy import Policies, default_2023

from tests.subsidy.builders import Clock, certificate_revoked, chain, fact_set, voucher_revoked

POLICIES = Policies([default_2023()])
TRAINING = "training:V1:main"
EVALUATION = "evaluation:CERT1:main"


def drafts(facts):
    return evaluate_person("P1", fact_set(facts), POLICIES).claims


def stored(draft, **changes):
    """The claims row a draft was written as (the columns the diff reads), with some columns changed."""
    row = dict(id=uuid.uuid4(), claim_type=draft.claim_type, subject_id=draft.subject_id, part=draft.part,
               recomputed_amount=None, recovery_pending=False, eligible_at=None, **stored_values(draft))
    row.update(changes)
    return SimpleNamespace(**row)


def test_new_drafts_are_added_in_key_order_and_unchanged_claims_change_nothing():
    new = drafts(chain())
    assert [c.draft.key for c in claim_changes({}, new)] == sorted(new) == [EVALUATION, TRAINING]
    assert all(isinstance(c, AddClaim) for c in claim_changes({}, new))
    old = {key: stored(draft) for key, draft in new.items()}
    assert claim_changes(old, new) == []


def test_a_revoked_voucher_voids_its_eligible_claims_releasing_their_slots_first_with_voided_events():
    clock = Clock()
    facts = chain(clock=clock)
    old = {key: stored(draft) for key, draft in drafts(facts).items()}
    assert {claim.state for claim in old.values()} == {ClaimState.ELIGIBLE}
    changes = claim_changes(old, drafts(facts + [voucher_revoked("P1", "V1", clock)]))
    assert changes[:2] == [ReleaseSlots(old[TRAINING]), ReleaseSlots(old[EVALUATION])]  # in the stored order
    assert [(type(c), c.old, c.draft.state, c.draft.reason.code, c.event, c.values["quota_slot"], c.values["level_slot"])
            for c in changes[2:]] == [
        (UpdateClaim, old[EVALUATION], ClaimState.VOID, "voucher_revoked", ClaimEvent.VOIDED, None, None),
        (UpdateClaim, old[TRAINING], ClaimState.VOID, "voucher_revoked", ClaimEvent.VOIDED, None, None),
    ]


def test_an_eligible_claim_whose_amount_changed_is_eligible_again():
    new = drafts(chain(days=5))
    old = {key: stored(draft) for key, draft in new.items()}
    old[TRAINING] = stored(new[TRAINING], amount=Decimal("1.00"))
    (change,) = claim_changes(old, new)
    assert (change.old, change.event, change.values["amount"]) == (old[TRAINING], ClaimEvent.ELIGIBLE, Decimal("500.00"))


def test_a_waiting_claim_that_changes_but_stays_waiting_emits_nothing():
    new = drafts(chain(days=None))
    assert new[TRAINING].state == ClaimState.WAITING
    old = {key: stored(draft) for key, draft in new.items()}
    old[TRAINING] = stored(new[TRAINING], reason_en="an older text")
    (change,) = claim_changes(old, new)
    assert (change.old, change.event) == (old[TRAINING], None)


def test_a_claim_the_facts_no_longer_yield_is_voided_as_superseded():
    new = drafts(chain())
    old = {key: stored(draft) for key, draft in new.items()}
    gone = stored(new[TRAINING], part="S3-1")
    old["training:V1:S3-1"] = gone
    (change,) = claim_changes(old, new)
    assert isinstance(change, UpdateClaim) and change.old is gone
    assert (change.draft.state, change.draft.reason.code, change.event) == (ClaimState.VOID, "claim_superseded",
                                                                            ClaimEvent.VOIDED)
    assert change.draft.amount == gone.amount and change.draft.lines == new[TRAINING].lines


def test_E4_a_slot_changing_hands_is_released_before_any_claim_is_written():
    new = drafts(chain())
    old = {key: stored(draft) for key, draft in new.items()}
    old[TRAINING] = stored(new[TRAINING], quota_slot="project_or_order")
    changes = claim_changes(old, new)
    assert isinstance(changes[0], ReleaseSlots) and changes[0].old is old[TRAINING]
    assert isinstance(changes[1], UpdateClaim) and changes[1].values["quota_slot"] == "inclusive"
    assert changes[1].event is None  # eligible before and after, same amount


def test_P4_frozen_claims_keep_their_amount_and_a_declared_one_records_the_new_amount_beside_it():
    new = drafts(chain(days=5))
    for state in (ClaimState.DECLARED, ClaimState.VERIFIED, ClaimState.APPROVED):
        old = {key: stored(draft, state=state) for key, draft in new.items()}
        old[TRAINING] = stored(new[TRAINING], state=state, amount=Decimal("300.00"))
        assert claim_changes(old, new) == [Recompute(old[TRAINING], Decimal("500.00"))]
        old[TRAINING].recomputed_amount = Decimal("500.00")
        assert claim_changes(old, new) == []
    for state in (ClaimState.PAID, ClaimState.REFUSED, ClaimState.EXPIRED):
        old = {key: stored(draft, state=state, amount=Decimal("300.00")) for key, draft in new.items()}
        assert claim_changes(old, new) == []


def test_a_declared_claim_is_voided_and_a_paid_one_recovered_once():
    clock = Clock()
    facts = chain(clock=clock)
    new = drafts(facts + [certificate_revoked("P1", "CERT1", clock)])
    assert new[EVALUATION].state == ClaimState.VOID
    before = drafts(facts)
    declared = {EVALUATION: stored(before[EVALUATION], state=ClaimState.DECLARED)}
    assert claim_changes(declared, {EVALUATION: new[EVALUATION]}) == [VoidFrozen(declared[EVALUATION],
                                                                                 new[EVALUATION])]
    paid = {EVALUATION: stored(before[EVALUATION], state=ClaimState.PAID)}
    assert claim_changes(paid, {EVALUATION: new[EVALUATION]}) == [OpenRecovery(paid[EVALUATION], new[EVALUATION])]
    assert claim_changes(paid, {EVALUATION: new[EVALUATION]}, recovered={paid[EVALUATION].id}) == []
    paid[EVALUATION].recovery_pending = True
    assert claim_changes(paid, {EVALUATION: new[EVALUATION]}) == []


def test_E4_E5_frozen_claims_are_locked_and_eligible_or_frozen_ones_pinned_to_their_table_version():
    new = drafts(chain(days=None))
    old = {
        TRAINING: stored(replace(new[TRAINING], state=ClaimState.ELIGIBLE, table_year=2023, table_version=2)),
        EVALUATION: stored(replace(new[EVALUATION], table_year=2023, table_version=1), state=ClaimState.PAID),
        "training:V2:main": stored(replace(new[TRAINING], subject_id="V2", table_year=2023, table_version=1),
                                   state=ClaimState.WAITING),
    }
    locked, pinned = evaluation_inputs(old)
    assert locked == {EVALUATION}
    assert pinned == {TRAINING: (2023, 2), EVALUATION: (2023, 1)}
