"""WeChat's server API behind one adapter: mini-program login (code2Session) and subscribe messages.

The base URL and the app's credentials come from settings. Development points them at the local fake
(`voucher_service.wechat_fake`, its own process); tests mount the fake in-process (`wechat_transport = "fake"`);
production points at https://api.weixin.qq.com and refuses the fake. WeChat answers errors as HTTP 200 with an
`errcode`; they become `WeChatError`, which says whether trying again later may help.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

TRANSIENT_ERRCODES = frozenset({-1, 45011, 40001, 42001})  # busy, rate limit, access token invalid / expired


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    # session_key is deliberately not kept: it never leaves WeChat's answer (never logged, never stored)


class WeChatError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def transient(self) -> bool:
        return self.errcode in TRANSIENT_ERRCODES


class WeChatUnavailable(Exception):
    """WeChat could not be reached (connection refused, timeout, a non-200 answer)."""


class WeChatClient:
    def __init__(self, base_url: str, appid: str, secret: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 5.0) -> None:
        self.appid = appid
        self._secret = secret
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout)
        self._access_token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()
        self.fake: Any = None

    async def dev_login(self, user: str) -> str:
        """A js_code from the fake's stand-in for wx.login() (development and tests only)."""
        return (await self._client.post("/dev/login", params={"user": user})).text

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise WeChatUnavailable(f"{path}: {exc.__class__.__name__}") from exc
        if response.status_code != 200:
            raise WeChatUnavailable(f"{path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise WeChatUnavailable(f"{path}: not JSON") from exc
        if body.get("errcode"):
            raise WeChatError(int(body["errcode"]), str(body.get("errmsg", "")))
        return body

    async def code2session(self, js_code: str) -> WeChatSession:
        body = await self._call("GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self._secret, "js_code": js_code, "grant_type": "authorization_code"})
        if not body.get("openid"):
            raise WeChatUnavailable("/sns/jscode2session: no openid in the answer")
        return WeChatSession(openid=str(body["openid"]), unionid=body.get("unionid") or None)

    async def _token(self) -> str:
        async with self._token_lock:
            if self._access_token is None or self._access_token[1] <= time.monotonic():
                body = await self._call("GET", "/cgi-bin/token", params={
                    "grant_type": "client_credential", "appid": self.appid, "secret": self._secret})
                # renewed five minutes early: a token that expires in flight is an error WeChat counts against us
                self._access_token = (str(body["access_token"]),
                                      time.monotonic() + max(60, int(body.get("expires_in", 7200)) - 300))
            return self._access_token[0]

    async def send_subscribe_message(self, openid: str, template_id: str, data: dict[str, str],
                                     page: str | None = None, state: str = "formal") -> None:
        """subscribeMessage.send: one message per agreement the user gave in the mini-program."""
        token = await self._token()
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "miniprogram_state": state,
                                "lang": "zh_CN", "data": {key: {"value": value} for key, value in data.items()}}
        if page:
            body["page"] = page
        try:
            await self._call("POST", "/cgi-bin/message/subscribe/send", params={"access_token": token}, json=body)
        except WeChatError as exc:
            if exc.errcode in (40001, 42001):
                self._access_token = None  # renewed on the next attempt
            raise


def build_wechat(settings: Any) -> WeChatClient:
    """The adapter the settings ask for: over HTTP, or the fake mounted in-process (tests)."""
    transport: httpx.AsyncBaseTransport | None = None
    fake = None
    if settings.wechat_transport == "fake":
        from voucher_service.wechat_fake import create_fake

        fake = create_fake(settings.wechat_appid, settings.wechat_secret, with_unionid=settings.wechat_fake_unionid)
        transport = httpx.ASGITransport(app=fake)
    client = WeChatClient(settings.wechat_api_base, settings.wechat_appid, settings.wechat_secret, transport=transport)
    client.fake = fake  # tests reach the fake's phone side (`/dev/login`) and its sent messages through it
    return client
