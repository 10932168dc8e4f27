"""Eligibility on evidence (issue 13): a category the worker declared is claimed until staff confirm or reject it on
evidence, or the roster of the office that keeps its register confirms it. Each decision is a `category_reviews` row
(the newest stands), a `worker.category_reviewed.v1` event for the subsidy chain, and — for staff — an audit entry.

A confirmed category the worker had not declared is added to `workers.categories` (the register says so); a rejected
one is taken out of it, so it makes the worker eligible for no new voucher (E1, E2)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.contracts.vocab import STAFF_SOURCE, CategoryOffice, CategoryReviewStatus, WorkerCategory
from skillkit.contracts.voucher import WorkerCategoryReviewed
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.events import EventPayload
from skillkit.inserts import dialect_insert
from skillkit.pii import blind_index, normalise_resident_id
from skillkit.problems import Problem, not_found
from skillkit.roster import read_roster

from voucher_service.adapters.models import CategoryReview, Worker
from voucher_service.adapters.outbox import outbox
from voucher_service.config import VoucherSettings
from voucher_service.domain.categories import ReviewRefused, check_licence, check_office
from voucher_service.domain.worker import same_name

REVIEWS = CategoryReview.__table__
WORKERS = Worker.__table__
_REVIEW_KEY = ("worker_id", "category")
_REVIEW_VALUES = ("status", "source", "evidence_reference", "licence_issued_on", "reviewed_by", "reviewed_at")


@cache
def _upsert_reviews(dialect: str) -> Any:
    """INSERT … ON CONFLICT (worker, category) DO UPDATE: the newest review stands. Built once per dialect."""
    statement = dialect_insert(dialect, REVIEWS)
    return statement.on_conflict_do_update(index_elements=list(_REVIEW_KEY),
                                           set_={c: statement.excluded[c] for c in _REVIEW_VALUES})
_SET_CATEGORIES = update(WORKERS).where(WORKERS.c.id == bindparam("worker")).values(categories=bindparam("cats"))
_ROSTER_WORKERS = select(WORKERS.c.id, WORKERS.c.id_blind_index, WORKERS.c.name, WORKERS.c.person_key,
                         WORKERS.c.categories).where(WORKERS.c.id_blind_index.in_(bindparam("indexes", expanding=True)))
ROSTER_COLUMNS = {
    "name": "姓名",
    "id_number": "身份证号",
    "evidence_reference": ("证明编号", "证明材料"),
    "licence_issued_on": ("发照日期", "营业执照签发日期"),
}


@dataclass(frozen=True)
class CategoryState:
    category: WorkerCategory
    status: CategoryReviewStatus
    source: str | None = None
    evidence_reference: str | None = None
    licence_issued_on: date | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


@dataclass
class RosterResult:
    confirmed: int = 0
    unchanged: int = 0
    row_errors: list[dict[str, object]] = field(default_factory=list)


def refused(exc: ReviewRefused) -> Problem:
    return Problem(422, exc.code, exc.message)


def review_rows(worker_id: uuid.UUID, categories: list[WorkerCategory], status: CategoryReviewStatus, source: str,
                evidence: str, licence: date | None, by: str, at: datetime) -> list[dict[str, Any]]:
    """The `category_reviews` rows of one decision on these categories (the licence date on the founder's only)."""
    return [dict(worker_id=worker_id, category=str(c), status=str(status), source=source, evidence_reference=evidence,
                 licence_issued_on=licence if c == WorkerCategory.NEW_BUSINESS_FOUNDER else None, reviewed_by=by,
                 reviewed_at=at) for c in sorted(categories)]


def reviewed_event(row: dict[str, Any], person_key: str) -> WorkerCategoryReviewed:
    return WorkerCategoryReviewed(
        worker_id=str(row["worker_id"]), person_key=person_key, category=row["category"], status=row["status"],
        source=row["source"], evidence_reference=row["evidence_reference"], licence_issued_on=row["licence_issued_on"],
        reviewed_by=row["reviewed_by"], reviewed_at=row["reviewed_at"])


async def write_reviews(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upserts the rows in key order (two decisions on the same people wait for each other, no deadlock)."""
    if rows:
        rows = sorted(rows, key=lambda r: (str(r["worker_id"]), r["category"]))
        await session.execute(_upsert_reviews(session.bind.dialect.name), rows)


def registration_reviews(today: date, worker: dict[str, Any], evidence: str | None,
                         licence: date | None) -> list[dict[str, Any]]:
    """Staff registering a worker with an evidence reference confirm the categories they register (issue 13);
    without one the categories are only claimed. The licence date is checked like a review's (E2)."""
    if evidence is None:
        if licence is not None:
            raise Problem(422, "evidence_reference_missing",
                          "licence_issued_on confirms a founder: give the evidence_reference it was read from")
        return []
    categories = [WorkerCategory(c) for c in worker["categories"]]
    try:
        check_licence(set(categories), licence, today)
    except ReviewRefused as exc:
        raise refused(exc) from exc
    return review_rows(worker["id"], categories, CategoryReviewStatus.CONFIRMED, STAFF_SOURCE, evidence, licence,
                       worker["registered_by"], worker["created_at"])


async def review_categories(
    session: AsyncSession, principal: Principal, worker_id: uuid.UUID, categories: list[WorkerCategory],
    status: CategoryReviewStatus, evidence: str, licence: date | None, note: str | None,
) -> list[CategoryState]:
    """Township or bureau staff confirm or reject categories of one worker on evidence they saw (P10: audited)."""
    worker = await session.get(Worker, worker_id, with_for_update=True)
    if worker is None:
        raise not_found("worker", worker_id)
    now = utcnow()
    if status == CategoryReviewStatus.CONFIRMED:
        try:
            check_licence(set(categories), licence, local_date(now))
        except ReviewRefused as exc:
            raise refused(exc) from exc
    elif licence is not None:
        raise Problem(422, "licence_date_on_rejection", "a rejection carries no licence_issued_on")
    before = {c.category: c.status for c in await category_states(session, worker) if c.category in categories}
    rows = review_rows(worker.id, categories, status, STAFF_SOURCE, evidence, licence, principal.subject, now)
    await write_reviews(session, rows)
    held = set(worker.categories)
    worker.categories = sorted(held | set(categories) if status == CategoryReviewStatus.CONFIRMED
                               else held - set(categories))
    await outbox.add_many(session, [(reviewed_event(r, worker.person_key), worker.person_key, str(worker.id))
                                    for r in rows])
    await record(session, principal, "worker.category_review", "worker", str(worker.id),
                 before={str(c): str(before.get(c, CategoryReviewStatus.CLAIMED if c in held else "absent"))
                         for c in categories},
                 after=dict(status=status, categories=sorted(categories), evidence_reference=evidence,
                            licence_issued_on=licence), reason=note)
    return await category_states(session, worker)


async def category_states(session: AsyncSession, worker: Worker) -> list[CategoryState]:
    """Every category of the worker: claimed (declared, no review yet), confirmed, or rejected (with its evidence)."""
    reviews = {r.category: r for r in await session.scalars(
        select(CategoryReview).where(CategoryReview.worker_id == worker.id))}
    states = [CategoryState(WorkerCategory(c), CategoryReviewStatus.CLAIMED) for c in worker.categories
              if c not in reviews]
    states += [CategoryState(WorkerCategory(r.category), CategoryReviewStatus(r.status), r.source,
                             r.evidence_reference, r.licence_issued_on, r.reviewed_by, r.reviewed_at)
               for r in reviews.values()]
    return sorted(states, key=lambda s: s.category)


async def import_roster(
    session: AsyncSession, settings: VoucherSettings, principal: Principal, office: CategoryOffice,
    category: WorkerCategory, reference: str, filename: str, content: bytes,
) -> RosterResult:
    """A roster from the office that keeps the category's register confirms it in bulk (issue 13). Lines are matched
    by the ID number's blind index; a number nobody registered, or registered under another name, is reported by
    line and confirms nothing. A line the register already confirmed the same way writes nothing again."""
    try:
        check_office(office, category)
    except ReviewRefused as exc:
        raise refused(exc) from exc
    rows = await read_roster(filename, content, ROSTER_COLUMNS, required={"name", "id_number"})
    now = utcnow()
    today = local_date(now)
    result = RosterResult()
    lines: list[tuple[int, str, str, str, date | None]] = []  # line, blind index, name, evidence, licence
    seen: dict[str, int] = {}
    for row in rows:
        try:
            number = normalise_resident_id(row.values.get("id_number", ""), today)
            licence = _date(row.values.get("licence_issued_on", ""))
            check_licence({category}, licence, today)
        except Problem as exc:
            result.row_errors.append({"line": row.line, "errors": [f"{exc.code}: {exc.detail}"]})
            continue
        except ReviewRefused as exc:
            result.row_errors.append({"line": row.line, "errors": [f"{exc.code}: {exc.message}"]})
            continue
        if number in seen:
            result.row_errors.append({"line": row.line, "errors": [f"same person as line {seen[number]}"]})
            continue
        seen[number] = row.line
        evidence = (row.values.get("evidence_reference") or reference)[:200]
        lines.append((row.line, blind_index(number, settings.blind_index_secret), row.values.get("name", ""),
                      evidence, licence))
    workers = await _roster_workers(session, {index for _, index, *_ in lines})
    current = await _current_reviews(session, category, [w.id for w in workers.values()])
    reviews: list[tuple[dict[str, Any], Row[Any]]] = []
    for line, index, name, evidence, licence in lines:
        worker = workers.get(index)
        if worker is None:
            result.row_errors.append({"line": line, "errors": [
                "not_registered: no worker is registered with this ID number"]})
            continue
        if not same_name(name, worker.name):
            result.row_errors.append({"line": line, "errors": [
                "name_differs: the worker registered with this ID number has another name"]})
            continue
        row = review_rows(worker.id, [category], CategoryReviewStatus.CONFIRMED, str(office), evidence, licence,
                          principal.subject, now)[0]
        if current.get(worker.id) == tuple(row[c] for c in _REVIEW_VALUES[:4]):
            result.unchanged += 1
            continue
        reviews.append((row, worker))
    await write_reviews(session, [row for row, _ in reviews])
    added = sorted(((w.id, sorted(set(w.categories) | {str(category)})) for _, w in reviews
                    if str(category) not in w.categories), key=lambda pair: str(pair[0]))
    if added:
        await session.execute(_SET_CATEGORIES, [{"worker": worker_id, "cats": cats} for worker_id, cats in added])
    events: list[tuple[EventPayload, str, str | None]] = [
        (reviewed_event(row, w.person_key), w.person_key, str(w.id)) for row, w in reviews]
    await outbox.add_many(session, events)
    result.confirmed = len(reviews)
    result.row_errors.sort(key=lambda error: error["line"])  # type: ignore[arg-type, return-value]
    # P10: one entry per roster; the file's digest names what was read
    await record(session, principal, "category_roster.import", "category_roster", f"{office}:{category}", after=dict(
        office=office, category=category, reference=reference, file=filename,
        file_sha256=hashlib.sha256(content).hexdigest(), confirmed=result.confirmed, unchanged=result.unchanged,
        rejected=len(result.row_errors)))
    return result


def _date(raw: str) -> date | None:
    """A date cell: ISO text, or what an .xlsx date cell reads as (`2026-03-01 00:00:00`)."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise Problem(422, "licence_date_invalid", f"licence_issued_on {raw!r} is not a date (YYYY-MM-DD)") from None


async def _roster_workers(session: AsyncSession, indexes: set[str]) -> dict[str, Row[Any]]:
    if not indexes:
        return {}
    return {r.id_blind_index: r for r in await session.execute(_ROSTER_WORKERS, {"indexes": list(indexes)})}


async def _current_reviews(session: AsyncSession, category: WorkerCategory,
                           worker_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, ...]]:
    if not worker_ids:
        return {}
    rows = await session.execute(
        select(REVIEWS.c.worker_id, *(REVIEWS.c[c] for c in _REVIEW_VALUES[:4]))
        .where(REVIEWS.c.category == str(category), REVIEWS.c.worker_id.in_(worker_ids)))
    return {r[0]: tuple(r[1:]) for r in rows}
