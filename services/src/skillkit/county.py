"""Facts of the county the platform runs in: its time zone, code, and the policy-year calendar (P5)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

COUNTY_TZ = ZoneInfo("Asia/Shanghai")
COUNTY_CODE = "141124"  # GB/T 2260: 山西省吕梁市临县

# P5: subsidies for year Y are applied for and paid by 31 March of Y+1 at the latest.
P5_DEADLINE_MONTH, P5_DEADLINE_DAY = 3, 31


def local_date(moment: datetime) -> date:
    return moment.astimezone(COUNTY_TZ).date()


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
