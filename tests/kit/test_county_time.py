"""One time format in what people see: an instant is ISO 8601 in county time (+08:00), to the second; a request may
give any offset and one without is refused; inside, time stays UTC-aware."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from skillkit.county import COUNTY_TIME_EXAMPLE, CountyTime, county_time
from skillkit.problems import install_problem_handlers

UTC_INSTANT = datetime(2026, 12, 6, 5, 5, 0, 123456, tzinfo=timezone.utc)


class Stamped(BaseModel):
    at: CountyTime
    until: CountyTime | None = None


def test_an_instant_is_shown_in_county_time_to_the_second():
    assert county_time(UTC_INSTANT) == "2026-12-06T13:05:00+08:00"
    assert county_time(datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)) == "2027-01-01T00:30:00+08:00"
    with pytest.raises(ValueError, match="naive"):
        county_time(datetime(2026, 12, 6, 13, 5))


def test_county_time_fields_answer_plus_eight_in_json_and_stay_utc_aware_in_python():
    stamped = Stamped(at=UTC_INSTANT)
    assert stamped.model_dump_json() == '{"at":"2026-12-06T13:05:00+08:00","until":null}'
    assert stamped.model_dump(mode="json") == {"at": "2026-12-06T13:05:00+08:00", "until": None}
    assert stamped.model_dump()["at"] is UTC_INSTANT  # Python side untouched: handlers compare UTC instants


@pytest.mark.parametrize("given", ["2026-12-06T05:05:00Z", "2026-12-06T05:05:00+00:00", "2026-12-06T13:05:00+08:00",
                                   "2026-12-06T00:05:00-05:00"])
def test_a_request_may_give_any_offset(given):
    stamped = Stamped.model_validate_json(f'{{"at": "{given}"}}')
    assert stamped.at == UTC_INSTANT.replace(microsecond=0)
    assert stamped.at.utcoffset() == timedelta(hours=int(given[-6:-3]) if given[-1] != "Z" else 0)


def test_a_naive_time_is_refused():
    with pytest.raises(ValidationError, match="timezone_aware"):
        Stamped.model_validate_json('{"at": "2026-12-06T13:05:00"}')


def test_the_schema_shows_the_county_format():
    for mode in ("validation", "serialization"):
        schema = Stamped.model_json_schema(mode=mode)["properties"]
        assert schema["at"] == {"type": "string", "format": "date-time", "examples": [COUNTY_TIME_EXAMPLE],
                                "title": "At"}
        assert schema["until"]["anyOf"][0]["examples"] == [COUNTY_TIME_EXAMPLE]


async def test_a_naive_time_in_a_body_is_a_422_saying_how_to_write_it():
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/stamp")
    async def stamp(body: Stamped) -> Stamped:
        return body

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        ok = await client.post("/stamp", json={"at": "2026-12-06T00:05:00-05:00"})
        assert (ok.status_code, ok.json()) == (200, {"at": "2026-12-06T13:05:00+08:00", "until": None})
        zh = await client.post("/stamp", json={"at": "2026-12-06T13:05:00"})
        assert (zh.status_code, zh.json()["code"], zh.json()["detail"]) == (
            422, "validation_failed",
            "提交的数据不符合要求，请检查：body.at；时间须带时区，例如 2026-12-06T13:05:00+08:00（北京时间）")
        en = await client.post("/stamp", json={"at": "2026-12-06T13:05:00"}, headers={"Accept-Language": "en"})
        assert (en.status_code, en.json()["detail"]) == (
            422, "body.at: a time needs its offset, e.g. 2026-12-06T13:05:00+08:00 (county time) or "
                 "2026-12-06T05:05:00Z (UTC)")
