"""Issue 16: what an uploaded roster may expand to is bounded, and reading stops at the first limit."""

from __future__ import annotations

import io
import zipfile

import pytest

from skillkit.problems import Problem
from skillkit.roster import MAX_CELLS_PER_LINE, MAX_LINES, read_roster, read_roster_sync
from skillkit.testing.bombs import xlsx_bomb

COLUMNS = {"name": "姓名", "id_number": "身份证号"}


def refused(filename: str, content: bytes) -> tuple[int, str]:
    with pytest.raises(Problem) as caught:
        read_roster_sync(filename, content, COLUMNS, {"name"})
    return caught.value.status, caught.value.code


def test_issue16_two_million_rows_are_refused_from_the_zip_directory():
    assert refused("r.xlsx", xlsx_bomb(["姓名", "身份证号"])) == (413, "roster_too_large")


def test_issue16_blank_rows_count_towards_the_line_limit():
    # a sheet of empty rows holds no data row, but reading it is the bomb
    assert refused("r.xlsx", xlsx_bomb(["姓名", "身份证号"], rows=200_000, value="")) == (413, "roster_too_many_lines")
    assert refused("r.csv", ("姓名,身份证号\n" + "\n" * (MAX_LINES + 1)).encode()) == (413, "roster_too_many_lines")


def test_issue16_a_line_with_too_many_cells_is_refused():
    wide = ",".join(["x"] * (MAX_CELLS_PER_LINE + 1))
    assert refused("r.csv", f"姓名,身份证号\n{wide}\n".encode()) == (413, "roster_too_many_cells")
    assert refused("r.xlsx", xlsx_bomb(["姓名"] * (MAX_CELLS_PER_LINE + 1), rows=1)) == (413, "roster_too_many_cells")


def test_issue16_a_large_shared_strings_part_is_refused_before_it_is_parsed():
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_bomb(["姓名", "身份证号"], rows=1))) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(member, source.read(member))
        target.writestr("xl/sharedStrings.xml", b"<sst>" + b"<si><t>x</t></si>" * 300_000 + b"</sst>")
    assert refused("r.xlsx", buffer.getvalue()) == (413, "roster_too_large")


def test_a_roster_under_the_limits_is_read_with_its_own_line_numbers():
    content = "姓名,身份证号\n张三,1\n\n李四,2\n".encode()
    rows = read_roster_sync("r.csv", content, COLUMNS, {"name"})
    assert [(row.line, row.values) for row in rows] == [
        (2, {"name": "张三", "id_number": "1"}), (4, {"name": "李四", "id_number": "2"})]


async def test_issue16_read_roster_parses_in_a_worker_thread():
    import threading

    seen: list[str] = []
    original = read_roster_sync.__globals__["_csv_rows"]

    def spy(content: bytes):
        seen.append(threading.current_thread().name)
        return original(content)

    read_roster_sync.__globals__["_csv_rows"] = spy
    try:
        rows = await read_roster("r.csv", "姓名\n张三\n".encode(), COLUMNS, {"name"})
    finally:
        read_roster_sync.__globals__["_csv_rows"] = original
    assert [row.values for row in rows] == [{"name": "张三"}]
    assert seen and seen[0].startswith("roster-parse")
