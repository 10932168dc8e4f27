"""Registering candidates by resident ID number, one at a time or a roster at once (E7, I3).

Both go through `register_all`, so a roster row obeys exactly the single endpoint's rules. It is
set-based: one lookup of the evaluation's and the persons' candidate rows, one of the person
projection, and one multi-row INSERT, whatever the number of rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.inserts import insert_or_skip
from skillkit.pii import blind_index, cipher_for, normalise_resident_id, person_key
from skillkit.problems import Problem
from skillkit.roster import read_roster

from certification_service.adapters.models import Candidate, Evaluation, KnownWorker
from certification_service.config import CertificationSettings
from certification_service.domain.evaluations import check_free_student_evaluation, check_graduation_year
from certification_service.handlers.inputs import CandidateIn
from certification_service.domain.uploads import UploadReport, validated, year, yes_no
from certification_service.handlers.evaluations import writable_evaluation

COLUMNS = {
    "name": "姓名",
    "id_number": ("身份证号", "身份证号码"),
    "free_student_evaluation": ("中职免费评价", "免费评价"),  # E7, optional
    "graduation_year": ("毕业年份", "毕业年度"),
}

ALREADY_REGISTERED = "this person is already a candidate of this evaluation"

# Built once (a roster upload runs each of them): the persons' candidate rows that matter here, and the persons
# the projection knows.
_EXISTING = select(Candidate.person_key, Candidate.evaluation_id, Candidate.free_graduation_year).where(
    Candidate.person_key.in_(bindparam("keys", expanding=True)),
    or_(Candidate.evaluation_id == bindparam("evaluation_id"), Candidate.free_graduation_year.is_not(None)),
)
_WORKERS = select(KnownWorker).where(KnownWorker.person_key.in_(bindparam("keys", expanding=True)))


@dataclass(frozen=True)
class Entry:
    """One candidate to register: the body and its normalised resident ID number."""

    data: CandidateIn
    number: str


def entry_of(data: CandidateIn) -> Entry:
    return Entry(data, normalise_resident_id(data.id_number, local_date(utcnow())))


async def register_candidate(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation_id: uuid.UUID,
    data: CandidateIn,
) -> Candidate:
    """Registers one candidate, matched to a known worker through the person key (unknown persons are flagged)."""
    entry = entry_of(data)
    evaluation = await writable_evaluation(session, principal, evaluation_id)
    [outcome] = await register_all(session, settings, principal, evaluation, [entry])
    if isinstance(outcome, Problem):
        raise outcome
    return outcome


async def register_roster(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation: Evaluation,
    filename: str,
    content: bytes,
) -> UploadReport[tuple[Candidate, str]]:
    """A roster (CSV or XLSX): good rows are registered, each bad row is reported with its line and code.
    Each registered candidate comes with its normalised number, so the response masks it without decrypting."""
    rows = await read_roster(filename, content, COLUMNS, required={"name", "id_number"})
    report: UploadReport[tuple[Candidate, str]] = UploadReport()
    lines, entries = [], []
    for row in rows:
        try:
            free = yes_no(row.values.get("free_student_evaluation"), "free student evaluation", "free_evaluation_invalid")
            data = validated(
                CandidateIn,
                {
                    "name": row.values.get("name", ""),
                    "id_number": row.values.get("id_number", ""),
                    "free_student_evaluation": bool(free),
                    "graduation_year": year(row.values.get("graduation_year", ""), "graduation year", "graduation_year_invalid"),
                },
            )
            entries.append(entry_of(data))
            lines.append(row.line)
        except Problem as problem:
            report.reject(row.line, problem)
    outcomes = await register_all(session, settings, principal, evaluation, entries)
    for line, entry, outcome in zip(lines, entries, outcomes):
        if isinstance(outcome, Problem):
            report.reject(line, outcome)
        else:
            report.applied.append((outcome, entry.number))
    report.row_errors.sort(key=lambda error: error.line)
    return report


async def register_all(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation: Evaluation,
    entries: list[Entry],
) -> list[Candidate | Problem]:
    """The candidate or the refusal of each entry, in order; an entry is checked against the database and
    against the entries before it (the same person twice in one roster: the second is already registered)."""
    keys = {e.number: person_key(e.number, settings.person_key_secret) for e in entries}
    taken, free_used = await _existing(session, evaluation.id, set(keys.values()))
    workers = await _workers(session, set(keys.values()))
    this_year = local_date(utcnow()).year
    cipher = cipher_for(settings)
    now = utcnow()
    outcomes: list[Candidate | Problem] = []
    for entry in entries:
        key = keys[entry.number]
        try:
            if key in taken:
                raise Problem(409, "candidate_already_registered", ALREADY_REGISTERED)
            worker = workers.get(key)
            graduation_year = entry.data.graduation_year
            if graduation_year is not None:
                check_graduation_year(graduation_year, this_year)
            free = entry.data.free_student_evaluation
            if free:
                graduation_year = check_free_student_evaluation(
                    evaluation.certificate_type,
                    worker.categories if worker else None,
                    graduation_year,
                    (key, graduation_year) in free_used,
                )
                free_used.add((key, graduation_year))
        except Problem as problem:
            outcomes.append(problem)
            continue
        taken.add(key)
        outcomes.append(
            Candidate(
                id=uuid.uuid4(),
                evaluation_id=evaluation.id,
                name=entry.data.name.strip(),
                id_number_encrypted=cipher.encrypt(entry.number),
                id_blind_index=blind_index(entry.number, settings.blind_index_secret),
                person_key=key,
                unknown_person=not (worker is not None and worker.registered),
                free_student_evaluation=free,
                graduation_year=graduation_year,
                free_graduation_year=graduation_year if free else None,
                registered_by=principal.subject,
                # A microsecond apart: listings (ordered by created_at, id) keep the roster's order.
                created_at=now + timedelta(microseconds=len(outcomes)),
            )
        )
    new = [c for c in outcomes if isinstance(c, Candidate)]
    columns = Candidate.__table__.columns.keys()
    # ON CONFLICT DO NOTHING: a registration a concurrent request slipped past the checks above is refused
    # for its row only (the unique constraints of one evaluation + person and of E7's person + year).
    inserted = set((await insert_or_skip(session, Candidate.__table__, [{c: getattr(n, c) for c in columns} for n in new],
                                         returning=("id",))).scalars()) if new else set()
    return [
        o
        if isinstance(o, Problem) or o.id in inserted
        else Problem(
            409, "candidate_conflict", "this person was registered concurrently (same evaluation, or E7 free evaluation)"
        )
        for o in outcomes
    ]


async def _existing(
    session: AsyncSession, evaluation_id: uuid.UUID, keys: set[str]
) -> tuple[set[str], set[tuple[str, int]]]:
    """The persons already candidates of this evaluation, and the (person, year) E7 free evaluations used."""
    if not keys:
        return set(), set()
    rows = await session.execute(_EXISTING, {"keys": list(keys), "evaluation_id": evaluation_id})
    taken, free_used = set(), set()
    for key, row_evaluation, free_year in rows:
        if row_evaluation == evaluation_id:
            taken.add(key)
        if free_year is not None:
            free_used.add((key, free_year))
    return taken, free_used


async def _workers(session: AsyncSession, keys: set[str]) -> dict[str, KnownWorker]:
    if not keys:
        return {}
    return {w.person_key: w for w in await session.scalars(_WORKERS, {"keys": list(keys)})}
