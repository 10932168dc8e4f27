"""What a bulk upload reports, and the spreadsheet cell values it accepts (yes/no words, years).

A report lists the rows applied and, for each bad row, its line in the file and the same problem
code the single endpoint would answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from skillkit.problems import Problem

YES_WORDS = frozenset({"是", "true", "1", "yes", "y"})
NO_WORDS = frozenset({"否", "false", "0", "no", "n"})

Applied = TypeVar("Applied")


class RowError(BaseModel):
    line: int
    code: str
    detail: str


@dataclass
class UploadReport(Generic[Applied]):
    applied: list[Applied] = field(default_factory=list)
    row_errors: list[RowError] = field(default_factory=list)

    def reject(self, line: int, problem: Problem) -> None:
        self.row_errors.append(RowError(line=line, code=problem.code, detail=problem.detail))


def yes_no(
    raw: Any,
    what: str,
    code: str,
    yes: frozenset[str] = YES_WORDS,
    no: frozenset[str] = NO_WORDS,
    hint: str = "是/否, true/false, 1/0",
) -> bool | None:
    """None for an empty cell; a 422 with `code` for a word that is neither yes nor no."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in yes:
        return True
    if word in no:
        return False
    raise Problem(422, code, f"{what} {raw!r} is not one of {hint}")


def year(raw: str, what: str, code: str) -> int | None:
    """A four-digit year; Excel's number cells come as "2027" or "2027.0"."""
    text = (raw or "").strip()
    if not text:
        return None
    if text.endswith(".0"):
        text = text[:-2]
    if len(text) != 4 or not text.isdigit():
        raise Problem(422, code, f"{what} {raw!r} is not a four-digit year")
    return int(text)


def validated(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """The model, or the 422 `validation_failed` problem the API answers for the same JSON body."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in exc.errors()
        )
        raise Problem(422, "validation_failed", detail) from None
