"""The loop's HTTP client (testsupport.api `Api`) against a small in-process aiohttp server, and the learnt waits.

The demo, the e2e test and the pipeline benchmark rely on `Api`'s behaviour: a 5xx retried with the same
Idempotency-Key, a problem+json answer raised as ApiError with its status and code, multipart uploads whose
file name and content type arrive as sent, pages followed by their cursor, requests counted per route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from testsupport.api import Api, ApiError, Endpoints, _route, scrape
from testsupport.loop import Propagation

CLASS_ID = "0b6c1f9e-5d2a-4c1e-9f3b-2a7d8e6c4b10"


class Service:
    """Answers like the platform's services: JSON bodies, problem+json errors, one flaky route."""

    def __init__(self) -> None:
        self.keys: list[str] = []  # Idempotency-Key of every POST /flaky
        self.uploads: list[dict[str, Any]] = []

    async def flaky(self, request: web.Request) -> web.Response:
        self.keys.append(request.headers["Idempotency-Key"])
        if len(self.keys) < 3:
            return web.json_response({"code": "internal", "title": "服务器内部错误"}, status=503)
        return web.json_response({"attempt": len(self.keys), "sent": await request.json()})

    async def refused(self, request: web.Request) -> web.Response:
        return web.json_response({"type": "about:blank", "code": "voucher_unknown", "title": "券码不存在"},
                                 status=422, content_type="application/problem+json")

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        part = form["file"]
        self.uploads.append({"filename": part.filename, "content_type": part.content_type,
                             "content": part.file.read().decode("utf-8"), "path": request.path})
        return web.json_response({"rejected": 0})

    async def pages(self, request: web.Request) -> web.Response:
        cursor = request.query.get("cursor")
        assert request.query["limit"] == "200"
        if cursor is None:
            return web.json_response({"items": [1, 2], "next_cursor": "c2"})
        return web.json_response({"items": [3], "next_cursor": None})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text='# HELP x\nconsumer_events_total{consumer="c",type="t"} 7.0\nup 1\n')


@pytest.fixture
async def service() -> AsyncIterator[tuple[Service, Api]]:
    svc = Service()
    app = web.Application()
    app.router.add_post("/flaky", svc.flaky)
    app.router.add_post("/v1/classes/{id}/enrolments", svc.refused)
    app.router.add_post("/v1/classes/{id}/enrolments/bulk", svc.upload)
    app.router.add_get("/v1/claims", svc.pages)
    app.router.add_get("/metrics", svc.metrics)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    api = Api(Endpoints(base, base, base, base), concurrency=4)
    try:
        yield svc, api
    finally:
        await api.close()
        await server.close()


async def test_a_server_error_is_retried_with_the_same_idempotency_key(service) -> None:
    svc, api = service
    body = await api.call("POST", f"{api.endpoints.voucher}/flaky", {"Authorization": "Bearer t"}, json={"n": "张三"})
    assert body == {"attempt": 3, "sent": {"n": "张三"}}
    assert len(svc.keys) == 3 and len(set(svc.keys)) == 1
    assert (api.requests, api.retried, api.server_errors) == (3, 2, 2)
    assert api.by_route == {"POST /flaky": 3}


async def test_a_problem_answer_is_raised_with_its_status_and_code(service) -> None:
    _, api = service
    with pytest.raises(ApiError) as caught:
        await api.call("POST", f"{api.endpoints.training}/v1/classes/{CLASS_ID}/enrolments", {}, json={})
    assert (caught.value.status, caught.value.code) == (422, "voucher_unknown")
    assert caught.value.body["title"] == "券码不存在"
    assert api.by_route == {"POST /v1/classes/{id}/enrolments": 1}


async def test_a_file_arrives_with_its_chinese_name_and_content_type(service) -> None:
    svc, api = service
    url = f"{api.endpoints.training}/v1/classes/{CLASS_ID}/enrolments/bulk"
    report = await api.call("POST", url, {}, files={"file": ("报名.csv", "券码,姓名\nV1,李四\n".encode(), "text/csv")})
    assert report == {"rejected": 0}
    assert svc.uploads == [{"filename": "报名.csv", "content_type": "text/csv", "content": "券码,姓名\nV1,李四\n",
                            "path": f"/v1/classes/{CLASS_ID}/enrolments/bulk"}]


async def test_pages_follow_the_cursor_and_scrape_reads_the_counters(service) -> None:
    _, api = service
    assert await api.pages(f"{api.endpoints.subsidy}/v1/claims", {}) == [1, 2, 3]
    assert api.by_route == {"GET /v1/claims": 2}
    assert await scrape(api.session, api.endpoints.subsidy) == {
        ("consumer_events_total", 'consumer="c",type="t"'): 7.0, ("up", ""): 1.0}


def test_route_templates_replace_ids() -> None:
    assert _route(f"http://127.0.0.1:8002/v1/classes/{CLASS_ID}/enrolments/bulk") == "/v1/classes/{id}/enrolments/bulk"
    assert _route("http://127.0.0.1:8004/v1/claims/summary?limit=200") == "/v1/claims/summary"
    assert _route("http://127.0.0.1:8004") == "/"


def test_the_first_ask_delay_settles_where_four_of_five_first_asks_succeed() -> None:
    wait = Propagation(delay=0.5)
    wait.learn(3, ready_after=2.0)  # failed first: lengthened by a fifth
    assert wait.delay == pytest.approx(0.6)
    wait.learn(2, ready_after=0.65)  # failed first, but ready soon after: never past when it was ready
    assert wait.delay == pytest.approx(0.65)
    wait.learn(4, ready_after=0.3)  # an early success seen late never shortens it
    assert wait.delay == pytest.approx(0.65)
    for _ in range(4):
        wait.learn(1, ready_after=0.65)  # four successes at the first ask shorten it by 5 % each
    assert wait.delay == pytest.approx(0.65 * 0.95**4)
    assert wait.gap() == pytest.approx(0.65 * 0.95**4 / 5)
    assert wait.report() == {"waits": 7, "asks": 13, "first_ask_succeeded": 4, "first_delay_s": 0.529,
                             "asks_per_wait": {1: 4, 2: 1, 3: 1, 4: 1}}
