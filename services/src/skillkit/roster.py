"""Reading uploaded rosters (CSV or XLSX) into numbered rows.

Line numbers are the file's own (the header is line 1), so a bulk report can say exactly which line
was wrong. Headers may be the English codes or their Chinese labels (one label or several aliases).
A CSV may be UTF-8 (with or without BOM) or GB18030, which is what Excel writes on Chinese Windows.

Issue 16, decompression bombs: a 592 KB .xlsx may hold 2 million rows (hundreds of MB of XML). Before openpyxl
sees a workbook its zip directory is checked (members, total uncompressed bytes; zipfile itself stops a member at
its declared size and fails its CRC if the data goes on), then the rows are read one by one and reading stops at
the first limit: lines (blank ones included), cells per line, or time. The parse runs in a worker thread of its
own small pool, so the event loop (health checks, other requests) keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

from openpyxl import load_workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.xml.functions import iterparse

from skillkit.problems import Problem

MAX_ROWS = 5000
# Blank lines are skipped but still read: bound them too (a sheet of a million empty rows is a bomb).
MAX_LINES = 2 * MAX_ROWS + 100
MAX_CELLS_PER_LINE = 100
# An .xlsx roster of 5000 rows is ~2 MB of XML (Excel keeps strings in sharedStrings.xml): 16 MB leaves room.
MAX_XLSX_UNCOMPRESSED_BYTES = 16 * 1024 * 1024
# Parts other than worksheets (shared strings, styles) are parsed whole when the workbook opens: bound each.
MAX_XLSX_OTHER_PART_BYTES = 4 * 1024 * 1024
MAX_XLSX_MEMBERS = 200
MAX_PARSE_SECONDS = 10.0
# Two uploads parse at a time per process; more wait their turn (the default executor stays free for the rest).
_PARSERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="roster-parse")


@dataclass(frozen=True)
class RosterRow:
    line: int
    values: dict[str, str]


async def read_roster(
    filename: str, content: bytes, columns: dict[str, str | tuple[str, ...]], required: set[str]
) -> list[RosterRow]:
    """`columns` maps each English column code to its Chinese label(s); returns rows keyed by the codes.
    Parsed in a worker thread (issue 16: the event loop stays free)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_PARSERS, read_roster_sync, filename, content, columns, required)


def read_roster_sync(
    filename: str, content: bytes, columns: dict[str, str | tuple[str, ...]], required: set[str]
) -> list[RosterRow]:
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        table = _csv_rows(content)
    elif lowered.endswith(".xlsx"):
        table = _xlsx_rows(content)
    else:
        raise Problem(415, "roster_format_unsupported", "a roster must be a .csv or .xlsx file")
    table = _bounded(table)
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


def _bounded(table: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """Stops reading at the first limit (lines, cells per line, time) with a 413 problem."""
    deadline = time.monotonic() + MAX_PARSE_SECONDS
    for count, (line, cells) in enumerate(table, start=1):
        if count > MAX_LINES:
            raise Problem(413, "roster_too_many_lines",
                          f"a roster holds at most {MAX_LINES} lines, blank ones included")
        if len(cells) > MAX_CELLS_PER_LINE:
            raise Problem(413, "roster_too_many_cells", f"line {line} has more than {MAX_CELLS_PER_LINE} cells")
        if count % 256 == 0 and time.monotonic() > deadline:
            raise Problem(413, "roster_too_complex", f"the roster could not be read within {MAX_PARSE_SECONDS:g} s")
        yield line, cells


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
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise Problem(422, "roster_unreadable", f"the CSV is malformed near line {reader.line_num}: {exc}") from exc


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    _check_xlsx_archive(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise Problem(422, "roster_unreadable", "the file is not a readable .xlsx workbook") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        line = 0
        while True:
            try:
                row = next(rows, None)
            except Exception:  # a member cut at its declared size fails its CRC here; malformed XML too
                raise Problem(422, "roster_unreadable", "the file is not a readable .xlsx workbook") from None
            if row is None:
                return
            line += 1
            if len(row) > MAX_CELLS_PER_LINE:  # before stringifying a huge row
                raise Problem(413, "roster_too_many_cells", f"line {line} has more than {MAX_CELLS_PER_LINE} cells")
            yield line, ["" if v is None else str(v) for v in row]
    finally:
        workbook.close()


def _dimensions_from_the_head(self: ReadOnlyWorksheet) -> None:
    """openpyxl's read-only sheet looks for `<dimension>` with end events, so in a sheet without one (a crafted
    file) it parses the whole sheet before the first row is read: 14 MB of rows took 2–3 s. The dimension comes
    before `<sheetData>` (ECMA-376), so start events stop there."""
    with self._get_source() as source:
        for _event, element in iterparse(source, events=("start",)):
            if element.tag == DIMENSION_TAG:
                boundaries = SheetDimension.from_tree(element).boundaries
                if boundaries is not None:
                    self._min_column, self._min_row, self._max_column, self._max_row = boundaries
                return
            if element.tag == DATA_TAG:
                return


ReadOnlyWorksheet._get_size = _dimensions_from_the_head  # type: ignore[method-assign]


def _check_xlsx_archive(content: bytes) -> None:
    """The zip directory's declared sizes bound what openpyxl can inflate (zipfile reads a member no further)."""
    try:
        members = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Problem(422, "roster_unreadable", "the file is not a readable .xlsx workbook") from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise Problem(413, "roster_too_large", f"an .xlsx roster holds at most {MAX_XLSX_MEMBERS} parts")
    for member in members:
        if not member.filename.startswith("xl/worksheets/") and member.file_size > MAX_XLSX_OTHER_PART_BYTES:
            raise Problem(413, "roster_too_large", f"the .xlsx part {member.filename} expands to {member.file_size} "
                                                   f"bytes, more than the {MAX_XLSX_OTHER_PART_BYTES} a part may hold")
    expanded = sum(member.file_size for member in members)
    if expanded > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise Problem(413, "roster_too_large", f"the .xlsx roster expands to {expanded} bytes, more than the "
                                               f"{MAX_XLSX_UNCOMPRESSED_BYTES} a roster may hold")
