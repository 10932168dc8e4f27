"""No back-dated training (issue 13): a check-in dated before the trainee was enrolled and bound, before an order
class's approval, or in the future is refused, and changes nothing. The clock those days are judged against is
movable only where the settings allow it (the demo, the end-to-end test, the benchmarks); production refuses that."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from skillkit.county import COUNTY_TZ
from training_service.adapters.models import CheckIn
from training_service.config import TrainingSettings

from tests.training.support import World, count, resident_id, today
from tests.training.test_classes import ORDER


async def test_check_in_before_the_enrolment_is_refused(ts):
    w = await World(ts).setup()
    start = today() - timedelta(days=5)
    c = await w.open_class(start_date=start.isoformat(), end_date=(start + timedelta(days=6)).isoformat())
    number = resident_id(1)
    v = await w.voucher(number)
    r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments", headers=w.org,
                             json={"voucher_code": v["code"], "trainee_name": "张三", "id_number": number})
    assert r.status_code == 201, r.text  # enrolled today, three days into the class
    await w.bind(r.json(), v, c["id"])
    e = r.json()
    r = await w.check_in(c["id"], e["id"], start + timedelta(days=2))
    assert (r.status_code, r.json()["code"]) == (422, "check_in_before_enrolment")
    r = await w.check_in(c["id"], e["id"], today() + timedelta(days=1))
    assert (r.status_code, r.json()["code"]) == (422, "checked_at_in_future")
    assert await count(ts, CheckIn) == 0
    r = await w.check_in(c["id"], e["id"], today())
    assert (r.status_code, r.json()["attended_days"]) == (201, 1)


async def test_S2_check_in_before_the_order_class_approval_is_refused(ts):
    w = await World(ts).setup()
    start = today() - timedelta(days=5)
    c = await w.open_class(kind="order", order=ORDER, start_date=start.isoformat(),
                           end_date=(start + timedelta(days=6)).isoformat())
    clock = ts.app.state.clock
    clock.move_to(datetime.combine(start + timedelta(days=2), time(9, 0), COUNTY_TZ))  # approved on the third day
    try:
        assert (await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True},
                                     headers=w.bureau)).status_code == 200
    finally:
        clock.reset()
    e, _ = await w.active_trainee(c["id"], kind="order")  # enrolled and bound on the class's first day
    r = await w.check_in(c["id"], e["id"], start + timedelta(days=1))
    assert (r.status_code, r.json()["code"]) == (422, "check_in_before_approval")
    rows = f"enrolment_id,method,checked_at\n{e['id']},face,{datetime.combine(start, time(9), COUNTY_TZ).isoformat()}\n"
    r = await ts.client.post(f"/v1/classes/{c['id']}/check-ins/bulk", headers=w.org,
                             files={"file": ("签到.csv", rows.encode(), "text/csv")})
    assert (r.json()["rejected"], r.json()["row_errors"][0]["code"]) == (1, "check_in_before_approval")
    assert await count(ts, CheckIn) == 0
    assert (await w.check_in(c["id"], e["id"], start + timedelta(days=2))).status_code == 201


async def test_the_clock_moves_only_where_the_settings_allow(ts):
    """Development and test may move it (PUT /v1/clock, admin); the check-in's future is judged against it."""
    admin = ts.headers("admin")
    ahead = datetime.combine(today() + timedelta(days=3), time(12), COUNTY_TZ)
    r = await ts.client.put("/v1/clock", json={"now": ahead.isoformat()}, headers=admin)
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["now"]) >= ahead
    assert (await ts.client.put("/v1/clock", json={"now": ahead.isoformat()},
                                headers=ts.headers("bureau"))).status_code == 403
    r = await ts.client.put("/v1/clock", json={"now": None}, headers=admin)
    assert date.fromisoformat(r.json()["now"][:10]) <= today() + timedelta(days=1)
    from tests.kit.test_app_factory import STRONG_SECRETS

    with pytest.raises(ValidationError, match="movable clock"):
        TrainingSettings(environment="production", database_url="postgresql+asyncpg://db/x", movable_clock=True,
                         voucher_qr_public_key="x" * 43, province_public_key="y" * 43, **STRONG_SECRETS)
