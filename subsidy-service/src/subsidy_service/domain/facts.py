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

# event type -> (fact kind, the payload fields that form the natural key)
FACT_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "worker.registered.v1": ("worker", ("person_key",)),
    "worker.account_linked.v1": ("account", ("person_key", "account_subject")),
    # issue 13: a category confirmed or rejected on evidence; the newest review of a (person, category) stands
    "worker.category_reviewed.v1": ("category", ("person_key", "category")),
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
    # S3 staged settlement: an employment stage is met by the trainee's recorded employment
    "training.employment_recorded.v1": ("employed", ("enrolment_id",)),
    # a sheet answer's lines share the submission: the enrolment, when set, is part of the key (see `Fact.key`);
    # so is the version the answer names (P1 corrections): each version's answer is a fact of its own, and the
    # chain follows the newest version (an older version's answer arriving late never replaces a newer one's)
    "province.realname.answered.v1": ("realname", ("submission_id", "enrolment_id", "version")),
    # the province's own messages on a line it answered (trained elsewhere after the fact, withdrawn): a fact of
    # the same kind, weighed with the answers on that line (see domain/chain/realname.py)
    "province.realname.notified.v1": ("realname", ("notice_id",)),
    "certificate.issued.v1": ("certificate", ("certificate_id",)),
    "certificate.revoked.v1": ("certificate_revoked", ("certificate_id",)),
    "evaluation_institution.filed.v1": ("evaluation_institution", ("institution_id",)),
    REVIEW_TYPE: ("review", ("claim_key",)),
}

REALNAME_TYPE = "province.realname.answered.v1"
NOTICE_TYPE = "province.realname.notified.v1"

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
