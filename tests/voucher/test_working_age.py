"""Working age at voucher issue (issue 13): 16–60 by default (configurable; the plan names no ages), checked on the day
the voucher is issued — claimed in the app, issued on a worker's behalf, or from a roster — and a refusal changes
nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from skillkit.county import local_date
from skillkit.db import utcnow
from voucher_service.adapters.models import Voucher
from voucher_service.config import VoucherSettings
from voucher_service.domain.eligibility import NotEligible, age_on, check_working_age

from tests.voucher.helpers import registered_worker
from stdnum.cn import ric


def resident_id(birth: str) -> str:
    """Lin County's code 141124 dates from 2004 (Lüliang became a city); older persons keep the 吕梁地区 code 142325."""
    body = ("141124" if birth >= "2004" else "142325") + birth + "123"
    return body + ric.calc_check_digit(body + "0")


def born(years_ago: int, days_later: int = 0) -> str:
    today = local_date(utcnow())
    day = date(today.year - years_ago, today.month, min(today.day, 28))
    return day.fromordinal(day.toordinal() + days_later).strftime("%Y%m%d")


async def vouchers(vs) -> int:
    async with vs.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Voucher))


@pytest.mark.parametrize("years, days_later, code", [
    (15, 0, "outside_working_age"),   # 15
    (16, 1, "outside_working_age"),   # 16 tomorrow: still 15
    (61, 0, "outside_working_age"),   # 61
])
async def test_working_age_refuses_a_claim_outside_16_to_60(vs, years, days_later, code):
    await registered_worker(vs, id_number=resident_id(birth=born(years, days_later)))
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=vs.headers("worker", sub="acct-1"))
    assert (r.status_code, r.json()["code"]) == (422, code)
    assert await vouchers(vs) == 0


@pytest.mark.parametrize("years", [16, 60])
async def test_working_age_bounds_are_inclusive(vs, years):
    await registered_worker(vs, id_number=resident_id(birth=born(years)))
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=vs.headers("worker", sub="acct-1"))
    assert r.status_code == 201, r.text


async def test_working_age_on_behalf(vs):
    worker = await registered_worker(vs, id_number=resident_id(birth=born(62)))
    staff = vs.headers("bureau", sub="staff-1")
    r = await vs.client.post("/v1/vouchers", json={"worker_id": worker["id"], "kind": "inclusive"}, headers=staff)
    assert (r.status_code, r.json()["code"]) == (422, "outside_working_age")
    assert await vouchers(vs) == 0


def test_working_age_is_configurable():
    assert age_on(date(1966, 12, 7), date(2026, 12, 6)) == 59
    check_working_age(date(1960, 1, 1), date(2026, 12, 6), (16, 66))
    with pytest.raises(NotEligible):
        check_working_age(date(1960, 1, 1), date(2026, 12, 6), (16, 60))


async def test_working_age_on_a_roster_reports_the_line(vs):
    staff = vs.headers("bureau", sub="staff-1")
    batch = (await vs.client.post("/v1/batches", json={"name": "普惠班", "kind": "inclusive", "validity_days": 90},
                                  headers=staff)).json()
    roster = "\n".join(["姓名,身份证号,手机号,乡镇,人员类别",
                        f"王五,{resident_id(birth=born(30))},13800000001,临泉镇,rural_migrant",
                        f"赵六,{resident_id(birth=born(61))},13800000002,临泉镇,rural_migrant"]).encode()
    r = await vs.client.post(f"/v1/batches/{batch['id']}/roster", files={"file": ("roster.csv", roster)},
                             headers=staff)
    assert r.status_code == 201, r.text
    assert (r.json()["issued"], [(e["line"], e["errors"][0].split(":")[0]) for e in r.json()["row_errors"]]) == (
        1, [(3, "outside_working_age")])
    assert await vouchers(vs) == 1


def test_working_age_settings_must_be_a_range():
    assert VoucherSettings(environment="test", working_age_max=65).working_age == (16, 65)
    with pytest.raises(ValueError):
        VoucherSettings(environment="test", working_age_min=61, working_age_max=60)
