from __future__ import annotations

import asyncio
import os
import time

import httpx
from sqlalchemy import select

from certification_service.adapters.models import RateLimitHit
from certification_service.main import create
from skillkit.platform import uvicorn_command
from skillkit.tansu import free_port
from skillkit.testing.harness import eventually, running_service

from certification_service.adapters.models import kit_tables

from tests.certification.helpers import certified, count, resident_id, staff

URL = "/v1/public/certificate-checks"


async def test_valid_certificate_answers_with_masked_name_without_token(cs):
    _, cert = await certified(cs, name="张三丰")
    r = await cs.client.post(URL, json={"certificate_no": cert["display_no"], "holder_name": "张三丰"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["result"], data["result_label"]) == ("valid", "证书有效")
    assert data["holder_name_masked"] == "张*丰"
    assert "张三丰" not in r.text
    assert (data["occupation_code"], data["occupation_name"], data["level"], data["level_label"]) == (
        "4-10-01-05", "养老护理员", 5, "初级工"
    )
    assert data["issued_on"] == cert["issued_on"]
    assert data["institution_name"] == "临县职业技能评价中心"
    assert data["certificate_no"] == cert["display_no"]
    # the compact and lower-case forms are the same certificate
    r = await cs.client.post(URL, json={"certificate_no": cert["certificate_no"].lower(), "holder_name": " 张三丰 "})
    assert r.json()["result"] == "valid"


async def test_wrong_name_answers_exactly_like_an_unknown_number(cs):
    _, cert = await certified(cs, name="张三丰")
    wrong_name = await cs.client.post(URL, json={"certificate_no": cert["certificate_no"], "holder_name": "李四"})
    number = cert["certificate_no"]
    unknown_seq = number[:10] + "999999"
    from stdnum.iso7064 import mod_37_36

    unknown_number = unknown_seq + mod_37_36.calc_check_digit(unknown_seq)
    unknown = await cs.client.post(URL, json={"certificate_no": unknown_number, "holder_name": "张三丰"})
    typo = await cs.client.post(URL, json={"certificate_no": number[:-1] + "?", "holder_name": "张三丰"})
    assert wrong_name.status_code == unknown.status_code == typo.status_code == 200
    assert wrong_name.json() == unknown.json() == typo.json()
    assert wrong_name.json()["result"] == "unknown" and wrong_name.json()["result_label"] == "未查询到该证书"
    assert wrong_name.json()["holder_name_masked"] is None and wrong_name.json()["occupation_code"] is None


async def test_revoked_certificate_answers_revoked(cs):
    _, cert = await certified(cs, name="王小二")
    await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": "fraud"}, headers=staff(cs))
    r = await cs.client.post(URL, json={"certificate_no": cert["certificate_no"], "holder_name": "王小二"})
    data = r.json()
    assert (data["result"], data["result_label"], data["holder_name_masked"]) == ("revoked", "证书已撤销", "王*二")
    assert data["revoked_on"] is not None


async def test_public_check_is_rate_limited_per_client(cs):
    # The fixture sets the limit to 5 checks per 60 s; the limiter's clock is frozen for the test.
    limiter = cs.app.state.verify_limiter
    limiter.clock = lambda: 1000.0  # window [960, 1020)
    try:
        body = {"certificate_no": "141124-2026-000001-X", "holder_name": "张三"}
        statuses = [(await cs.client.post(URL, json=body)).status_code for _ in range(5)]
        assert statuses == [200] * 5
        r = await cs.client.post(URL, json=body)
        assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["Retry-After"] == "20"
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cs.app, client=("10.0.0.2", 4000)), base_url="http://testserver"
        )
        async with other:
            assert (await other.post(URL, json=body)).status_code == 200
        limiter.clock = lambda: 1020.5  # the next window
        assert (await cs.client.post(URL, json=body)).status_code == 200
        # no client address is stored, only its keyed pseudonym; the finished window's rows are gone
        async with cs.sessionmaker() as session:
            rows = (await session.execute(select(RateLimitHit))).scalars().all()
        assert [(row.window_no, row.hits) for row in rows] == [(17, 1)]
        assert all("127.0.0.1" not in row.client and len(row.client) == 64 for row in rows)
    finally:
        limiter.clock = time.time


CHECK = {"certificate_no": "141124-2026-000001-X", "holder_name": "张三"}


async def test_issue16_forwarded_for_is_not_believed_by_default(cs):
    """Rotating X-Forwarded-For from one address gives no extra checks: no proxy is trusted by default."""
    cs.app.state.verify_limiter.clock = lambda: 1000.0
    statuses = [(await cs.client.post(URL, json=CHECK, headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code
                for i in range(6)]
    assert statuses == [200] * 5 + [429]


async def test_issue16_forwarded_for_is_not_believed_by_the_served_process(cs):
    """The service as `make run`, the images and the manifests serve it (uvicorn, skillkit.platform's flags): uvicorn's
    own default believed X-Forwarded-For from 127.0.0.1, so a local caller rotating it was never limited."""
    port = free_port()
    env = {**os.environ, "SKILLS_DATABASE_URL": cs.settings.database_url, "SKILLS_RUN_RELAY": "false",
           "SKILLS_RUN_CONSUMERS": "false", "SKILLS_RUN_PERIODIC": "false", "SKILLS_VERIFY_RATE_LIMIT": "3",
           "SKILLS_VERIFY_RATE_WINDOW_SECONDS": "3600",
           "SKILLS_LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(*uvicorn_command("certification_service", port), env=env,
                                                   stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await eventually(lambda: _healthy(client), timeout=60)
            statuses = [(await client.post(URL, json=CHECK, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                        for i in range(4)]
        assert statuses == [200, 200, 200, 429]
    finally:
        process.terminate()
        await process.wait()


async def _healthy(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def test_issue16_forwarded_for_is_believed_from_a_configured_proxy_and_the_limit_is_shared(cs):
    """A second replica on the same database, behind a proxy it trusts: the forwarded address is the client, and the
    count is the database's, so the two replicas together allow the limit once."""
    settings = cs.settings.model_copy(update={"trusted_proxies": ("127.0.0.1",)})
    async with running_service(create, settings, "certification_service.migrations") as replica:
        cs.app.state.verify_limiter.clock = replica.app.state.verify_limiter.clock = lambda: 1000.0
        assert [(await cs.client.post(URL, json=CHECK)).status_code for _ in range(3)] == [200] * 3
        # through the proxy: 127.0.0.1 itself has used 3 of 5, the forwarded clients each their own
        proxied = [(await replica.client.post(URL, json=CHECK, headers={"X-Forwarded-For": "203.0.113.7"})).status_code
                   for _ in range(6)]
        assert proxied == [200] * 5 + [429]
        assert (await replica.client.post(URL, json=CHECK, headers={"X-Forwarded-For": "203.0.113.8"})).status_code == 200
        # without the header the replica sees the proxy's own address, counted with the first replica's three
        assert [(await replica.client.post(URL, json=CHECK)).status_code for _ in range(3)] == [200, 200, 429]
        assert (await cs.client.post(URL, json=CHECK)).status_code == 429


async def test_public_check_changes_nothing_and_validates_input(cs):
    await certified(cs)
    before = await count(cs, kit_tables.outbox)
    r = await cs.client.post(URL, json={"certificate_no": "", "holder_name": "张三"})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await cs.client.post(URL, json={"certificate_no": resident_id(), "holder_name": "张三", "extra": 1})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert await count(cs, kit_tables.outbox) == before
