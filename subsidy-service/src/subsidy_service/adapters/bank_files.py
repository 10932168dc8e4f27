"""The bank's batch payment files (代发, `../shared/formats/outside-systems.md`): the payment file finance sends
(CSV or XLSX, Chinese headers) and the result and returned-payment (退票) files the bank answers with.

Layout, both directions: a header label row and a header value row, then the line label row and one row per line.
Payment file header: payer account, payer name, total amount, total count, currency, purpose (用途), expected date,
batch reference; lines: sequence, payee account, payee name, amount, same-bank flag, opening bank, its city.
Answer header: batch reference, total amount, total count; lines: sequence, payee account, payee name, amount,
status (成功 / 失败 / 退票), reason."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Iterator

from openpyxl import Workbook, load_workbook

from skillkit.problems import Problem

PAYMENT_HEADER = ("付款账号", "付款户名", "总金额", "总笔数", "币种", "用途", "期望日期", "业务参考号")
PAYMENT_LINE = ("序号", "收款账号", "收款户名", "金额", "同行标志", "开户行", "开户行所在城市")
ANSWER_HEADER = ("业务参考号", "总金额", "总笔数")
ANSWER_LINE = ("序号", "收款账号", "收款户名", "金额", "状态", "原因")
STATUS = {"成功": "paid", "失败": "failed", "退票": "returned"}
MAX_ANSWER_LINES = 200_000
MAX_CELLS = 20 * (MAX_ANSWER_LINES + 4)


@dataclass(frozen=True)
class PaymentFile:
    payer_account: str
    payer_name: str
    payer_bank: str
    purpose: str
    expected: date
    reference: str
    total: Decimal
    lines: list[tuple[int, str, str, Decimal, str, str]]  # seq, account, name, amount, bank, city

    def rows(self) -> Iterator[list[str]]:
        yield list(PAYMENT_HEADER)
        yield [self.payer_account, self.payer_name, str(self.total), str(len(self.lines)), "CNY", self.purpose,
               self.expected.strftime("%Y%m%d"), self.reference]
        yield list(PAYMENT_LINE)
        for seq, account, name, amount, bank, city in self.lines:
            yield [str(seq), account, name, str(amount), "Y" if bank == self.payer_bank else "N", bank, city]


def to_csv(rows: Iterator[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel on Chinese Windows opens it as UTF-8


def to_xlsx(rows: Iterator[list[str]], title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class AnswerLine:
    seq: int
    account: str
    name: str
    amount: Decimal
    status: str  # paid | failed | returned
    reason: str | None


@dataclass(frozen=True)
class Answer:
    reference: str
    total: Decimal
    count: int
    lines: list[AnswerLine]


def _bad(detail: str) -> Problem:
    return Problem(422, "bank_file_invalid", detail)


def _money(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except (InvalidOperation, AttributeError):
        raise _bad(f"{where}: '{text}' is not an amount") from None
    if value != value.quantize(Decimal("0.01")) or value < 0:
        raise _bad(f"{where}: '{text}' is not an amount in yuan with at most two decimals")
    return value


def _table(filename: str, content: bytes) -> list[list[str]]:
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise _bad("the file is neither UTF-8 nor GB18030 text")
        table = []
        for row in csv.reader(io.StringIO(text)):
            table.append([cell.strip() for cell in row])
            if len(table) > MAX_ANSWER_LINES + 3:
                raise _bad(f"more than {MAX_ANSWER_LINES} lines")
        return table
    if lowered.endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:
            raise _bad("the file is not a readable .xlsx workbook") from None
        table, cells = [], 0
        for row in book.worksheets[0].iter_rows(values_only=True):
            cells += len(row)
            if len(table) > MAX_ANSWER_LINES + 3 or cells > MAX_CELLS:
                raise _bad(f"more than {MAX_ANSWER_LINES} lines")
            table.append(["" if v is None else str(v).strip() for v in row])
        return table
    raise Problem(415, "bank_file_format_unsupported", "a bank file must be a .csv or .xlsx file")


def read_answer(filename: str, content: bytes) -> Answer:
    table = [row for row in _table(filename, content) if any(row)]
    if len(table) < 3 or tuple(table[0][:3]) != ANSWER_HEADER or tuple(table[2][:6]) != ANSWER_LINE:
        raise _bad(f"expected the header {'/'.join(ANSWER_HEADER)} and the lines {'/'.join(ANSWER_LINE)}")
    head = table[1] + [""] * 3
    try:
        count = int(head[2])
    except ValueError:
        raise _bad(f"header: total count '{head[2]}' is not a number") from None
    lines = []
    for number, row in enumerate(table[3:], start=4):
        row = row + [""] * 6
        if row[4] not in STATUS:
            raise _bad(f"line {number}: status '{row[4]}' is not one of {'/'.join(STATUS)}")
        try:
            seq = int(row[0])
        except ValueError:
            raise _bad(f"line {number}: sequence '{row[0]}' is not a number") from None
        lines.append(AnswerLine(seq, row[1], row[2], _money(row[3], f"line {number}"), STATUS[row[4]],
                                row[5] or None))
    return Answer(head[0], _money(head[1], "header"), count, lines)


def answer_rows(reference: str, lines: list[tuple[int, str, str, Decimal, str, str | None]]) -> Iterator[list[str]]:
    """An answer file as the bank writes it (the fake bank of development and tests)."""
    yield list(ANSWER_HEADER)
    yield [reference, str(sum((line[3] for line in lines), Decimal("0.00"))), str(len(lines))]
    yield list(ANSWER_LINE)
    labels = {v: k for k, v in STATUS.items()}
    for seq, account, name, amount, status, reason in lines:
        yield [str(seq), account, name, str(amount), labels[status], reason or ""]
