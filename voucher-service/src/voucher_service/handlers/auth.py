"""Worker login through the WeChat mini-program (code2Session) and the rotation of refresh tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Role, mint_token
from skillkit.db import utcnow
from skillkit.problems import Problem

from voucher_service.adapters.models import RefreshToken, WeChatAccount, Worker
from voucher_service.adapters.wechat import WeChatClient, WeChatError, WeChatSession, WeChatUnavailable
from voucher_service.config import VoucherSettings

log = logging.getLogger("voucher_service.auth")


@dataclass(frozen=True)
class IssuedTokens:
    subject: str
    openid: str
    access_token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    worker: Worker | None


async def exchange_code(wechat: WeChatClient, js_code: str) -> WeChatSession:
    """code2Session, its errors as problems the app can act on (before any database work)."""
    try:
        return await wechat.code2session(js_code)
    except WeChatError as exc:
        if exc.errcode in (40029, 40163):  # invalid / already used
            raise Problem(401, "wechat_code_invalid",
                          "the js_code is invalid, expired or already used: call wx.login() again") from exc
        if exc.errcode == 45011:
            raise Problem(429, "wechat_rate_limited", "too many logins of this WeChat user: wait a minute") from exc
        if exc.errcode == 40226:
            raise Problem(403, "wechat_user_blocked", "WeChat blocked this user as high-risk") from exc
        if exc.errcode == -1:
            raise Problem(503, "wechat_busy", "WeChat is busy: try again in a moment") from exc
        # 40125 (wrong secret), 40013 (wrong appid), ...: our configuration, not the user's fault
        log.error("WeChat refused code2Session", extra={"errcode": exc.errcode, "errmsg": exc.errmsg})
        raise Problem(502, "wechat_error", f"WeChat refused the login (errcode {exc.errcode})") from exc
    except WeChatUnavailable as exc:
        log.warning("WeChat unreachable", extra={"error": str(exc)})
        raise Problem(503, "wechat_unavailable", "WeChat cannot be reached: try again in a moment") from exc


async def wechat_login(
    session: AsyncSession, settings: VoucherSettings, wechat_session: WeChatSession
) -> IssuedTokens:
    """The platform account of this WeChat user (made at the first login) and a fresh token pair."""
    now = utcnow()
    account = await _account_of(session, wechat_session, now)
    return await _issue(session, settings, account.account_subject, account.openid, now)


async def _account_of(session: AsyncSession, wx: WeChatSession, now: datetime) -> WeChatAccount:
    account = await session.get(WeChatAccount, wx.openid)
    if account is None:
        # Another mini-program of the same Open Platform account is the same person (same unionid, same subject).
        sibling = None
        if wx.unionid:
            sibling = await session.scalar(
                select(WeChatAccount).where(WeChatAccount.unionid == wx.unionid).order_by(WeChatAccount.created_at)
                .limit(1))
        subject = sibling.account_subject if sibling else (wx.unionid or wx.openid)
        account = WeChatAccount(openid=wx.openid, unionid=wx.unionid, account_subject=subject,
                                created_at=now, last_login_at=now)
        try:
            async with session.begin_nested():  # two first logins of one user at once: the other one wins
                session.add(account)
        except IntegrityError:
            account = await session.get(WeChatAccount, wx.openid, populate_existing=True)
            assert account is not None
    if wx.unionid and account.unionid is None:
        account.unionid = wx.unionid  # bound to an Open Platform later: the subject stays what it was
    account.last_login_at = now
    return account


async def _issue(session: AsyncSession, settings: VoucherSettings, subject: str, openid: str,
                 now: datetime) -> IssuedTokens:
    worker = await session.scalar(select(Worker).where(Worker.account_subject == subject))
    ttl = timedelta(minutes=settings.worker_token_minutes)
    access = mint_token(settings, Role.WORKER, subject, person_key=worker.person_key if worker else None, ttl=ttl)
    refresh = secrets.token_urlsafe(32)
    refresh_expires = now + timedelta(days=settings.worker_refresh_days)
    session.add(RefreshToken(token_hash=_hash(refresh), account_subject=subject, openid=openid,
                             expires_at=refresh_expires, used_at=None, created_at=now))
    await session.flush()
    return IssuedTokens(subject, openid, access, now + ttl, refresh, refresh_expires, worker)


async def refresh_tokens(session: AsyncSession, settings: VoucherSettings, refresh_token: str) -> IssuedTokens:
    """Rotation: the refresh token is used up and a new pair issued. A refresh token used a second time was
    copied (or a retry raced): every live refresh token of the account is then revoked, and the app logs in again
    through wx.login() — silent for the worker."""
    now = utcnow()
    token_hash = _hash(refresh_token)
    used = (await session.execute(
        update(RefreshToken).where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None),
                                   RefreshToken.expires_at > now)
        .values(used_at=now).returning(RefreshToken.account_subject, RefreshToken.openid))).first()
    if used is None:
        known = await session.get(RefreshToken, token_hash)
        if known is not None and known.used_at is not None:
            await session.execute(update(RefreshToken).where(
                RefreshToken.account_subject == known.account_subject, RefreshToken.used_at.is_(None))
                .values(used_at=now))
            raise RefreshTokenReused()  # the caller commits the revocation, then answers the problem
        raise RefreshTokenReused.problem()
    return await _issue(session, settings, used.account_subject, used.openid, now)


class RefreshTokenReused(Exception):
    """A used refresh token came back: the account's refresh tokens were revoked in the session (commit it)."""

    @staticmethod
    def problem() -> Problem:
        return Problem(401, "refresh_token_invalid",
                       "the refresh token is unknown, expired or already used: log in with WeChat again")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def openid_of_subject(session: AsyncSession, subject: str) -> str | None:
    """The openid to write to for a platform account (the most recent mini-program login)."""
    return await session.scalar(select(WeChatAccount.openid).where(WeChatAccount.account_subject == subject)
                                .order_by(WeChatAccount.last_login_at.desc()).limit(1))
