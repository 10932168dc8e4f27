"""The real-name link (P1): the province real-name system's word on the trainee's records."""

from __future__ import annotations

from subsidy_service.domain.chain.vocabulary import BROKEN, MISSING, NOT_REQUIRED, OK, Link, Reason
from subsidy_service.domain.chain.working import event_ids
from subsidy_service.domain.facts import NOTICE_TYPE, Fact, FactSet
from subsidy_service.domain.policy import PolicyTable


def realname_link(enrolment_id: str | None, class_id: str | None, facts: FactSet, table: PolicyTable | None) -> Link:
    """Per record type the newest word on the line — the answer to its newest version (a correction is the
    record's next version), or the province's later notice on that version; a person found trained elsewhere
    after the fact voids the claim, any rejection breaks, a withdrawn record waits for its corrected version, the
    trainee record's acceptance completes the link; without a verdict the link waits when the table requires it."""
    answers = [
        f for f in facts.of("realname")
        if (enrolment_id is not None and f.payload.enrolment_id == enrolment_id)
        or (class_id is not None and f.payload.enrolment_id is None and f.payload.class_id == class_id)
    ]
    newest: dict[tuple[str, str | None], Fact] = {}
    for answer in answers:
        slot = (answer.payload.record_type, answer.payload.enrolment_id)
        if slot not in newest or _rank(answer) > _rank(newest[slot]):
            newest[slot] = answer
    words = {slot: _word(f) for slot, f in newest.items()}
    of_word = {word: [newest[slot] for slot, w in words.items() if w == word]
               for word in ("trained_elsewhere", "rejected", "withdrawn")}
    trainee_ok = [a for slot, a in newest.items() if slot[0] == "trainee" and words[slot] == "accepted"]
    required = table.realname_required if table is not None else True
    if of_word["trained_elsewhere"]:
        worst = max(of_word["trained_elsewhere"], key=Fact.order)
        where = worst.payload.other_county_code or worst.payload.detail or "-"
        return Link("realname", BROKEN, event_ids(*of_word["trained_elsewhere"]),
                    Reason.of("realname_trained_elsewhere", where))
    if of_word["rejected"]:
        rejected_answers = of_word["rejected"]
        worst = max(rejected_answers, key=Fact.order)
        why = worst.payload.reason.value if worst.payload.reason else (worst.payload.detail or "-")
        return Link("realname", BROKEN, event_ids(*rejected_answers), Reason.of("realname_rejected", why))
    if of_word["withdrawn"]:
        worst = max(of_word["withdrawn"], key=Fact.order)
        return Link("realname", MISSING, event_ids(*newest.values()),
                    Reason.of("realname_withdrawn", worst.payload.detail or "-"))
    if trainee_ok:
        return Link("realname", OK, event_ids(*trainee_ok))
    if not required:
        return Link("realname", NOT_REQUIRED, event_ids(*newest.values()))
    return Link("realname", MISSING, event_ids(*newest.values()), Reason.of("realname_missing"))


def _rank(fact: Fact) -> tuple:
    """P1: which word on a line stands — the higher record version first (the institution's correction); on one
    version the province's notice over its answer (the province re-answering a version it has since withdrawn
    does not undo the withdrawal; only a corrected version does); then the event time and id."""
    return (fact.payload.version or 1, fact.type == NOTICE_TYPE, fact.order())


def _word(fact: Fact) -> str:
    """accepted | rejected (an answer) or trained_elsewhere | withdrawn (a notice of the province's own)."""
    if fact.type == NOTICE_TYPE:
        return fact.payload.notice.value
    return fact.payload.verdict.value
