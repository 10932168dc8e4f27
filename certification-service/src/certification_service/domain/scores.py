"""Evaluation scores: 0–100 with at most two decimals, pass when every given score reaches the pass mark."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from skillkit.problems import Problem

MAX_SCORE = Decimal("100")


def parse_score(raw: object, what: str) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if isinstance(raw, float):
        raw = repr(raw)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise Problem(422, "score_invalid", f"{what} {raw!r} is not a number") from exc
    if not value.is_finite():
        raise Problem(422, "score_invalid", f"{what} {raw!r} is not a number")
    if not Decimal(0) <= value <= MAX_SCORE:
        raise Problem(422, "score_out_of_range", f"{what} {value} is outside 0 to 100")
    if value != value.quantize(Decimal("0.01")):
        raise Problem(422, "score_precision", f"{what} {value} has more than two decimals")
    return value.quantize(Decimal("0.01"))


def decide_pass(
    theory: Decimal | None, practical: Decimal | None, pass_mark: Decimal, declared: bool | None
) -> bool:
    """Passed when every given score reaches the pass mark; a declared verdict must agree with the scores."""
    if theory is None and practical is None:
        raise Problem(422, "scores_missing", "a result needs a theory score, a practical score or both")
    computed = all(s >= pass_mark for s in (theory, practical) if s is not None)
    if declared is not None and declared != computed:
        raise Problem(
            422,
            "passed_inconsistent_with_scores",
            f"passed={declared} contradicts the scores (pass mark {pass_mark} for every given score)",
        )
    return computed
