"""Subscribe messages to workers, driven by events: an outbox of messages and a sender loop.

Messages are queued, never sent, where the events are handled: the lifecycle consumer queues those of the events
it consumes anyway (an enrolment refused, a certificate, an allowance paid or returned) and of the bindings it makes
(voucher.bound), in its own transaction — no second fetch of those topics, no second inbox row per event — and a
small consumer group of its own reads the service's own topic for voucher.issued (the claim and the roster stay as
they were). Per batch, one SELECT finds the WeChat openids of the batch's persons (workers who never logged in
through the mini-program get nothing) and one INSERT … ON CONFLICT DO NOTHING writes the messages, keyed by
(event id, template) — the CloudEvent id, or the binding for voucher.bound — so a redelivered event adds nothing.
The sender loop (a periodic job, jobs/notifications.py) leases due rows, sends them through the WeChat adapter outside any transaction, and
records the result: sent, refused (the worker gave no agreement for the template: WeChat's 43101, not retried),
failed (a permanent error, or out of attempts), or pending again after a backoff (WeChat busy or unreachable). A
crash between WeChat's answer and the record sends that message again: at least once, which WeChat's per-agreement
quota bounds.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import utcnow
from skillkit.events import Envelope
from skillkit.inserts import insert_or_skip_statement

from voucher_service.adapters.models import Notification, Voucher, WeChatAccount, Worker
from voucher_service.domain import notifications as content

QUEUE = "voucher.notifications"  # session.info key: (event id, Message) of the batch


def _queue(session: AsyncSession, event_id: str, message: content.Message) -> None:
    session.info.setdefault(QUEUE, []).append((event_id, message))


async def on_voucher_issued(session: AsyncSession, envelope: Envelope) -> None:
    _queue(session, envelope.id, content.voucher_issued(envelope.data))


def queue_bound(session: AsyncSession, payload: Any) -> None:
    """Called where the lifecycle consumer binds a voucher (it emits voucher.bound there): keyed by the binding."""
    _queue(session, f"voucher-bound:{payload.voucher_id}:{payload.enrolment_id}", content.enrolment_bound(payload))


async def on_enrolment_rejected(session: AsyncSession, envelope: Envelope) -> None:
    # training.enrolment_rejected covers every refusal (the voucher's binding and the province's real-name check)
    _queue(session, envelope.id, content.enrolment_refused(envelope.data, envelope.time))


async def on_certificate_issued(session: AsyncSession, envelope: Envelope) -> None:
    _queue(session, envelope.id, content.certificate_issued(envelope.data))


async def on_claim_paid(session: AsyncSession, envelope: Envelope) -> None:
    if envelope.data.claim_type == "living_allowance":  # S4: the only subsidy paid to the worker
        _queue(session, envelope.id, content.allowance_paid(envelope.data))


async def on_payment_returned(session: AsyncSession, envelope: Envelope) -> None:
    if envelope.data.claim_type == "living_allowance":  # S4: the worker's own money came back (退票)
        _queue(session, envelope.id, content.allowance_returned(envelope.data))


def discard(session: AsyncSession) -> None:
    """Notifications turned off: what the batch queued is dropped."""
    session.info.pop(QUEUE, None)


async def end_of_batch(session: AsyncSession) -> None:
    queued = session.info.pop(QUEUE, None)
    if queued:
        await write_messages(session, queued)


async def openids(session: AsyncSession, person_keys: set[str]) -> dict[str, str]:
    """person key -> the openid of the worker's latest mini-program login."""
    rows = await session.execute(
        select(Worker.person_key, WeChatAccount.openid)
        .join(WeChatAccount, WeChatAccount.account_subject == Worker.account_subject)
        .where(Worker.person_key.in_(sorted(person_keys))).order_by(WeChatAccount.last_login_at))
    return {key: openid for key, openid in rows}  # the latest login wins


async def write_messages(session: AsyncSession, queued: list[tuple[str, content.Message]]) -> int:
    recipients = await openids(session, {m.person_key for _, m in queued})
    now = utcnow()
    rows = [dict(id=uuid.uuid4(), event_id=event_id, template=m.template, person_key=m.person_key,
                 openid=recipients[m.person_key], data=m.data, page=m.page, status="pending", attempts=0,
                 next_attempt_at=now, last_error=None, created_at=now, sent_at=None)
            for event_id, m in queued if m.person_key in recipients]
    if rows:
        await session.execute(insert_or_skip_statement(session.bind.dialect.name, Notification.__table__, ("event_id", "template")),
                              rows)
    return len(rows)


async def queue_expiry_reminders(session: AsyncSession, now: datetime) -> int:
    """A reminder 30 and 7 days before an unbound voucher expires (bound vouchers do not expire). The 30-day
    reminder is skipped for a voucher already within 7 days: the 7-day one says it. Returns how many were queued."""
    queued: list[tuple[str, content.Message]] = []
    for days, later_days in zip(content.EXPIRY_REMINDER_DAYS, (*content.EXPIRY_REMINDER_DAYS[1:], 0)):
        due = await session.execute(
            select(Voucher.id, Voucher.code, Voucher.person_key, Voucher.valid_until)
            .join(Worker, Worker.id == Voucher.worker_id)
            .where(Voucher.status == "issued", Worker.account_subject.is_not(None),
                   Voucher.valid_until > now + timedelta(days=later_days),
                   Voucher.valid_until <= now + timedelta(days=days)))
        queued += [(f"voucher-expiring:{vid}:{days}",
                    content.voucher_expiring(key, str(vid), code, valid_until, days))
                   for vid, code, key, valid_until in due]
    return await write_messages(session, queued) if queued else 0
