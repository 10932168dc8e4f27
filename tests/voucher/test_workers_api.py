from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select, text

from skillkit.events import parse_event

from voucher_service.adapters.models import Worker, audit_log, kit_tables

from tests.voucher.helpers import worker_body
from tests.voucher.ids import resident_id, with_wrong_check_digit


async def count(vs, model_or_table) -> int:
    async with vs.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model_or_table))


async def test_self_registration_masks_id_and_writes_event(vs):
    number = resident_id()
    r = await vs.client.post("/v1/workers", json=worker_body(id_number=number), headers=vs.headers("worker", sub="acct-1"))
    assert r.status_code == 201
    body = r.json()
    assert body["id_number_masked"] == number[:6] + "********" + number[-4:]
    assert number not in r.text
    assert body["on_behalf"] is False
    async with vs.sessionmaker() as session:
        rows = (await session.execute(select(kit_tables.outbox))).all()
    assert [row.event_type for row in rows] == ["worker.registered.v1"]
    assert number.encode() not in rows[0].body


async def test_same_id_twice_returns_existing_worker(vs):
    staff = vs.headers("bureau", sub="staff-1")
    first = await vs.client.post("/v1/workers", json=worker_body(), headers=staff)
    second = await vs.client.post("/v1/workers", json=worker_body(mobile="13900000000"), headers=staff)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert await count(vs, Worker) == 1


async def test_staff_registration_on_behalf_then_worker_links_account(vs):
    await vs.client.post("/v1/workers", json=worker_body(), headers=vs.headers("bureau", sub="staff-1"))
    r = await vs.client.post("/v1/workers", json=worker_body(), headers=vs.headers("worker", sub="acct-9"))
    assert r.status_code == 200 and r.json()["on_behalf"] is True
    me = await vs.client.get("/v1/workers/me", headers=vs.headers("worker", sub="acct-9"))
    assert me.json()["id"] == r.json()["id"]


async def test_an_app_account_with_another_name_cannot_link_a_worker_registered_by_staff(vs):
    staff = vs.headers("bureau", sub="staff-1")
    r = await vs.client.post("/v1/workers", json=worker_body(name="李四"), headers=staff)
    assert r.status_code == 201
    worker_id = r.json()["id"]
    r = await vs.client.post("/v1/vouchers", json={"worker_id": worker_id, "kind": "inclusive"}, headers=staff)
    assert r.status_code == 201
    stranger = vs.headers("worker", sub="stranger-9")
    r = await vs.client.post("/v1/workers", json=worker_body(name="王麻子", categories=["urban_unemployed"]),
                             headers=stranger)
    assert (r.status_code, r.json()["status"]) == (202, "referred_to_bureau")  # issue 16: not "name differs"
    for path in ("/v1/vouchers/mine", "/v1/workers/me"):
        r = await vs.client.get(path, headers=stranger)
        assert (r.status_code, r.json()["code"]) == (404, "worker_not_registered")
    async with vs.sessionmaker() as session:
        worker = await session.get(Worker, uuid.UUID(worker_id))
        assert (worker.account_subject, worker.name, worker.categories) == (None, "李四", ["rural_migrant"])
        events = [row.event_type for row in (await session.execute(select(kit_tables.outbox))).all()]
    assert "worker.account_linked.v1" not in events
    # the worker himself, typing his name with other spacing, still links
    r = await vs.client.post("/v1/workers", json=worker_body(name="李四 "), headers=vs.headers("worker", sub="acct-9"))
    assert (r.status_code, r.json()["id"]) == (200, worker_id)
    r = await vs.client.get("/v1/vouchers/mine", headers=vs.headers("worker", sub="acct-9"))
    assert [v["worker_id"] for v in r.json()] == [worker_id]


async def test_an_account_with_a_worker_cannot_also_claim_one_registered_by_staff(vs):
    """One account, one worker: claiming a second, staff-registered record is a 409 (it was the database's 500)."""
    own = vs.headers("worker", sub="acct-1")
    assert (await vs.client.post("/v1/workers", json=worker_body(), headers=own)).status_code == 201
    other = worker_body(name="李四", id_number=resident_id(seq="456"))
    r = await vs.client.post("/v1/workers", json=other, headers=vs.headers("bureau", sub="staff-1"))
    assert r.status_code == 201
    staff_registered = uuid.UUID(r.json()["id"])
    r = await vs.client.post("/v1/workers", json=other, headers=own)
    assert (r.status_code, r.json()["code"]) == (409, "account_has_worker")
    async with vs.sessionmaker() as session:
        assert (await session.get(Worker, staff_registered)).account_subject is None


async def test_bad_check_digit_is_422_and_changes_nothing(vs):
    r = await vs.client.post(
        "/v1/workers", json=worker_body(id_number=with_wrong_check_digit(resident_id())), headers=vs.headers("worker")
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "id_number_check_digit"
    assert await count(vs, Worker) == 0
    assert await count(vs, kit_tables.outbox) == 0


async def test_future_birth_date_is_refused(vs):
    r = await vs.client.post(
        "/v1/workers", json=worker_body(id_number=resident_id(birth="20991231")), headers=vs.headers("worker")
    )
    assert (r.status_code, r.json()["code"]) == (422, "id_number_future_birth_date")


async def test_malformed_phone_and_unknown_category(vs):
    r = await vs.client.post("/v1/workers", json=worker_body(mobile="12345"), headers=vs.headers("worker"))
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.mobile"
    r = await vs.client.post("/v1/workers", json=worker_body(categories=["astronaut"]), headers=vs.headers("worker"))
    assert r.status_code == 422 and r.json()["errors"][0]["location"].startswith("body.categories")
    assert await count(vs, Worker) == 0


async def test_malformed_and_oversized_json(vs):
    r = await vs.client.post(
        "/v1/workers", content=b'{"name": ', headers={**vs.headers("worker"), "content-type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (400, "malformed_json")
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    r = await vs.client.post("/v1/workers", content=big, headers={**vs.headers("worker"), "content-type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (413, "body_too_large")
    assert await count(vs, Worker) == 0


async def test_roles(vs):
    r = await vs.client.post("/v1/workers", json=worker_body())
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")
    r = await vs.client.post("/v1/workers", json=worker_body(), headers=vs.headers("training_org", org="org-1"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await vs.client.get("/v1/workers", headers=vs.headers("worker"))
    assert r.status_code == 403
    assert await count(vs, Worker) == 0


async def test_idempotency_key_replays_and_rejects_other_body(vs):
    headers = vs.headers("bureau", sub="staff-1", **{"Idempotency-Key": "k-1"})
    a = await vs.client.post("/v1/workers", json=worker_body(), headers=headers)
    b = await vs.client.post("/v1/workers", json=worker_body(), headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json() == b.json() and b.headers["Idempotent-Replayed"] == "true"
    c = await vs.client.post("/v1/workers", json=worker_body(name="李四"), headers=headers)
    assert (c.status_code, c.json()["code"]) == (422, "idempotency_key_reused")
    assert await count(vs, Worker) == 1


async def test_list_workers_paginates_with_cursor(vs):
    staff = vs.headers("bureau", sub="staff-1")
    for i in range(5):
        await vs.client.post("/v1/workers", json=worker_body(id_number=resident_id(seq=f"{i:03d}")), headers=staff)
    first = await vs.client.get("/v1/workers?limit=3", headers=staff)
    second = await vs.client.get(f"/v1/workers?limit=3&cursor={first.json()['next_cursor']}", headers=staff)
    ids = [w["id"] for w in first.json()["items"] + second.json()["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert second.json()["next_cursor"] is None


async def test_correlation_id_travels_from_request_into_its_events(vs):
    headers = vs.headers("worker", sub="acct-c", **{"X-Correlation-ID": "req-42"})
    r = await vs.client.post("/v1/workers", json=worker_body(), headers=headers)
    assert r.headers["X-Correlation-ID"] == "req-42"
    async with vs.sessionmaker() as session:
        body = await session.scalar(select(kit_tables.outbox.c.body))
    assert parse_event(body).correlation_id == "req-42"


async def test_metrics_count_requests_by_route_template(vs):
    await vs.client.get(f"/v1/workers/{uuid.uuid4()}", headers=vs.headers("bureau"))
    metrics = (await vs.client.get("/metrics")).text
    assert 'route="/v1/workers/{worker_id}",service="voucher-service",status="404"' in metrics


# --- issue 16: mobiles encrypted at rest, masked for everyone but the worker, revealed to bureau with a reason ----

async def test_issue16_mobile_is_encrypted_at_rest_and_masked_except_for_the_worker_own(vs):
    mine = await vs.client.post("/v1/workers", json=worker_body(mobile="13812345678"),
                                headers=vs.headers("worker", sub="acct-1"))
    assert (mine.json()["mobile_masked"], mine.json()["mobile"]) == ("138****5678", None)  # kept for replays
    assert "13812345678" not in mine.text
    worker_id = mine.json()["id"]
    me = await vs.client.get("/v1/workers/me", headers=vs.headers("worker", sub="acct-1"))
    assert (me.json()["mobile_masked"], me.json()["mobile"]) == ("138****5678", "13812345678")
    for role in ("bureau", "admin", "auditor"):
        one = await vs.client.get(f"/v1/workers/{worker_id}", headers=vs.headers(role))
        listed = await vs.client.get("/v1/workers", headers=vs.headers(role))
        assert (one.json()["mobile_masked"], one.json()["mobile"]) == ("138****5678", None), role
        assert [(w["mobile_masked"], w["mobile"]) for w in listed.json()["items"]] == [("138****5678", None)], role
        assert "13812345678" not in one.text + listed.text
    async with vs.sessionmaker() as session:
        stored = (await session.execute(text("SELECT * FROM workers"))).mappings().one()
        idempotency = " ".join(str(row) for row in (await session.execute(select(kit_tables.idempotency))).all())
    assert "mobile" not in stored and stored["mobile_encrypted"].startswith("k1:")
    assert "13812345678" not in " ".join(str(v) for v in stored.values()) + idempotency


async def audit_entries(vs) -> list[tuple]:
    # Through the table's JSON column: a raw SELECT gives `after` back as text ('null') on SQLite.
    c = audit_log.c
    async with vs.sessionmaker() as session:
        return [tuple(row) for row in await session.execute(select(
            c.actor, c.role, c.action, c.entity_type, c.entity_id, c.reason, c.after).order_by(c.id))]


async def test_issue16_bureau_sees_a_mobile_in_full_only_with_a_reason_written_to_the_audit_trail(vs):
    worker = await vs.client.post("/v1/workers", json=worker_body(mobile="15912340000"),
                                  headers=vs.headers("worker", sub="acct-1"))
    worker_id = worker.json()["id"]
    url = f"/v1/workers/{worker_id}/mobile-reveals"
    staff = vs.headers("bureau", sub="staff-7")
    for body, code in (({}, "validation_failed"), ({"reason": "  "}, "validation_failed"),
                       ({"reason": "看看", "extra": 1}, "validation_failed")):
        r = await vs.client.post(url, json=body, headers=staff)
        assert (r.status_code, r.json()["code"]) == (422, code), body
    for role in ("auditor", "worker", "training_org", "finance"):
        r = await vs.client.post(url, json={"reason": "核对联系方式"}, headers=vs.headers(role, org=str(uuid.uuid4())))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden"), role
    r = await vs.client.post(f"/v1/workers/{uuid.uuid4()}/mobile-reveals", json={"reason": "核对联系方式"},
                             headers=staff)
    assert (r.status_code, r.json()["code"]) == (404, "worker_not_found")
    assert await audit_entries(vs) == []

    r = await vs.client.post(url, json={"reason": " 学员来电更正联系方式 "}, headers=staff)
    assert r.status_code == 200, r.text
    assert r.json() == {"worker_id": worker_id, "mobile": "15912340000"}
    assert await audit_entries(vs) == [
        ("staff-7", "bureau", "worker.mobile_reveal", "worker", worker_id, "学员来电更正联系方式", None)]
    async with vs.sessionmaker() as session:
        idempotency = " ".join(str(row) for row in (await session.execute(select(kit_tables.idempotency))).all())
    assert "15912340000" not in idempotency


async def test_issue16_registration_does_not_tell_an_account_whether_another_persons_number_is_registered(vs):
    linked, staff_made, unknown = resident_id(seq="301"), resident_id(seq="302"), resident_id(seq="303")
    assert (await vs.client.post("/v1/workers", json=worker_body(name="赵六", id_number=linked),
                                 headers=vs.headers("worker", sub="owner"))).status_code == 201
    assert (await vs.client.post("/v1/workers", json=worker_body(name="钱七", id_number=staff_made),
                                 headers=vs.headers("bureau", sub="staff-1"))).status_code == 201
    # linked to another account, or registered under another name: the very same answer
    answers = []
    for number, sub in ((linked, "probe-1"), (staff_made, "probe-2")):
        r = await vs.client.post("/v1/workers", json=worker_body(name="孙八", id_number=number),
                                 headers=vs.headers("worker", sub=sub))
        answers.append((r.status_code, r.headers["content-type"], r.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 202 and answers[0][2]["status"] == "referred_to_bureau"
    # a referred account gets that answer for any number, registered or not
    for number in (unknown, linked, staff_made):
        r = await vs.client.post("/v1/workers", json=worker_body(name="孙八", id_number=number),
                                 headers=vs.headers("worker", sub="probe-1"))
        assert (r.status_code, r.json()) == answers[0][0::2], number
    # an account with a worker gets account_has_worker for any other number, registered or not
    for number in (unknown, staff_made):
        r = await vs.client.post("/v1/workers", json=worker_body(name="孙八", id_number=number),
                                 headers=vs.headers("worker", sub="owner"))
        assert (r.status_code, r.json()["code"]) == (409, "account_has_worker"), number
    # nothing changed for the two people; the bureau sees the referrals (who, which record, what conflicted)
    async with vs.sessionmaker() as session:
        rows = (await session.execute(select(Worker.name, Worker.account_subject).order_by(Worker.name))).all()
        referrals = [tuple(row) for row in await session.execute(text(
            "SELECT actor, action, after FROM audit_log WHERE action = 'worker.registration_referred' ORDER BY id"))]
    assert sorted(rows) == sorted([("赵六", "owner"), ("钱七", None)])
    assert [(actor, action, json.loads(after) if isinstance(after, str) else after)
            for actor, action, after in referrals] == [
        ("probe-1", "worker.registration_referred", {"conflict": "linked_to_another_account"}),
        ("probe-2", "worker.registration_referred", {"conflict": "name_differs"}),
    ]
    assert all("孙八" not in str(after) for _, _, after in referrals)  # no personal data in the audit log
    assert await count(vs, Worker) == 2


async def test_issue16_blank_or_control_character_names_are_refused(vs):
    for name in ("  ", "张\t三", "张\u202e三", "张\u200b三"):
        r = await vs.client.post("/v1/workers", json=worker_body(name=name), headers=vs.headers("worker"))
        assert (r.status_code, r.json()["code"], r.json()["errors"][0]["location"]) == (
            422, "validation_failed", "body.name"), repr(name)
    for name in ("   ", "批次\n名称", "批\u200d次"):
        r = await vs.client.post("/v1/batches", json={"name": name, "kind": "inclusive", "validity_days": 90},
                                 headers=vs.headers("bureau"))
        assert (r.status_code, r.json()["code"]) == (422, "validation_failed"), repr(name)
    assert await count(vs, Worker) == 0
