"""Certificate types, levels and numbers.

Levels (skill level and vocational qualification): 5 = 初级工, 4 = 中级工, 3 = 高级工, 2 = 技师,
1 = 高级技师. The other certificate types have no level.

Certificate numbers: `141124` (county code, GB/T 2260) + issue year + 6-digit yearly sequence + an
ISO 7064 MOD 37,36 check character, e.g. `1411242026000001` + `K`. Shown grouped as
`141124-2026-000001-K`; typed in either form. The check character catches every single typo, so a
mistyped number is answered "unknown" without touching the database.
"""

from __future__ import annotations

from stdnum.iso7064 import mod_37_36

from skillkit.contracts.vocab import SKILL_LEVEL_LABELS, CertificateType
from skillkit.county import COUNTY_CODE
from skillkit.problems import Problem

LEVELLED_TYPES = frozenset({CertificateType.SKILL_LEVEL, CertificateType.VOCATIONAL_QUALIFICATION})

CERTIFICATE_TYPE_LABELS = {
    CertificateType.SPECIAL_ABILITY: "专项职业能力证书",
    CertificateType.SKILL_LEVEL: "职业技能等级证书",
    CertificateType.VOCATIONAL_QUALIFICATION: "职业资格证书",
    CertificateType.SPECIAL_OPERATION: "特种作业操作证",
    CertificateType.SPECIAL_EQUIPMENT: "特种设备作业人员证",
    CertificateType.ENTREPRENEURSHIP_TRAINING: "创业培训合格证书",
}

SEQUENCE_DIGITS = 6
NUMBER_LENGTH = len(COUNTY_CODE) + 4 + SEQUENCE_DIGITS + 1


def check_level(certificate_type: CertificateType, level: int | None) -> int | None:
    """A level 1–5 for the levelled types, none for the others; a precise 422 otherwise."""
    if certificate_type in LEVELLED_TYPES:
        if level is None:
            raise Problem(422, "level_required", f"a {certificate_type} certificate needs a level 1 to 5")
        if level not in SKILL_LEVEL_LABELS:
            raise Problem(
                422, "level_out_of_range", f"level {level} is outside 1 to 5 (5 = 初级工 ... 1 = 高级技师)"
            )
        return level
    if level is not None:
        raise Problem(422, "level_not_applicable", f"a {certificate_type} certificate has no level")
    return None


def level_slot(level: int | None) -> int:
    return level if level is not None else 0


def level_label(level: int | None) -> str | None:
    return SKILL_LEVEL_LABELS.get(level) if level is not None else None


def certificate_number(year: int, sequence: int) -> str:
    if not 1 <= sequence < 10**SEQUENCE_DIGITS:
        raise ValueError(f"certificate sequence {sequence} does not fit {SEQUENCE_DIGITS} digits")
    body = f"{COUNTY_CODE}{year:04d}{sequence:0{SEQUENCE_DIGITS}d}"
    return body + mod_37_36.calc_check_digit(body)


def normalise_number(typed: str) -> str:
    return typed.replace("-", "").replace(" ", "").strip().upper()


def is_valid_number(typed: str) -> bool:
    number = normalise_number(typed)
    return (
        len(number) == NUMBER_LENGTH
        and number[:-1].isdigit()
        and number.startswith(COUNTY_CODE)
        and mod_37_36.is_valid(number)
    )


def display_number(number: str) -> str:
    county, year, seq = len(COUNTY_CODE), len(COUNTY_CODE) + 4, len(COUNTY_CODE) + 4 + SEQUENCE_DIGITS
    return f"{number[:county]}-{number[county:year]}-{number[year:seq]}-{number[seq:]}"
