"""XLSX exports (openpyxl's write-only mode: rows go to a temporary file as they are read, never a whole sheet in
memory), streamed out in chunks with Chinese headers."""

from __future__ import annotations

import tempfile
from typing import Any, AsyncIterator, Iterator
from urllib.parse import quote

from fastapi.responses import StreamingResponse
from openpyxl import Workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 256 * 1024


async def xlsx_response(filename: str, title: str, preamble: list[str], headers: list[str],
                        rows: AsyncIterator[list[Any]]) -> StreamingResponse:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for text in preamble:
        sheet.append([text])
    sheet.append(headers)
    async for row in rows:
        sheet.append(row)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    book.save(spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(CHUNK):
                yield block

    return StreamingResponse(chunks(), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
