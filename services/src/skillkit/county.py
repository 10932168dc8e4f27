"""Facts of the county the platform runs in: its time zone, how its instants are shown, its code, and the
policy-year calendar (P5)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, PlainSerializer, WithJsonSchema

COUNTY_TZ = ZoneInfo("Asia/Shanghai")
COUNTY_TIME_EXAMPLE = "2026-12-06T13:05:00+08:00"
COUNTY_CODE = "141124"  # GB/T 2260: 山西省吕梁市临县

# P5: subsidies for year Y are applied for and paid by 31 March of Y+1 at the latest.
P5_DEADLINE_MONTH, P5_DEADLINE_DAY = 3, 31


def local_date(moment: datetime) -> date:
    return moment.astimezone(COUNTY_TZ).date()


def county_time(moment: datetime) -> str:
    """An instant as people see it — API bodies, exports, dashboard, disclosure, notifications: ISO 8601 in county
    time, to the second (`2026-12-06T13:05:00+08:00`). Inside, time stays UTC; events on the bus keep UTC (the
    machine contract with the province)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused: time is UTC and timezone-aware")
    return moment.astimezone(COUNTY_TZ).isoformat(timespec="seconds")


CountyTime = Annotated[
    AwareDatetime,  # a request may give any offset; one without (naive) is a 422
    PlainSerializer(county_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": [COUNTY_TIME_EXAMPLE]}),
]
"""An instant in an API body: read with any offset, written in county time (`county_time`)."""


def day_start(day: date) -> datetime:
    """The first instant of a county-local day, UTC-aware (validity bounds compare against it)."""
    return datetime.combine(day, time.min, COUNTY_TZ)


def policy_year_of(moment: datetime) -> int:
    """The policy year is the county's calendar year (a voucher issued at 23:30 on 31 Dec local is that year's)."""
    return local_date(moment).year


def p5_deadline(policy_year: int) -> datetime:
    """End of 31 March of the following year, county time, as a UTC-aware instant (exclusive bound)."""
    last_day = date(policy_year + 1, P5_DEADLINE_MONTH, P5_DEADLINE_DAY)
    return datetime.combine(last_day + timedelta(days=1), time.min, COUNTY_TZ)
