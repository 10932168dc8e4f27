"""Facts: what the subsidy service has learned from the other services' events, keyed by natural ids.

A fact is stored once per natural key (voucher id, enrolment id, class id, certificate id, submission id …).
Where a later event legitimately restates a fact (a class outcome re-reported, a corrected completion),
the newer event — by event time, then event id — wins, whatever the arrival order: an older event never
overwrites a newer one. Duplicates (same event id) change nothing.

Most events are one fact each. The province's answer to a trainee or completion sheet (P1) is one fact per
line — a verdict on one trainee's record, exactly as a single-record answer would carry it — so the chain
sees one verdict per (record type, enrolment) whether the record went alone or on a sheet.
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

REALNAME_TYPE = "province.realname.answered.v1"
NOTICE_TYPE = "province.realname.notified.v1"


@dataclass(frozen=True)
class Scope:
    """Where persons meet a fact that names none (a class's filing, a province answer on a class or an enrolment,
    an institution's suspension or filing): the facts column both carry the scope's id in, and the scope's name
    (its lock, `adapters/locks.py`). The person facts that link a person to a scope are the kinds that list it in
    `FactKind.links`."""

    name: str
    column: str


CLASS = Scope("class", "class_id")
ENROLMENT = Scope("enrolment", "enrolment_id")
INSTITUTION = Scope("institution", "institution_id")
EVALUATOR = Scope("evaluation_institution", "institution_id")
# The ids of a person's own facts that the facts around the person are read by (every own fact's, any kind).
SCOPE_COLUMNS = ("class_id", "enrolment_id", "institution_id")
_TRAINING = (CLASS, INSTITUTION, ENROLMENT)  # an enrolment, a binding, a completion


@dataclass(frozen=True)
class FactKind:
    """One kind of fact — the one description the store, the locks and the facts around a person read.

    `events`: the event types that carry it, each with the payload fields of its natural key. `around`: for a
    fact that names no person, the scopes it is read in (each where it names the id); the narrowest of them
    (`scope_of`) is the one it locks exclusively and whose persons it re-evaluates. `links`: for a person's
    fact, the scopes it links the person to (locked shared, so that the person's facts and a class-level fact
    never miss each other)."""

    name: str
    events: dict[str, tuple[str, ...]]
    around: tuple[Scope, ...] = ()
    links: tuple[Scope, ...] = ()


FACT_KINDS: dict[str, FactKind] = {kind.name: kind for kind in (
    FactKind("worker", {"worker.registered.v1": ("person_key",)}),
    FactKind("account", {"worker.account_linked.v1": ("person_key", "account_subject")}),
    # issue 13: a category confirmed or rejected on evidence; the newest review of a (person, category) stands
    FactKind("category", {"worker.category_reviewed.v1": ("person_key", "category")}),
    FactKind("voucher", {"voucher.issued.v1": ("voucher_id",)}),
    FactKind("bound", {"voucher.bound.v1": ("voucher_id", "enrolment_id")}, links=_TRAINING),
    FactKind("binding_rejected", {"voucher.binding_rejected.v1": ("voucher_id", "enrolment_id")}),
    FactKind("expired", {"voucher.expired.v1": ("voucher_id",)}),
    FactKind("revoked", {"voucher.revoked.v1": ("voucher_id",)}),
    FactKind("suspended", {"institution.suspended.v1": ("institution_id",)}, around=(INSTITUTION,)),
    FactKind("class", {"class.opened.v1": ("class_id",)}, around=(CLASS,)),
    FactKind("class_approval", {"class.approved.v1": ("class_id",)}, around=(CLASS,)),
    FactKind("class_outcome", {"class.outcome_reported.v1": ("class_id",)}, around=(CLASS,)),
    FactKind("enrolled", {"training.enrolled.v1": ("enrolment_id",)}, links=_TRAINING),
    FactKind("enrolment_rejected", {"training.enrolment_rejected.v1": ("enrolment_id",)}),
    FactKind("completed", {"training.completed.v1": ("enrolment_id",)}, links=_TRAINING),
    FactKind("dropped", {"training.dropped.v1": ("enrolment_id",)}),
    # S3 staged settlement: an employment stage is met by the trainee's recorded employment
    FactKind("employed", {"training.employment_recorded.v1": ("enrolment_id",)}),
    FactKind("realname", {
        # a sheet answer's lines share the submission: the enrolment, when set, is part of the key (see
        # `Fact.key`); so is the version the answer names (P1 corrections): each version's answer is a fact of its
        # own, and the chain follows the newest version (an older version's answer arriving late never replaces a
        # newer one's)
        REALNAME_TYPE: ("submission_id", "enrolment_id", "version"),
        # the province's own messages on a line it answered (trained elsewhere after the fact, withdrawn): a fact
        # of the same kind, weighed with the answers on that line (see domain/chain/realname.py)
        NOTICE_TYPE: ("notice_id",),
    }, around=(CLASS, ENROLMENT)),  # a class record's answer, or one trainee's (a sheet line names its person)
    FactKind("certificate", {"certificate.issued.v1": ("certificate_id",)}, links=(EVALUATOR,)),
    FactKind("certificate_revoked", {"certificate.revoked.v1": ("certificate_id",)}),
    FactKind("evaluation_institution", {"evaluation_institution.filed.v1": ("institution_id",)}, around=(EVALUATOR,)),
    FactKind("review", {REVIEW_TYPE: ("claim_key",)}),
)}

# event type -> (fact kind, the payload fields that form the natural key)
FACT_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    event_type: (kind.name, key) for kind in FACT_KINDS.values() for event_type, key in kind.events.items()
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
        # The key fields that are set, in order: a real-name answer about one trainee (a sheet's line or a single
        # trainee record) is `submission|enrolment`, so two lines of one sheet are two facts; a class record,
        # with no enrolment, stays `submission`.
        values = (getattr(self.payload, f) for f in FACT_KEYS[self.type][1])
        return "|".join(str(v) for v in values if v is not None)

    def field(self, name: str) -> Any:
        return getattr(self.payload, name, None)

    @property
    def person_key(self) -> str | None:
        return self.field("person_key")

    def order(self) -> tuple[datetime, str]:
        return (self.time, self.event_id)


def scope_of(fact: Fact) -> tuple[Scope, Any] | None:
    """The scope a fact that names no person is in, and its id: the narrowest of its kind's scopes it names (a
    province answer on one enrolment: that enrolment; on a class record: the class). None for a person's fact."""
    kind = FACT_KINDS[fact.kind]
    if fact.person_key or not kind.around:
        return None
    named = [scope for scope in kind.around if fact.field(scope.column)]
    scope = named[-1] if named else kind.around[0]
    return scope, fact.field(scope.column)


def supersedes(new: Fact, old: Fact | None) -> bool:
    """True when `new` should replace the stored `old` version of the same fact."""
    return old is None or new.order() > old.order()


def from_envelope(envelope: Envelope) -> list[Fact]:
    """The facts an event carries: none (not consumed, an attendance answer), one, or one per sheet line."""
    if envelope.type not in FACT_KEYS:
        return []
    if envelope.type == REALNAME_TYPE and envelope.data.record_type == "attendance":
        # Attendance days are counted by the training service; the chain's real-name link rests on the
        # trainee, class and completion records (one verdict per day would only cost re-evaluations).
        return []
    return split_lines(Fact(envelope.type, envelope.id, envelope.time, envelope.data))


def split_lines(fact: Fact) -> list[Fact]:
    """P1: the province's answer to a trainee or completion sheet as one fact per line, each exactly the
    single-record answer the line stands for (the sheet's submission, record type and class; the line's
    enrolment, person, verdict, reason and detail; the event's id and time). The sheet's own verdict and its
    empty enrolment are not a fact: read as a class-level answer, an accepted trainee sheet would complete the
    real-name link of every trainee of the class, those not on the sheet included. A sheet without lines
    says nothing about anyone. Should a sheet name one enrolment twice, a rejected line of it wins (any
    rejection breaks the link), else its first line: one fact per key, whatever the order lines are read in.
    Any other fact is returned as it is."""
    lines = fact.payload.lines if fact.type == REALNAME_TYPE else None
    if lines is None:
        return [fact]
    by_enrolment: dict[str, Any] = {}
    for line in lines:
        seen = by_enrolment.get(line.enrolment_id)
        if seen is None or (line.verdict.value == "rejected" and seen.verdict.value != "rejected"):
            by_enrolment[line.enrolment_id] = line
    return [
        Fact(fact.type, fact.event_id, fact.time, fact.payload.model_copy(update={
            "enrolment_id": line.enrolment_id, "person_key": line.person_key, "verdict": line.verdict,
            "reason": line.reason, "detail": line.detail, "lines": None,
        }))
        for line in by_enrolment.values()
    ]


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
