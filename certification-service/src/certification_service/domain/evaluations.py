"""The pure E7 rules on free student evaluations and graduation years."""

from __future__ import annotations

from skillkit.contracts.vocab import CertificateType, WorkerCategory
from skillkit.problems import Problem


# E7: a free evaluation is for students graduating this year or in the next few years, or who just did.
GRADUATION_YEARS_BACK, GRADUATION_YEARS_AHEAD = 1, 4


def check_graduation_year(graduation_year: int, this_year: int) -> None:
    if not this_year - GRADUATION_YEARS_BACK <= graduation_year <= this_year + GRADUATION_YEARS_AHEAD:
        raise Problem(
            422,
            "graduation_year_out_of_range",
            f"graduation year {graduation_year} is outside {this_year - GRADUATION_YEARS_BACK}"
            f" to {this_year + GRADUATION_YEARS_AHEAD}",
        )


def check_free_student_evaluation(
    certificate_type: str, categories: list[str] | None, graduation_year: int | None, already_used: bool
) -> int:
    """E7: 中职 students take one free skill-level evaluation per graduation year; returns that year."""
    if certificate_type != CertificateType.SKILL_LEVEL:
        raise Problem(
            422, "free_evaluation_not_skill_level", "the free student evaluation (E7) is for skill-level evaluations only"
        )
    if graduation_year is None:
        raise Problem(422, "graduation_year_required", "a free student evaluation (E7) needs the graduation year")
    if WorkerCategory.VOCATIONAL_STUDENT not in (categories or []):
        raise Problem(
            422,
            "free_evaluation_not_vocational_student",
            "the free evaluation (E7) is for workers registered as 中职 students (vocational_student)",
        )
    if already_used:
        raise Problem(
            409,
            "free_evaluation_already_used",
            f"this student already had the free evaluation of graduation year {graduation_year} (E7)",
        )
    return graduation_year
