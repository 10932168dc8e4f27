"""Worker login from the WeChat mini-program (code2Session through the adapter; the fake WeChat in-process)."""

from __future__ import annotations

from contextlib import contextmanager

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from skillkit.auth import decode_token
from voucher_service.adapters.models import RefreshToken, WeChatAccount
from voucher_service.adapters.wechat import WeChatClient, build_wechat
from voucher_service.wechat_fake import openid_of, unionid_of

from tests.voucher.helpers import registered_worker, worker_body


async def login(vs, user="zhangsan", **headers):
    code = await vs.app.state.wechat.dev_login(user)
    return await vs.client.post("/v1/auth/wechat", json={"js_code": code}, headers=headers)


async def count(vs, model):
    async with vs.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_first_login_binds_the_openid_and_the_worker_registers_with_the_token(vs):
    r = await login(vs)
    assert r.status_code == 200, r.text
    body = r.json()
    openid = openid_of(vs.settings.wechat_appid, "zhangsan")
    assert body["openid"] == openid and body["subject"] == openid and body["worker"] is None
    assert body["token_type"] == "Bearer" and body["expires_in"] == 120 * 60
    principal = decode_token(body["access_token"], vs.settings)
    assert (principal.role, principal.subject, principal.person_key) == ("worker", openid, None)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 7200
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await vs.client.get("/v1/workers/me", headers=auth)).json()["code"] == "worker_not_registered"

    r = await vs.client.post("/v1/workers", json=worker_body(name="张三"), headers=auth)
    assert r.status_code == 201
    again = (await login(vs)).json()  # the same WeChat user logs in again: same account, now with its worker
    assert again["subject"] == openid and again["worker"]["name"] == "张三"
    assert again["worker"]["id_number_masked"].startswith("141124********")
    assert decode_token(again["access_token"], vs.settings).person_key is not None
    assert await count(vs, WeChatAccount) == 1


async def test_the_account_linking_rules_apply_to_a_worker_staff_registered(vs):
    """Staff registered the worker (P2); the WeChat account links to it only with the registered name."""
    staff = vs.headers("bureau", sub="staff-1")
    body = worker_body(name="李四")
    assert (await vs.client.post("/v1/workers", json=body, headers=staff)).status_code == 201
    token = (await login(vs, "lisi")).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = await vs.client.post("/v1/workers", json={**body, "name": "王五"}, headers=auth)
    assert (r.status_code, r.json()["status"]) == (202, "referred_to_bureau")  # issue 16
    # the referral holds the account: the bureau checks the identity, the app no longer links it
    r = await vs.client.post("/v1/workers", json=body, headers=auth)
    assert (r.status_code, r.json()["status"]) == (202, "referred_to_bureau")
    token = (await login(vs, "lisi-2")).json()["access_token"]
    r = await vs.client.post("/v1/workers", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["on_behalf"] is True
    assert (await login(vs, "lisi-2")).json()["worker"]["name"] == "李四"


async def test_a_code_is_single_use_and_an_unknown_code_changes_nothing(vs):
    code = await vs.app.state.wechat.dev_login("zhangsan")
    assert (await vs.client.post("/v1/auth/wechat", json={"js_code": code})).status_code == 200
    r = await vs.client.post("/v1/auth/wechat", json={"js_code": code})
    assert (r.status_code, r.json()["code"]) == (401, "wechat_code_invalid")
    r = await vs.client.post("/v1/auth/wechat", json={"js_code": "never-issued"})
    assert (r.status_code, r.json()["code"]) == (401, "wechat_code_invalid")
    assert (await count(vs, WeChatAccount), await count(vs, RefreshToken)) == (1, 1)


@pytest.mark.parametrize(("user", "status", "code"), [
    ("busy", 503, "wechat_busy"), ("blocked", 403, "wechat_user_blocked"), ("limited", 429, "wechat_rate_limited")])
async def test_wechat_errors_become_problems(vs, user, status, code):
    r = await login(vs, user)
    assert (r.status_code, r.json()["code"]) == (status, code)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await count(vs, WeChatAccount) == 0


@contextmanager
def wechat_of(vs, client):
    """The service talks to another WeChat for the block."""
    before = vs.app.state.wechat
    vs.app.state.wechat = client
    try:
        yield client
    finally:
        vs.app.state.wechat = before


async def test_wechat_unreachable_is_a_503_and_a_wrong_secret_a_502(vs):
    unreachable = vs.settings.model_copy(update={"wechat_transport": "http", "wechat_api_base": "http://127.0.0.1:9"})
    with wechat_of(vs, build_wechat(unreachable)):
        r = await vs.client.post("/v1/auth/wechat", json={"js_code": "x"})
    assert (r.status_code, r.json()["code"]) == (503, "wechat_unavailable")
    fake = vs.app.state.wechat.fake  # knows the configured secret; this client sends another one
    wrong = WeChatClient("http://fake", vs.settings.wechat_appid, "not-the-secret",
                         transport=httpx.ASGITransport(app=fake))
    with wechat_of(vs, wrong):
        r = await vs.client.post("/v1/auth/wechat", json={"js_code": await wrong.dev_login("a")})
    assert (r.status_code, r.json()["code"]) == (502, "wechat_error")
    assert await count(vs, WeChatAccount) == 0


async def test_unionid_is_the_subject_when_wechat_sends_one_and_stays_when_it_appears_later(vs):
    openid = openid_of(vs.settings.wechat_appid, "wangwu")
    first = (await login(vs, "wangwu")).json()  # no Open Platform binding yet: the openid is the subject
    assert first["subject"] == openid
    with wechat_of(vs, build_wechat(vs.settings.model_copy(update={"wechat_fake_unionid": True}))):
        later = (await login(vs, "wangwu")).json()
        fresh = (await login(vs, "zhaoliu")).json()
    assert later["subject"] == openid  # the account does not change under the worker
    async with vs.sessionmaker() as session:
        assert (await session.get(WeChatAccount, openid)).unionid == unionid_of("wangwu")
    assert fresh["subject"] == unionid_of("zhaoliu") and fresh["openid"] == openid_of(vs.settings.wechat_appid,
                                                                                      "zhaoliu")


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_account(vs):
    first = (await login(vs)).json()
    r = await vs.client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["subject"] == first["subject"] and second["refresh_token"] != first["refresh_token"]
    assert decode_token(second["access_token"], vs.settings).subject == first["subject"]
    r = await vs.client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert (r.status_code, r.json()["code"]) == (401, "refresh_token_invalid")
    # the reuse looked like a copied token: the newer one was revoked with it
    r = await vs.client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert (r.status_code, r.json()["code"]) == (401, "refresh_token_invalid")
    r = await vs.client.post("/v1/auth/refresh", json={"refresh_token": "never-issued"})
    assert (r.status_code, r.json()["code"]) == (401, "refresh_token_invalid")
    assert (await login(vs)).status_code == 200  # logging in again through wx.login() works


async def test_the_fake_runs_as_its_own_server_process_too(vs):
    """Development starts the fake as a process (`make run`); the adapter talks to it over HTTP."""
    import asyncio
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "voucher_service.wechat_fake", "--port",
                                                str(port))
    try:
        client = build_wechat(vs.settings.model_copy(update={"wechat_transport": "http",
                                                             "wechat_api_base": f"http://127.0.0.1:{port}"}))
        for _ in range(100):
            try:
                code = await client.dev_login("zhangsan")
                break
            except Exception:
                await asyncio.sleep(0.1)
        session = await client.code2session(code)
        assert session.openid == openid_of(vs.settings.wechat_appid, "zhangsan") and session.unionid is None
        await client.close()
    finally:
        proc.terminate()
        await proc.wait()
