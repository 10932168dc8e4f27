"""Bulk issue from an uploaded roster: every bad row is reported with its line number and why;
the good rows are registered (when new) and issued."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.contracts.vocab import VoucherKind
from skillkit.problems import Problem
from skillkit.roster import RosterRow, read_roster

from voucher_service.adapters.models import IssuingBatch, Voucher
from voucher_service.domain.worker import NewWorker
from voucher_service.config import VoucherSettings
from voucher_service.handlers.vouchers import issue_voucher
from voucher_service.handlers.workers import register_worker

ROSTER_COLUMNS = {
    "name": "姓名",
    "id_number": "身份证号",
    "mobile": "手机号",
    "township": "乡镇",
    "categories": "人员类别",
}
CATEGORY_SEPARATORS = (";", "；", "|", "、")


@dataclass
class BulkResult:
    vouchers: list[Voucher] = field(default_factory=list)
    row_errors: list[dict[str, object]] = field(default_factory=list)


def _categories(raw: str) -> list[str]:
    for sep in CATEGORY_SEPARATORS[1:]:
        raw = raw.replace(sep, CATEGORY_SEPARATORS[0])
    return [c.strip() for c in raw.split(CATEGORY_SEPARATORS[0]) if c.strip()]


def _worker_in(row: RosterRow) -> NewWorker:
    values = dict(row.values)
    return NewWorker.model_validate({**values, "categories": _categories(values.get("categories", ""))})


async def issue_roster(
    session: AsyncSession,
    settings: VoucherSettings,
    principal: Principal,
    batch: IssuingBatch,
    filename: str,
    content: bytes,
) -> BulkResult:
    rows = read_roster(filename, content, ROSTER_COLUMNS, required=set(ROSTER_COLUMNS))
    result = BulkResult()
    seen_ids: dict[str, int] = {}
    for row in rows:
        try:
            data = _worker_in(row)
        except ValidationError as exc:
            result.row_errors.append({"line": row.line, "errors": [_field_error(e) for e in exc.errors()]})
            continue
        duplicate_of = seen_ids.get(data.id_number.upper())
        if duplicate_of is not None:
            result.row_errors.append({"line": row.line, "errors": [f"same person as line {duplicate_of}"]})
            continue
        seen_ids[data.id_number.upper()] = row.line
        try:
            # A savepoint per row: a refused row leaves no worker or voucher half-written.
            async with session.begin_nested():
                worker = (await register_worker(session, settings, principal, data)).body
                voucher = await issue_voucher(
                    session,
                    worker,
                    VoucherKind(batch.kind),
                    channel="bulk",
                    issued_by=principal.subject,
                    validity_days=batch.validity_days,
                    batch=batch,
                )
        except Problem as exc:
            result.row_errors.append({"line": row.line, "errors": [f"{exc.code}: {exc.detail}"]})
            continue
        result.vouchers.append(voucher)
    return result


def _field_error(error: dict[str, object]) -> str:
    location = ".".join(str(p) for p in error.get("loc", ()))  # type: ignore[union-attr]
    return f"{location}: {error.get('msg')}"
