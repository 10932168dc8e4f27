"""The subscribe-message jobs (periodic, on the leader): the expiry reminders are queued, and the sender loop leases
due messages, sends them through the WeChat adapter outside any transaction and records each result (see
handlers/notifications.py for the messages themselves)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.db import transaction, utcnow

from voucher_service.adapters.models import Notification
from voucher_service.adapters.wechat import WeChatClient, WeChatError, WeChatUnavailable
from voucher_service.config import VoucherSettings
from voucher_service.handlers import notifications

log = logging.getLogger("voucher_service.notifications")


async def queue_expiry_reminders(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Hourly: the reminders now due (handlers/notifications.queue_expiry_reminders)."""
    async with transaction(sessionmaker) as session:
        return await notifications.queue_expiry_reminders(session, utcnow())


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** (attempts - 1)))


async def send_due(sessionmaker: async_sessionmaker[AsyncSession], wechat: WeChatClient,
                   settings: VoucherSettings, batch: int = 50) -> dict[str, int]:
    """One round of the sender loop: lease due messages, send them, record each result."""
    now = utcnow()
    async with transaction(sessionmaker) as session:
        due = (await session.execute(
            select(Notification).where(Notification.status == "pending", Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id).limit(batch)
            .with_for_update(skip_locked=True))).scalars().all()
        # the lease: another replica's loop skips them until it runs out (a crashed sender's rows come back)
        leased = [(n.id, n.openid, n.template, dict(n.data), n.page, n.attempts) for n in due]
        for n in due:
            n.next_attempt_at = now + timedelta(seconds=settings.notification_lease_seconds)
    results: dict[str, int] = {}
    for ident, openid, template, data, page, attempts in leased:
        values: dict[str, Any] = {"attempts": attempts + 1}
        template_id = settings.wechat_templates.get(template)
        try:
            if template_id is None:
                raise WeChatError(40037, f"no WeChat template id configured for {template}")
            await wechat.send_subscribe_message(openid, template_id, data, page, settings.wechat_miniprogram_state)
            values.update(status="sent", sent_at=utcnow(), last_error=None)
        except (WeChatError, WeChatUnavailable) as exc:
            transient = isinstance(exc, WeChatUnavailable) or exc.transient
            if isinstance(exc, WeChatError) and exc.errcode == 43101:
                values.update(status="refused", last_error=str(exc)[:300])
            elif transient and attempts + 1 < settings.notification_max_attempts:
                values.update(next_attempt_at=utcnow() + backoff(attempts + 1), last_error=str(exc)[:300])
            else:
                values.update(status="failed", last_error=str(exc)[:300])
                log.warning("notification failed", extra={"notification": str(ident), "error": str(exc)})
        async with transaction(sessionmaker) as session:
            await session.execute(update(Notification).where(Notification.id == ident).values(**values))
        outcome = values.get("status", "retry")
        results[outcome] = results.get(outcome, 0) + 1
    return results
