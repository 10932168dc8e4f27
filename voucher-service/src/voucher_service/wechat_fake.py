"""A local stand-in for WeChat's server API: mini-program login (code2Session) and subscribe messages.

Development runs it as its own process (`python -m voucher_service.wechat_fake --port 8009`, started by `make run`);
tests mount the same app in-process (httpx.ASGITransport). Nothing here talks to the internet.

What it imitates (docs.weixin.qq.com, /work/shared/formats/outside-systems.md): errors come as HTTP 200 with
`errcode`/`errmsg`; a js_code is single-use and short-lived; `session_key` is returned and must never leave the
server; `unionid` only when the mini-program is bound to an Open Platform account.

What stands in for the phone: `POST /dev/login` (form or query `user=<name>`) plays `wx.login()` and answers a
fresh js_code as plain text, so a shell can do `CODE=$(curl -s -X POST '...:8009/dev/login?user=zhangsan')`.
The same user always gets the same openid (per appid); `GET /dev/messages` lists the subscribe messages sent.
Special users for trying errors: `busy` (-1), `blocked` (40226), `limited` (45011); `refuse` has not agreed to any
subscribe message (43101).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

CODE_TTL_SECONDS = 300  # WeChat: a code is valid for 5 minutes
ACCESS_TOKEN_TTL_SECONDS = 7200

DEV_APPID = "wxdev0000000000000"
DEV_SECRET = "dev-only-wechat-app-secret-0123456789"


def openid_of(appid: str, user: str) -> str:
    """28 characters starting with `o`, like a real openid; stable per (appid, user)."""
    digest = hashlib.sha256(f"{appid}|{user}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def unionid_of(user: str) -> str:
    digest = hashlib.sha256(f"open-platform|{user}".encode()).digest()
    return "u" + base64.urlsafe_b64encode(digest).decode()[:27]


ERROR_USERS = {"busy": (-1, "system error"), "blocked": (40226, "high risk user"),
               "limited": (45011, "api minute-quota reach limit")}


def create_fake(appid: str = DEV_APPID, secret: str = DEV_SECRET, *, with_unionid: bool = False) -> FastAPI:
    app = FastAPI(title="Fake WeChat server API (development and tests only)")
    codes: dict[str, tuple[str, float]] = {}  # js_code -> (user, issued at)
    tokens: dict[str, float] = {}  # access_token -> expires at
    refusing: set[str] = {openid_of(appid, "refuse")}
    app.state.messages = messages = []  # every subscribe message accepted, in order
    app.state.failures = failures = []  # errcodes to answer the next sends with (tests: a transient failure)

    @app.post("/dev/login", response_class=PlainTextResponse)
    async def dev_login(request: Request) -> str:
        user = request.query_params.get("user") or (await request.form()).get("user") or "worker"
        code = "0" + secrets.token_urlsafe(24)
        codes[code] = (str(user), time.monotonic())
        return code

    @app.get("/sns/jscode2session")
    async def jscode2session(request: Request) -> dict[str, Any]:
        q = request.query_params
        if q.get("appid") != appid or q.get("secret") != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if q.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        entry = codes.pop(q.get("js_code", ""), None)  # single use
        if entry is None or time.monotonic() - entry[1] > CODE_TTL_SECONDS:
            return {"errcode": 40029, "errmsg": "invalid code"}
        user = entry[0]
        if user in ERROR_USERS:
            errcode, errmsg = ERROR_USERS[user]
            return {"errcode": errcode, "errmsg": errmsg}
        answer = {"openid": openid_of(appid, user), "session_key": base64.b64encode(secrets.token_bytes(16)).decode()}
        if with_unionid:
            answer["unionid"] = unionid_of(user)
        return answer

    @app.get("/cgi-bin/token")
    async def access_token(request: Request) -> dict[str, Any]:
        q = request.query_params
        if q.get("appid") != appid or q.get("secret") != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = secrets.token_urlsafe(32)
        tokens[token] = time.monotonic() + ACCESS_TOKEN_TTL_SECONDS
        return {"access_token": token, "expires_in": ACCESS_TOKEN_TTL_SECONDS}

    @app.post("/cgi-bin/message/subscribe/send")
    async def subscribe_send(request: Request) -> dict[str, Any]:
        token = request.query_params.get("access_token", "")
        if tokens.get(token, 0) < time.monotonic():
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if failures:
            errcode = failures.pop(0)
            return {"errcode": errcode, "errmsg": "system error" if errcode == -1 else "refused"}
        body = await request.json()
        if not isinstance(body, dict) or not body.get("touser") or not body.get("template_id"):
            return {"errcode": 47003, "errmsg": "argument invalid"}
        if body["touser"] in refusing:
            return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
        messages.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": len(messages)}

    @app.get("/dev/messages")
    async def sent_messages(touser: str | None = None) -> list[dict[str, Any]]:
        return [m for m in messages if touser is None or m["touser"] == touser]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "wechat-fake"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Fake WeChat server API for development (never production)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8009)
    parser.add_argument("--appid", default=DEV_APPID)
    parser.add_argument("--secret", default=DEV_SECRET)
    parser.add_argument("--unionid", action="store_true", help="answer a unionid (an Open Platform binding)")
    args = parser.parse_args(argv)
    uvicorn.run(create_fake(args.appid, args.secret, with_unionid=args.unionid), host=args.host, port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
