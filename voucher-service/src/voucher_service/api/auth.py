"""Worker login from the WeChat mini-program, and token refresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from skillkit.app import Session
from skillkit.auth import PUBLIC, Principal, require_roles
from skillkit.county import CountyTime
from skillkit.pii import cipher_for

from voucher_service.api.schemas import WorkerOut
from voucher_service.api.views import worker_view
from voucher_service.handlers.auth import (
    IssuedTokens,
    RefreshTokenReused,
    exchange_code,
    refresh_tokens,
    wechat_login,
)

router = APIRouter(prefix="/v1/auth", tags=["auth 登录"])


class WeChatLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"js_code": "0a3Xk1ll2Vb7Xc4n"}]})

    # what wx.login() gave the mini-program; single-use, valid for five minutes
    js_code: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenOut(BaseModel):
    token_type: str = "Bearer"
    access_token: str
    expires_in: int
    expires_at: CountyTime
    refresh_token: str
    refresh_expires_at: CountyTime
    subject: str
    openid: str
    # null until the worker registers (POST /v1/workers with their name and ID number; a record staff made for
    # them is linked to this account when the name matches)
    worker: WorkerOut | None


def _out(request: Request, tokens: IssuedTokens) -> TokenOut:
    worker = None
    if tokens.worker is not None:
        worker = worker_view(tokens.worker, cipher_for(request.app.state.settings), own=True)
    return TokenOut(access_token=tokens.access_token, expires_in=request.app.state.settings.worker_token_minutes * 60,
                    expires_at=tokens.expires_at, refresh_token=tokens.refresh_token,
                    refresh_expires_at=tokens.refresh_expires_at, subject=tokens.subject, openid=tokens.openid,
                    worker=worker)


# Neither operation takes an Idempotency-Key: a stored answer would keep live tokens, and a retry cannot reuse the
# single-use js_code or the rotated refresh token anyway (the app calls wx.login() again, which WeChat prescribes).
@router.post("/wechat", response_model=TokenOut,
             summary="Log in from the WeChat mini-program (code2Session) — public",
             description="Exchanges the `js_code` of `wx.login()` through WeChat's code2Session for the platform's "
                         "worker token, bound to the unionid when WeChat sends one, else the openid. The first login "
                         "creates the account; `worker` stays null until the worker registers (`POST /v1/workers`).")
async def login(request: Request, session: Session, body: WeChatLoginIn,
                _: Annotated[Principal | None, require_roles(PUBLIC)]) -> TokenOut:
    wechat_session = await exchange_code(request.app.state.wechat, body.js_code)
    tokens = await wechat_login(session, request.app.state.settings, wechat_session)
    await session.commit()
    return _out(request, tokens)


@router.post("/refresh", response_model=TokenOut, summary="A new token pair for a refresh token (rotated) — public")
async def refresh(request: Request, session: Session, body: RefreshIn,
                  _: Annotated[Principal | None, require_roles(PUBLIC)]) -> TokenOut:
    try:
        tokens = await refresh_tokens(session, request.app.state.settings, body.refresh_token)
    except RefreshTokenReused:
        await session.commit()  # the revocation of the account's refresh tokens stands
        raise RefreshTokenReused.problem() from None
    await session.commit()
    return _out(request, tokens)
