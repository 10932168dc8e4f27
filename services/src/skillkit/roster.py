"""Reading uploaded rosters (CSV or XLSX) into numbered rows.

Line numbers are the file's own (the header is line 1), so a bulk report can say exactly which line
was wrong. Headers may be the English codes or their Chinese labels.
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


def read_roster(filename: str, content: bytes, columns: dict[str, str], required: set[str]) -> list[RosterRow]:
    """`columns` maps each English column code to its Chinese label; returns rows keyed by the codes."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        table = _csv_rows(content)
    elif lowered.endswith(".xlsx"):
        table = _xlsx_rows(content)
    else:
        raise Problem(415, "roster_format_unsupported", "a roster must be a .csv or .xlsx file")
    try:
        header = next(table)
    except StopIteration:
        raise Problem(422, "roster_empty", "the roster file is empty") from None
    by_label = {label: code for code, label in columns.items()} | {code: code for code in columns}
    codes = [by_label.get(h.strip()) for h in header]
    missing = required - set(codes)
    if missing:
        raise Problem(
            422,
            "roster_columns_missing",
            f"the roster header lacks the columns: {', '.join(sorted(missing))}",
            extra={"expected_columns": {c: columns[c] for c in columns}},
        )
    rows = []
    for line, cells in enumerate(table, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise Problem(413, "roster_too_many_rows", f"a roster holds at most {MAX_ROWS} rows")
        values = {code: cell.strip() for code, cell in zip(codes, cells) if code}
        rows.append(RosterRow(line=line, values=values))
    return rows


def _csv_rows(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "roster_encoding", "a CSV roster must be UTF-8 encoded") from None
    return iter(list(csv.reader(io.StringIO(text))))


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise Problem(422, "roster_unreadable", "the file is not a readable .xlsx workbook") from None
    sheet = workbook.worksheets[0]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return iter(rows)
