"""Problem details in Chinese by default, English with `Accept-Language: en`; the stable codes never change."""

from __future__ import annotations

import httpx
import pytest

from skillkit.problem_texts import DETAILS_ZH, detail_zh
from skillkit.problems import prefers_english


@pytest.mark.parametrize(("header", "english"), [
    (None, False), ("", False), ("zh-CN", False), ("en", True), ("en-US,en;q=0.9", True),
    ("zh-CN,zh;q=0.9,en;q=0.8", False), ("en;q=0.8,zh;q=0.9", False), ("fr, en;q=0.5", True), ("fr", False),
    ("en;q=0", False), ("en, zh", True), ("zh, en", False), ("en;q=abc", False)])
def test_accept_language_negotiation(header, english):
    assert prefers_english(header) is english


async def test_chinese_detail_by_default_with_the_english_beside_it(vs):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=vs.app), base_url="http://testserver") as client:
        r = await client.get("/v1/workers/me")  # no token
        assert r.status_code == 401 and r.headers["content-language"] == "zh-CN"
        assert r.json() == {
            "type": "https://linxian-skills.example/problems/token_missing", "title": "未登录或登录已失效",
            "status": 401, "code": "token_missing", "detail": "需要登录：请在 Authorization 头中携带令牌",
            "detail_en": "this endpoint needs a bearer token", "instance": "/v1/workers/me"}
        auth = vs.headers("worker", sub="acct-zh")
        body = {"name": "张三", "id_number": "141124200501011230", "mobile": "13812345678", "township": "临泉镇",
                "categories": ["rural_migrant"]}
        r = await client.post("/v1/workers", json=body, headers=auth)
        assert (r.json()["code"], r.json()["detail"]) == ("id_number_check_digit",
                                                          "身份证号校验位错误（GB 11643），请核对最后一位")
        r = await client.post("/v1/workers", json={**body, "mobile": "123"}, headers=auth)
        assert (r.json()["code"], r.json()["detail"]) == ("validation_failed", "提交的数据不符合要求，请检查：body.mobile")
        r = await client.post("/v1/workers", json={**body, "mobile": "123"}, headers={**auth, "Accept-Language": "en"})
        assert r.headers["content-language"] == "en" and "detail_en" not in r.json()
        assert r.json()["code"] == "validation_failed" and r.json()["detail"].startswith("body.mobile: String should")
        r = await client.get(f"/v1/workers/{'0' * 8}-0000-4000-8000-{'0' * 12}", headers=vs.headers("bureau"))
        assert (r.json()["code"], r.json()["detail"]) == ("worker_not_found", "劳动者不存在")


def test_every_catalogue_entry_is_chinese_and_dynamic_codes_have_one():
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in DETAILS_ZH.values())
    assert detail_zh("voucher_not_found") == "培训券不存在" and detail_zh("follow_up_day_in_future") == "日期不能晚于今天"
    assert detail_zh("e1_not_eligible") == "不符合该类培训券的申领条件（六类人员，E1）"
    assert detail_zh("no_such_code") is None
