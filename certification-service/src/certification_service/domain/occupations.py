"""Occupation codes in the national format of the 中华人民共和国职业分类大典 (e.g. `4-10-01-05`).

The built-in catalogue holds the occupations the county trains and evaluates most; more are added
through the `extra_occupations` setting. A well-formed code that is not in the catalogue is unknown.
"""

from __future__ import annotations

import re

from skillkit.problems import Problem

OCCUPATION_CODE = re.compile(r"^[1-8]-\d{2}-\d{2}-\d{2}$")

CATALOGUE: dict[str, str] = {
    "4-10-01-05": "养老护理员",
    "4-10-01-06": "家政服务员",
    "4-10-01-02": "育婴员",
    "4-03-02-01": "中式烹调师",
    "4-03-02-02": "中式面点师",
    "4-03-02-03": "西式烹调师",
    "4-03-02-04": "西式面点师",
    "4-10-03-01": "美容师",
    "4-10-03-02": "美发师",
    "4-12-01-01": "汽车维修工",
    "6-31-01-03": "电工",
    "6-18-02-04": "焊工",
    "6-29-01-01": "砌筑工",
}


def occupation_name(code: str, extra: dict[str, str]) -> str:
    """The Chinese name of a catalogued occupation, or a precise 422."""
    if not OCCUPATION_CODE.match(code):
        raise Problem(
            422, "occupation_code_format", f"occupation code {code!r} is not in the national format like 4-10-01-05"
        )
    name = extra.get(code) or CATALOGUE.get(code)
    if name is None:
        raise Problem(422, "occupation_unknown", f"occupation code {code} is not in the occupation catalogue")
    return name


def occupation_label(code: str, extra: dict[str, str]) -> str:
    """For display: the catalogue name, or the code itself if it left the catalogue since."""
    return extra.get(code) or CATALOGUE.get(code) or code
