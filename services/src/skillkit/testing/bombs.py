"""Hostile upload files built in the test, never committed (issue 16)."""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from skillkit import roster

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="roster" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


# The two shapes: 2 million rows in a few hundred KB (refused from the zip directory, before any parsing),
# and 300,000 rows that stay under the uncompressed bound (refused at the row limit while being read).
BOMBS = {"two_million_rows": 2_000_000, "rows_under_the_size_bound": 300_000}
BOMB_REFUSALS = {"two_million_rows": "roster_too_large", "rows_under_the_size_bound": "roster_too_many_rows"}


def xlsx_bomb(header: list[str], rows: int = 2_000_000, value: str = "x") -> bytes:
    """An .xlsx whose one sheet holds `rows` one-cell rows of inline strings under `header`: a few hundred KB holding 2 million
    rows (over 100 MB of XML), as in the issue. The zip is written with correct sizes, as any zip library writes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8"?>'
                        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            sheet.write(_row(header))
            # Identical rows (no `r` attribute: rows are numbered in order) compress near deflate's limit.
            # One cell per data row is enough to make it a row.
            block = _row([value]) * 10_000
            for _ in range(rows // 10_000):
                sheet.write(block)
            sheet.write(_row([value]) * (rows % 10_000) + b"</sheetData></worksheet>")
    return buffer.getvalue()


def _row(values: list[str]) -> bytes:
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in values)
    return f"<row>{cells}</row>".encode()


@dataclass
class UploadUnderProbe:
    """What happened while one upload was in flight: orderings and counts only (timings are bench/upload_bombs.py's)."""

    response: httpx.Response
    health_probes: int  # /healthz answers received while the upload was in flight
    health_answers_during_parse: int  # of those, answers received while the roster was being parsed
    parse_threads: list[str]  # the thread each roster parse of the upload ran in, in order
    loop_thread: str  # the event loop's thread (the one a parse must not run in)


class _ParseWatch:
    """Wraps `skillkit.roster.read_roster_sync` (what `read_roster` hands to its worker pool): records the thread each
    parse ran in, and holds each parse at its start until the event loop has answered a /healthz request meanwhile
    (or `hold_seconds` passed). A parse in a worker thread is then always seen running by an answered probe, however
    fast the machine parses; a parse that holds the loop (run on it, or waited on with a blocking call) lets no probe
    be answered, waits out the hold and is seen by none."""

    def __init__(self, hold_seconds: float) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.threads: list[str] = []
        self.loop_answered = threading.Event()
        self.hold_seconds = hold_seconds

    def wrap(self, parse: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.running += 1
                self.threads.append(threading.current_thread().name)
            try:
                self.loop_answered.wait(self.hold_seconds)
                return parse(*args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1

        return watched


async def upload_while_probing_health(client: httpx.AsyncClient, url: str, *, hold_seconds: float = 10.0,
                                      **request: Any) -> UploadUnderProbe:
    """POSTs an upload and, while it is in flight, asks /healthz of the same app over and over (the same event loop).
    A health answer received while the parse is running proves the parse left the event loop free: each parse waits
    at its start for such an answer (`_ParseWatch`), so a free loop always gives one and a held loop never can.
    Ordering, not time: the test holds no clock (issue 19); `hold_seconds` only bounds how long a broken parse
    waits before the test fails."""
    watch = _ParseWatch(hold_seconds)
    original = roster.read_roster_sync
    roster.read_roster_sync = watch.wrap(original)  # type: ignore[assignment]
    try:
        upload = asyncio.create_task(client.post(url, **request))
        probes, during_parse = 0, 0
        while not upload.done():
            health = await client.get("/healthz")
            assert health.status_code == 200, health.text
            probes += 1
            if watch.running:
                during_parse += 1
                watch.loop_answered.set()
            await asyncio.sleep(0.01)
        response = await upload
    finally:
        roster.read_roster_sync = original  # type: ignore[assignment]
    return UploadUnderProbe(response, probes, during_parse, watch.threads, threading.current_thread().name)
