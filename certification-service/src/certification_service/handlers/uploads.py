"""Bulk result upload (CSV or XLSX): every bad row is reported with its line number; good rows are applied.

Columns (header row first, Chinese or English names): 身份证号 / id_number, 理论成绩 / theory_score,
实操成绩 / practical_score, and optionally 是否合格 / passed (合格/不合格, 是/否, true/false, 1/0).
A CSV may be UTF-8 (with or without BOM) or GB18030, which is what Excel writes on Chinese Windows.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any, Iterator

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.pii import PiiCipher, blind_index
from skillkit.problems import Problem

from certification_service.adapters.models import Candidate, Evaluation
from certification_service.api.schemas import RowError, UploadOut
from certification_service.api.views import candidate_view
from certification_service.config import CertificationSettings
from certification_service.handlers.evaluations import record_result, resident_id_or_problem

HEADERS = {
    "id_number": "id_number",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "theory_score": "theory_score",
    "理论成绩": "theory_score",
    "practical_score": "practical_score",
    "实操成绩": "practical_score",
    "passed": "passed",
    "是否合格": "passed",
}
TRUE_WORDS = {"合格", "是", "通过", "true", "1", "yes", "y", "pass", "passed"}
FALSE_WORDS = {"不合格", "否", "未通过", "false", "0", "no", "n", "fail", "failed"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 5000


def _rows(filename: str, content_type: str | None, content: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(line number, cells) of every row, the header row included."""
    name = filename.lower()
    if name.endswith(".xlsx") or content_type == XLSX_TYPE:
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise Problem(422, "upload_unreadable", "the file is not a readable XLSX workbook") from exc
        sheet = workbook.worksheets[0]
        for index, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield index, list(row)
        workbook.close()
        return
    if name.endswith(".csv") or (content_type or "").startswith("text/csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise Problem(422, "upload_unreadable", "the CSV is neither UTF-8 nor GB18030")
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise Problem(422, "upload_unreadable", f"the CSV is malformed near line {reader.line_num}: {exc}") from exc
        return
    raise Problem(415, "upload_type_unsupported", "upload a .csv or .xlsx file")


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    return value


def _passed(raw: Any) -> bool | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Problem(422, "passed_invalid", f"passed {raw!r} is not one of 合格/不合格, true/false, 1/0")


async def apply_upload(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation: Evaluation,
    filename: str,
    content_type: str | None,
    content: bytes,
) -> UploadOut:
    if not content:
        raise Problem(422, "upload_empty", "the uploaded file is empty")
    rows = _rows(filename, content_type, content)
    header = next(rows, None)
    if header is None:
        raise Problem(422, "upload_empty", "the uploaded file has no header row")
    columns: dict[str, int] = {}
    for position, title in enumerate(header[1]):
        key = HEADERS.get(str(_cell(title) or "").lower()) or HEADERS.get(str(_cell(title) or ""))
        if key and key not in columns:
            columns[key] = position
    missing = [c for c in ("id_number", "theory_score", "practical_score") if c not in columns]
    if missing:
        raise Problem(422, "upload_header_missing", f"the header row lacks the columns: {', '.join(missing)}")
    cipher = PiiCipher(settings.pii_encryption_key)
    applied: list[Candidate] = []
    errors: list[RowError] = []
    seen = 0
    for line, cells in rows:
        cells = [_cell(c) for c in cells]
        if all(c is None or c == "" for c in cells):
            continue
        seen += 1
        if seen > MAX_ROWS:
            raise Problem(422, "upload_too_many_rows", f"an upload holds at most {MAX_ROWS} rows")

        def get(column: str) -> Any:
            position = columns.get(column)
            return cells[position] if position is not None and position < len(cells) else None

        try:
            number = resident_id_or_problem(str(get("id_number") or ""))
            candidate = await session.scalar(
                select(Candidate).where(
                    Candidate.evaluation_id == evaluation.id,
                    Candidate.id_blind_index == blind_index(number, settings.blind_index_secret),
                )
            )
            if candidate is None:
                raise Problem(404, "candidate_not_found", "this ID number is not a candidate of this evaluation")
            await record_result(
                session,
                settings,
                principal,
                evaluation,
                candidate,
                get("theory_score"),
                get("practical_score"),
                _passed(get("passed")),
            )
            applied.append(candidate)
        except Problem as problem:
            errors.append(RowError(line=line, code=problem.code, detail=problem.detail))
    if seen == 0:
        raise Problem(422, "upload_empty", "the uploaded file has no data rows")
    return UploadOut(
        applied=len(applied),
        rejected=len(errors),
        results=[candidate_view(c, cipher) for c in applied],
        row_errors=errors,
    )
