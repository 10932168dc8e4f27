"""Bulk issue from an uploaded roster: every bad row is reported with its line number and why;
the good rows are registered (when new) and issued.

Set-based, in a fixed number of statements whatever the roster's length: the rows are checked in Python
(shape, ID number, the same person twice in the file, eligibility), the existing workers are found in one
SELECT by blind index, the new workers and the vouchers are written by one multi-row INSERT each, and the
events by one outbox INSERT. E4 stays the database's: the vouchers' INSERT skips every row whose slot is taken
by a voucher issued earlier, and those lines are reported with the voucher that holds the slot. A line that
fails writes nothing, so a new worker is written only with the voucher of its line.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.contracts.vocab import VoucherKind, WorkerCategory
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.inserts import insert_or_skip
from skillkit.events import EventPayload
from skillkit.pii import birth_date_of, blind_index, normalise_resident_id
from skillkit.problems import Problem
from skillkit.roster import RosterRow, read_roster

from voucher_service.adapters.models import IssuingBatch, Worker
from voucher_service.adapters.outbox import outbox
from voucher_service.config import VoucherSettings
from voucher_service.handlers.inputs import NewWorker
from voucher_service.handlers.vouchers import (
    E4_KEY,
    VOUCHERS,
    E4Conflict,
    eligible_rule,
    new_voucher_values,
    working_age_or_problem,
    voucher_issued,
)
from voucher_service.handlers.categories import registration_reviews, reviewed_event, write_reviews
from voucher_service.handlers.workers import new_worker_values, worker_registered

ROSTER_COLUMNS = {
    "name": "姓名",
    "id_number": "身份证号",
    "mobile": "手机号",
    "township": "乡镇",
    "categories": "人员类别",
    # issue 13: with an evidence reference, a worker the roster registers has their categories confirmed
    "evidence_reference": ("证明材料", "证明编号"),
    "licence_issued_on": ("发照日期", "营业执照签发日期"),  # E2, founders
}
REQUIRED_COLUMNS = {"name", "id_number", "mobile", "township", "categories"}
CATEGORY_SEPARATORS = (";", "；", "|", "、")
WORKERS = Worker.__table__
# Built once (every upload runs it): the workers registered under the roster's blind indexes.
_KNOWN_WORKERS = select(WORKERS.c.id, WORKERS.c.id_blind_index, WORKERS.c.person_key, WORKERS.c.categories).where(
    WORKERS.c.id_blind_index.in_(bindparam("indexes", expanding=True)))


@dataclass
class BulkResult:
    vouchers: list[SimpleNamespace] = field(default_factory=list)
    row_errors: list[dict[str, object]] = field(default_factory=list)


_Checked = tuple[RosterRow, NewWorker, str, str]  # the row, its data, the normalised number, its blind index


@dataclass
class _Line:
    """A roster line that passed the checks: its worker (existing or new with this line) and its voucher."""

    line: int
    voucher: dict[str, Any]
    categories: set[WorkerCategory]
    new_worker: dict[str, Any] | None  # the row this line registers, if the person is new
    reviews: list[dict[str, Any]]  # the new worker's categories confirmed on the line's evidence (issue 13)


def _categories(raw: str) -> list[str]:
    for sep in CATEGORY_SEPARATORS[1:]:
        raw = raw.replace(sep, CATEGORY_SEPARATORS[0])
    return [c.strip() for c in raw.split(CATEGORY_SEPARATORS[0]) if c.strip()]


def _worker_in(row: RosterRow) -> NewWorker:
    values = {code: value for code, value in row.values.items() if value}  # an empty optional cell: not given
    if "licence_issued_on" in values:
        values["licence_issued_on"] = values["licence_issued_on"][:10]  # an .xlsx date cell reads with its time
    return NewWorker.model_validate({**values, "categories": _categories(values.get("categories", ""))})


def _field_error(error: dict[str, object]) -> str:
    location = ".".join(str(p) for p in error.get("loc", ()))  # type: ignore[union-attr]
    return f"{location}: {error.get('msg')}"


async def issue_roster(
    session: AsyncSession,
    settings: VoucherSettings,
    principal: Principal,
    batch: IssuingBatch,
    filename: str,
    content: bytes,
) -> BulkResult:
    rows = await read_roster(filename, content, ROSTER_COLUMNS, required=REQUIRED_COLUMNS)
    result = BulkResult()
    now = utcnow()
    checked = _checked(rows, settings, local_date(now), result)
    existing = await _known_workers(session, {index for *_, index in checked})
    lines = _issuable(checked, existing, settings, principal, batch, now, result)
    issued = await _write(session, lines)
    await write_reviews(session, [r for line in lines if line.voucher["id"] in issued for r in line.reviews])
    await _report_e4_conflicts(session, [line for line in lines if line.voucher["id"] not in issued], result)
    events: list[tuple[EventPayload, str, str | None]] = []
    for line in lines:
        if line.voucher["id"] not in issued:
            continue
        person = line.voucher["person_key"]
        if line.new_worker is not None:
            events.append((worker_registered(line.new_worker), person, str(line.new_worker["id"])))
            events += [(reviewed_event(r, person), person, str(line.new_worker["id"])) for r in line.reviews]
        events.append((voucher_issued(line.voucher, line.categories), person, str(line.voucher["id"])))
        # The row as written, for the response; a plain object, as an ORM one costs its instrumentation for a row
        # nothing reads again. A new voucher has no enrolment, class or revocation yet.
        result.vouchers.append(SimpleNamespace(enrolment_id=None, class_id=None, revoked_reason=None, **line.voucher))
    await outbox.add_many(session, events)
    # P10: one entry per roster (the vouchers carry their batch and issuer); the file's digest names what was read.
    await record(session, principal, "batch.roster_issue", "issuing_batch", str(batch.id), after=dict(
        file=filename, file_sha256=hashlib.sha256(content).hexdigest(), issued=len(result.vouchers),
        rejected=len(result.row_errors)))
    result.row_errors.sort(key=lambda error: error["line"])  # type: ignore[arg-type, return-value]
    return result


def _checked(rows: list[RosterRow], settings: VoucherSettings, today: date, result: BulkResult) -> list[_Checked]:
    """The rows whose fields and ID number pass, each number once; the others become line errors."""
    checked: list[_Checked] = []
    seen_ids: dict[str, int] = {}
    for row in rows:
        try:
            data = _worker_in(row)
        except ValidationError as exc:
            result.row_errors.append({"line": row.line, "errors": [_field_error(e) for e in exc.errors()]})
            continue
        try:
            number = normalise_resident_id(data.id_number, today)
        except Problem as exc:
            result.row_errors.append({"line": row.line, "errors": [f"{exc.code}: {exc.detail}"]})
            continue
        # Keyed on the normalised number: the same person typed in full-width digits or with a lower-case
        # x is still one person, and for the kinds E4 does not limit nothing else would stop a second voucher.
        duplicate_of = seen_ids.get(number)
        if duplicate_of is not None:
            result.row_errors.append({"line": row.line, "errors": [f"same person as line {duplicate_of}"]})
            continue
        seen_ids[number] = row.line
        checked.append((row, data, number, blind_index(number, settings.blind_index_secret)))
    return checked


def _issuable(
    checked: list[_Checked],
    existing: dict[str, Row[Any]],
    settings: VoucherSettings,
    principal: Principal,
    batch: IssuingBatch,
    now: datetime,
    result: BulkResult,
) -> list[_Line]:
    """Each checked row's worker (registered, or new with this line) and voucher, if the worker's categories
    may hold the batch's kind (E1, E2, S5, P2: those of the worker as registered); the others become errors."""
    kind = VoucherKind(batch.kind)
    lines: list[_Line] = []
    for row, data, number, index in checked:  # each number once (`_checked`)
        known = existing.get(index)
        new_worker = None
        reviews: list[dict[str, Any]] = []
        if known is not None:
            worker_id, person, categories = known.id, known.person_key, known.categories
        else:
            new_worker = new_worker_values(settings, principal, data, number, index, self_service=False, now=now)
            worker_id, person, categories = new_worker["id"], new_worker["person_key"], new_worker["categories"]
        held = {WorkerCategory(c) for c in categories}
        try:
            if new_worker is not None:  # a registered worker keeps their categories as registered
                reviews = registration_reviews(local_date(now), new_worker, data.evidence_reference,
                                               data.licence_issued_on)
            rule = eligible_rule(kind, held)
            working_age_or_problem(birth_date_of(number), local_date(now), settings.working_age)
        except Problem as exc:
            result.row_errors.append({"line": row.line, "errors": [f"{exc.code}: {exc.detail}"]})
            continue
        voucher = new_voucher_values(worker_id, person, kind, rule, channel="bulk", issued_by=principal.subject,
                                     validity_days=batch.validity_days, batch=batch, now=now)
        lines.append(_Line(row.line, voucher, held, new_worker, reviews))
    return lines


async def _known_workers(session: AsyncSession, indexes: set[str]) -> dict[str, Row[Any]]:
    """The workers already registered under these blind indexes, in one SELECT."""
    if not indexes:
        return {}
    rows = await session.execute(_KNOWN_WORKERS, {"indexes": list(indexes)})
    return {r.id_blind_index: r for r in rows}


async def _write(session: AsyncSession, lines: list[_Line]) -> set[uuid.UUID]:
    """Writes the new workers, then the vouchers E4 lets in; returns the ids of the vouchers written."""
    if not lines:
        return set()
    # Rows go in the order of the unique key they lock (a stable sort keeps line order within a person), so
    # two uploads naming the same people wait for each other instead of deadlocking.
    workers = sorted((line.new_worker for line in lines if line.new_worker is not None),
                     key=lambda worker: worker["id_blind_index"])
    if workers:
        written = await insert_or_skip(session, WORKERS, workers, ["id_blind_index"], returning=("id",))
        if len(written.all()) != len(workers):
            # Another request registered one of these people after the lookup above: nothing of this
            # upload is kept (the command rolls back) and the same file can simply be sent again.
            raise Problem(409, "roster_registered_concurrently",
                          "a person on this roster was registered by another request meanwhile; upload it again")
    vouchers = sorted((line.voucher for line in lines), key=lambda voucher: voucher["person_key"])
    issued = set((await insert_or_skip(session, VOUCHERS, vouchers, E4_KEY, returning=("id",))).scalars())
    for line in lines:
        # A new person's first line always gets its slot (no voucher can hold it yet): anything else would
        # leave a worker without the voucher of its line.
        if line.new_worker is not None and line.voucher["id"] not in issued:
            raise RuntimeError(f"line {line.line}: E4 refused the voucher of a newly registered worker")
    return issued


async def _report_e4_conflicts(session: AsyncSession, refused: list[_Line], result: BulkResult) -> None:
    """E4 (one inclusive and one project-or-order voucher per person and year): each refused line is
    reported with the voucher that holds its slot, found for all of them in one SELECT."""
    if not refused:
        return
    first = refused[0].voucher  # one batch: one kind, so one slot, and one policy year
    holders = {
        v.person_key: v
        for v in await session.execute(
            select(VOUCHERS.c.id, VOUCHERS.c.code, VOUCHERS.c.kind, VOUCHERS.c.policy_year, VOUCHERS.c.person_key)
            .where(VOUCHERS.c.person_key.in_({line.voucher["person_key"] for line in refused}),
                   VOUCHERS.c.policy_year == first["policy_year"], VOUCHERS.c.quota_slot == first["quota_slot"])
        )
    }
    for line in refused:
        conflict = E4Conflict(holders[line.voucher["person_key"]])
        result.row_errors.append({"line": line.line, "errors": [f"{conflict.code}: {conflict.detail}"]})
