"""Reading uploaded rosters (CSV or XLSX) into numbered rows.

Line numbers are the file's own (the header is line 1), so a bulk report can say exactly which line
was wrong. Headers may be the English codes or their Chinese labels (one label or several aliases).
A CSV may be UTF-8 (with or without BOM) or GB18030, which is what Excel writes on Chinese Windows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Iterator

from openpyxl import load_workbook

from skillkit.problems import Problem

MAX_ROWS = 5000


@dataclass(frozen=True)
class RosterRow:
    line: int
    values: dict[str, str]


def read_roster(
    filename: str, content: bytes, columns: dict[str, str | tuple[str, ...]], required: set[str]
) -> list[RosterRow]:
    """`columns` maps each English column code to its Chinese label(s); returns rows keyed by the codes."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        table = _csv_rows(content)
    elif lowered.endswith(".xlsx"):
        table = _xlsx_rows(content)
    else:
        raise Problem(415, "roster_format_unsupported", "a roster must be a .csv or .xlsx file")
    header = next(table, None)
    if header is None:
        raise Problem(422, "roster_empty", "the roster file is empty")
    by_label: dict[str, str] = {}
    for code, labels in columns.items():
        for label in (labels,) if isinstance(labels, str) else labels:
            by_label[label] = code
        by_label[code] = code
    codes = [by_label.get(title.strip()) or by_label.get(title.strip().lower()) for title in header[1]]
    missing = required - set(codes)
    if missing:
        raise Problem(
            422,
            "roster_columns_missing",
            f"the roster header lacks the columns: {', '.join(sorted(missing))}",
            extra={"expected_columns": {code: labels for code, labels in columns.items()}},
        )
    rows = []
    for line, cells in table:
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise Problem(413, "roster_too_many_rows", f"a roster holds at most {MAX_ROWS} rows")
        values = {code: cell.strip() for code, cell in zip(codes, cells) if code}
        rows.append(RosterRow(line=line, values=values))
    if not rows:
        raise Problem(422, "roster_empty", "the roster has a header but no rows")
    return rows


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Problem(422, "roster_encoding", "a CSV roster must be UTF-8 or GB18030 encoded")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise Problem(422, "roster_unreadable", f"the CSV is malformed near line {reader.line_num}: {exc}") from exc
    return iter(rows)


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise Problem(422, "roster_unreadable", "the file is not a readable .xlsx workbook") from None
    sheet = workbook.worksheets[0]
    rows = [
        (line, ["" if v is None else str(v) for v in row])
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1)
    ]
    workbook.close()
    return iter(rows)
