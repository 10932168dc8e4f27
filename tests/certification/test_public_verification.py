from __future__ import annotations

import httpx

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
    limiter.clock = lambda: 1000.0
    try:
        body = {"certificate_no": "141124-2026-000001-X", "holder_name": "张三"}
        statuses = [(await cs.client.post(URL, json=body)).status_code for _ in range(5)]
        assert statuses == [200] * 5
        r = await cs.client.post(URL, json=body)
        assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["Retry-After"] == "60"
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cs.app, client=("10.0.0.2", 4000)), base_url="http://testserver"
        )
        async with other:
            assert (await other.post(URL, json=body)).status_code == 200
        limiter.clock = lambda: 1060.5  # the window slid past the first five
        assert (await cs.client.post(URL, json=body)).status_code == 200
    finally:
        import time

        limiter.clock = time.monotonic


async def test_public_check_changes_nothing_and_validates_input(cs):
    await certified(cs)
    before = await count(cs, kit_tables.outbox)
    r = await cs.client.post(URL, json={"certificate_no": "", "holder_name": "张三"})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await cs.client.post(URL, json={"certificate_no": resident_id(), "holder_name": "张三", "extra": 1})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert await count(cs, kit_tables.outbox) == before
