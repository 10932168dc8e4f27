"""Facts: what the subsidy service has learned from the other services' events, keyed by natural ids.

A fact is stored once per natural key (voucher id, enrolment id, class id, certificate id, submission id …).
Where a later event legitimately restates a fact (a class outcome re-reported, a corrected completion),
the newer event — by event time, then event id — wins, whatever the arrival order: an older event never
overwrites a newer one. Duplicates (same event id) change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict

from skillkit.events import Envelope, registry


class ClaimReview(BaseModel):
    """I3: the bureau's review of a claim on work an institution delivered before it was suspended."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    claim_key: str
    approved: bool
    reason: str | None = None
    reviewed_by: str


REVIEW_TYPE = "subsidy.claim_reviewed"

# event type -> (fact kind, the payload fields that form the natural key)
FACT_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "worker.registered.v1": ("worker", ("person_key",)),
    "worker.account_linked.v1": ("account", ("person_key", "account_subject")),
    "voucher.issued.v1": ("voucher", ("voucher_id",)),
    "voucher.bound.v1": ("bound", ("voucher_id", "enrolment_id")),
    "voucher.binding_rejected.v1": ("binding_rejected", ("voucher_id", "enrolment_id")),
    "voucher.expired.v1": ("expired", ("voucher_id",)),
    "voucher.revoked.v1": ("revoked", ("voucher_id",)),
    "institution.suspended.v1": ("suspended", ("institution_id",)),
    "class.opened.v1": ("class", ("class_id",)),
    "class.approved.v1": ("class_approval", ("class_id",)),
    "class.outcome_reported.v1": ("class_outcome", ("class_id",)),
    "training.enrolled.v1": ("enrolled", ("enrolment_id",)),
    "training.enrolment_rejected.v1": ("enrolment_rejected", ("enrolment_id",)),
    "training.completed.v1": ("completed", ("enrolment_id",)),
    "training.dropped.v1": ("dropped", ("enrolment_id",)),
    "province.realname.answered.v1": ("realname", ("submission_id",)),
    "certificate.issued.v1": ("certificate", ("certificate_id",)),
    "certificate.revoked.v1": ("certificate_revoked", ("certificate_id",)),
    "evaluation_institution.filed.v1": ("evaluation_institution", ("institution_id",)),
    REVIEW_TYPE: ("review", ("claim_key",)),
}

CONSUMED_TYPES = tuple(t for t in FACT_KEYS if t != REVIEW_TYPE)


@dataclass(frozen=True)
class Fact:
    type: str  # the event type
    event_id: str
    time: datetime  # the event's time: decides which of two versions of a fact is newer
    payload: Any  # the contract's pydantic payload

    # kind and key are read many times per evaluation (FactSet slots, every lookup): computed once per fact
    @cached_property
    def kind(self) -> str:
        return FACT_KEYS[self.type][0]

    @cached_property
    def key(self) -> str:
        return "|".join(str(getattr(self.payload, f)) for f in FACT_KEYS[self.type][1])

    def field(self, name: str) -> Any:
        return getattr(self.payload, name, None)

    @property
    def person_key(self) -> str | None:
        return self.field("person_key")

    def order(self) -> tuple[datetime, str]:
        return (self.time, self.event_id)


def supersedes(new: Fact, old: Fact | None) -> bool:
    """True when `new` should replace the stored `old` version of the same fact."""
    return old is None or new.order() > old.order()


def from_envelope(envelope: Envelope) -> Fact | None:
    if envelope.type not in FACT_KEYS:
        return None
    if envelope.type == "province.realname.answered.v1" and envelope.data.record_type == "attendance":
        # Attendance days are counted by the training service; the chain's real-name link rests on the
        # trainee, class and completion records (one verdict per day would only cost re-evaluations).
        return None
    return Fact(envelope.type, envelope.id, envelope.time, envelope.data)


def payload_of(event_type: str, data: str) -> Any:
    """The payload of a stored fact from its JSON text (parsed by pydantic, without a dict in between)."""
    if event_type == REVIEW_TYPE:
        return ClaimReview.model_validate_json(data)
    event_type_info = registry.get(event_type)
    if event_type_info is None:
        raise ValueError(f"unknown fact type {event_type}")
    return event_type_info.payload.model_validate_json(data)


class FactSet:
    """The facts about one person (and the classes, institutions, province answers around them)."""

    def __init__(self, facts: Iterable[Fact] = ()) -> None:
        # kind -> key -> fact: evaluate_person asks for all facts of a kind many times per person
        self._facts: dict[str, dict[str, Fact]] = {}
        for fact in facts:
            self.add(fact)

    def add(self, fact: Fact) -> bool:
        of_kind = self._facts.setdefault(fact.kind, {})
        if supersedes(fact, of_kind.get(fact.key)):
            of_kind[fact.key] = fact
            return True
        return False

    def get(self, kind: str, key: str) -> Fact | None:
        of_kind = self._facts.get(kind)
        return of_kind.get(key) if of_kind else None

    def of(self, kind: str) -> list[Fact]:
        of_kind = self._facts.get(kind)
        return [of_kind[key] for key in sorted(of_kind)] if of_kind else []

    def all(self) -> list[Fact]:
        return [fact for kind in sorted(self._facts) for fact in self.of(kind)]
