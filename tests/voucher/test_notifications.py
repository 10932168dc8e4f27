"""Subscribe messages to workers, driven by events: queued idempotently by the notification consumer, sent by the
sender loop through the WeChat adapter (the fake WeChat in-process), retried, never blocking the consumer."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from skillkit.contracts.certification import CertificateIssued
from skillkit.contracts.subsidy import ClaimPaid, PaymentReturned
from skillkit.contracts.training import TrainingEnrolled, TrainingEnrolmentRejected
from skillkit.contracts.voucher import VoucherIssued
from skillkit.db import utcnow
from skillkit.events import build_event, parse_event
from voucher_service.adapters.models import Notification, Voucher, Worker
from voucher_service.adapters.wechat import build_wechat
from voucher_service.consumers import CONSUMER_NAME, NOTIFICATION_CONSUMER
from voucher_service.jobs.notifications import queue_expiry_reminders, send_due
from voucher_service.wechat_fake import openid_of

from tests.voucher.helpers import worker_body
from tests.voucher.ids import resident_id


@pytest.fixture(autouse=True)
def fresh_fake(vs):
    """The fake WeChat lives as long as the service (the session): each test sees only its own messages."""
    vs.app.state.wechat.fake.state.messages.clear()
    vs.app.state.wechat.fake.state.failures.clear()


async def app_worker(vs, user: str, seq: int = 1) -> dict:
    """A worker who logged in through the mini-program and registered: their token, openid and person key."""
    code = await vs.app.state.wechat.dev_login(user)
    login = (await vs.client.post("/v1/auth/wechat", json={"js_code": code})).json()
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    r = await vs.client.post("/v1/workers", json=worker_body(id_number=resident_id(seq=f"{seq:03d}")), headers=auth)
    assert r.status_code == 201, r.text
    async with vs.sessionmaker() as session:
        key = await session.scalar(select(Worker.person_key).where(Worker.id == uuid.UUID(r.json()["id"])))
    return {"auth": auth, "openid": login["openid"], "person_key": key, "worker_id": r.json()["id"]}


async def feed(vs, payload, partition_key: str, event_id: str | None = None) -> None:
    """To the consumer that handles the event: voucher.issued the notification consumer (the service's own topic),
    the others the lifecycle consumer, which queues their messages in its own transaction."""
    _, _, raw = build_event(payload, source="/tests", partition_key=partition_key, event_id=event_id)
    consumer = NOTIFICATION_CONSUMER if isinstance(payload, VoucherIssued) else CONSUMER_NAME
    await vs.runtime.processors[consumer].apply(parse_event(raw))


async def rows(vs) -> list[Notification]:
    async with vs.sessionmaker() as session:
        return list((await session.execute(select(Notification).order_by(Notification.created_at,
                                                                         Notification.template))).scalars())


def issued(person_key: str, **kw) -> VoucherIssued:
    values = dict(voucher_id=str(uuid.uuid4()), code="LXNO44RBTAT", worker_id=str(uuid.uuid4()), person_key=person_key,
                  kind="inclusive", policy_year=2026, valid_from=utcnow(),
                  valid_until=utcnow().replace(year=2027, month=3, day=1, hour=4), channel="claim",
                  categories=["rural_migrant"], living_allowance_eligible=False, issued_by="acct")
    values.update(kw)
    return VoucherIssued(**values)


def sent(vs) -> list[dict]:
    return vs.app.state.wechat.fake.state.messages


async def send(vs) -> dict[str, int]:
    return await send_due(vs.sessionmaker, vs.app.state.wechat, vs.settings)


async def test_a_voucher_issued_reaches_the_worker_once_however_often_the_event_comes(vs):
    w = await app_worker(vs, "zhangsan")
    event = issued(w["person_key"])
    await feed(vs, event, w["person_key"], event_id="ev-issued-1")
    await feed(vs, event, w["person_key"], event_id="ev-issued-1")  # redelivered: the inbox skips it
    [row] = await rows(vs)
    assert (row.event_id, row.template, row.openid, row.status) == ("ev-issued-1", "voucher_issued", w["openid"],
                                                                    "pending")
    assert await send(vs) == {"sent": 1}
    assert sent(vs) == [{
        "touser": w["openid"], "template_id": "dev-template-voucher_issued", "miniprogram_state": "formal",
        "lang": "zh_CN", "page": f"pages/vouchers/detail?id={event.voucher_id}",
        "data": {"thing1": {"value": "普惠制培训券"}, "character_string2": {"value": "LXNO44-RBTA-T"},
                 "date3": {"value": "2027-03-01"}, "thing4": {"value": "请在有效期内选班报名"}}}]
    assert await send(vs) == {}  # nothing is due: sent once
    [row] = await rows(vs)
    assert (row.status, row.attempts, row.sent_at is not None) == ("sent", 1, True)


async def test_each_key_moment_has_its_message_and_only_the_allowance_among_payments(vs):
    w = await app_worker(vs, "lisi")
    pk = w["person_key"]
    now = utcnow()
    voucher = (await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=w["auth"])).json()
    await feed(vs, TrainingEnrolled(enrolment_id="e1", class_id="c1", institution_id="i1", voucher_id=voucher["id"],
                                    person_key=pk, kind="inclusive", occupation_code="4-10-01-05", level=5,
                                    class_start=date(2026, 12, 1), class_end=date(2026, 12, 7)), pk)
    await feed(vs, TrainingEnrolmentRejected(enrolment_id="e2", voucher_id="v2", person_key=pk, reason="already_bound",
                                             detail="bound to another enrolment"), pk)
    await feed(vs, CertificateIssued(certificate_id="c1", certificate_no="S000123456789", person_key=pk,
                                     certificate_type="skill_level", occupation_code="4-10-01-05", level=5,
                                     issued_on=date(2026, 12, 1), institution_id="x", evaluation_id="y"), pk)
    await feed(vs, ClaimPaid(claim_id="k1", claim_type="living_allowance", voucher_id="v1", person_key=pk,
                             amount=Decimal("90.00"), paid_at=now), pk)
    await feed(vs, ClaimPaid(claim_id="k2", claim_type="training", voucher_id="v1", person_key=pk,
                             amount=Decimal("700.00"), paid_at=now), pk)  # paid to the institution: no message
    found = await rows(vs)
    by_template = {r.template: r.data for r in found}
    assert set(by_template) == {"enrolment_bound", "enrolment_refused", "certificate_issued", "allowance_paid"}
    assert next(r.event_id for r in found if r.template == "enrolment_bound") == f"voucher-bound:{voucher['id']}:e1"
    assert by_template["enrolment_refused"]["thing2"] == "培训券已用于其他班级"
    assert by_template["certificate_issued"] == {"thing1": "职业技能等级证书（初级工）",
                                                 "character_string2": "S000123456789", "date3": "2026-12-01"}
    assert by_template["allowance_paid"]["amount1"] == "90.00元"
    assert await send(vs) == {"sent": 4}


async def test_S4_a_returned_allowance_tells_the_worker_to_check_the_account_once_and_nothing_else_moves(vs):
    """退票: the bank returned the worker's allowance. The worker hears it once (a redelivery adds nothing); a returned
    institution payment is the institution's business; the voucher stays as it was."""
    w = await app_worker(vs, "wangwu", seq=31)
    pk = w["person_key"]
    voucher = (await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=w["auth"])).json()
    returned_at = utcnow().replace(year=2027, month=1, day=14, hour=2)  # 10:00 in the county
    allowance = PaymentReturned(claim_id="k1", claim_type="living_allowance", voucher_id=voucher["id"], person_key=pk,
                                amount=Decimal("90.00"), batch_reference="LX20270114A", reason="户名与账号不符",
                                returned_at=returned_at)
    await feed(vs, allowance, pk, event_id="ev-returned-1")
    await feed(vs, allowance, pk, event_id="ev-returned-1")  # redelivered
    await feed(vs, PaymentReturned(claim_id="k2", claim_type="training", voucher_id=voucher["id"], person_key=pk,
                                   amount=Decimal("700.00"), batch_reference="LX20270114A", reason="账户已销户",
                                   returned_at=returned_at), pk)  # the institution's money: no message
    assert [(r.event_id, r.template) for r in await rows(vs)] == [("ev-returned-1", "allowance_returned")]
    assert await send(vs) == {"sent": 1}
    assert sent(vs) == [{
        "touser": w["openid"], "template_id": "dev-template-allowance_returned", "miniprogram_state": "formal",
        "lang": "zh_CN", "page": "pages/subsidies/index",
        "data": {"amount1": {"value": "90.00元"}, "thing2": {"value": "生活费补贴被银行退回"},
                 "thing3": {"value": "请到乡镇服务点核对银行账户"}, "date4": {"value": "2027-01-14"}}}]
    async with vs.sessionmaker() as session:
        assert (await session.get(Voucher, uuid.UUID(voucher["id"]))).status == voucher["status"]


async def test_a_worker_without_the_mini_program_gets_no_message(vs):
    r = await vs.client.post("/v1/workers", json=worker_body(id_number=resident_id(seq="007")),
                             headers=vs.headers("bureau", sub="staff"))
    async with vs.sessionmaker() as session:
        key = await session.scalar(select(Worker.person_key).where(Worker.id == uuid.UUID(r.json()["id"])))
    await feed(vs, issued(key), key)
    assert await rows(vs) == []


async def test_wechat_busy_is_retried_with_backoff_and_a_refusal_is_not(vs):
    w = await app_worker(vs, "wangwu")
    refusing = await app_worker(vs, "refuse", seq=2)  # gave no agreement for the template (43101)
    await feed(vs, issued(w["person_key"]), w["person_key"])
    await feed(vs, issued(refusing["person_key"]), refusing["person_key"])
    vs.app.state.wechat.fake.state.failures.append(-1)  # the first send meets a busy WeChat
    assert await send(vs) == {"retry": 1, "refused": 1}
    by_openid = {r.openid: r for r in await rows(vs)}
    retry = by_openid[w["openid"]]
    assert (retry.status, retry.attempts, retry.last_error) == ("pending", 1, "WeChat errcode -1: system error")
    assert timedelta(seconds=4) < retry.next_attempt_at - utcnow() <= timedelta(seconds=5)
    assert by_openid[refusing["openid"]].status == "refused"
    assert await send(vs) == {}  # not due yet
    async with vs.sessionmaker() as session:
        await session.execute(update(Notification).values(next_attempt_at=utcnow()))
        await session.commit()
    assert await send(vs) == {"sent": 1}
    assert [m["touser"] for m in sent(vs)] == [w["openid"]]


async def test_unreachable_wechat_gives_up_after_the_last_attempt(vs):
    w = await app_worker(vs, "zhaoliu")
    await feed(vs, issued(w["person_key"]), w["person_key"])
    down = build_wechat(vs.settings.model_copy(update={"wechat_transport": "http",
                                                       "wechat_api_base": "http://127.0.0.1:9"}))
    settings = vs.settings.model_copy(update={"notification_max_attempts": 3})
    outcomes = []
    for _ in range(3):
        outcomes.append(await send_due(vs.sessionmaker, down, settings))
        async with vs.sessionmaker() as session:
            await session.execute(update(Notification).values(next_attempt_at=utcnow()))
            await session.commit()
    assert outcomes == [{"retry": 1}, {"retry": 1}, {"failed": 1}]
    [row] = await rows(vs)
    assert (row.status, row.attempts) == ("failed", 3)


async def test_expiry_reminders_30_and_7_days_before_once_each(vs):
    w = await app_worker(vs, "sunqi")
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=w["auth"])
    assert r.status_code == 201
    voucher_id = uuid.UUID(r.json()["id"])

    async def expires_in(days: float) -> None:
        async with vs.sessionmaker() as session:
            await session.execute(update(Voucher).where(Voucher.id == voucher_id)
                                  .values(valid_until=utcnow() + timedelta(days=days)))
            await session.commit()

    assert await queue_expiry_reminders(vs.sessionmaker) == 0  # 180 days left
    await expires_in(29.5)
    assert await queue_expiry_reminders(vs.sessionmaker) == 1
    await queue_expiry_reminders(vs.sessionmaker)  # the hourly job again: nothing new
    await expires_in(6.5)
    await queue_expiry_reminders(vs.sessionmaker)
    reminders = [(r.event_id, r.data["number3"]) for r in await rows(vs) if r.template == "voucher_expiring"]
    assert reminders == [(f"voucher-expiring:{voucher_id}:30", "30"), (f"voucher-expiring:{voucher_id}:7", "7")]
