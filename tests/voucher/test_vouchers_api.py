"""Voucher API: claim, E4 in the database, issue on behalf, QR tokens, revocation, expiry, roles."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from skillkit import voucher_token
from skillkit.county import p5_deadline
from skillkit.db import utcnow
from voucher_service.adapters.models import Voucher, kit_tables
from voucher_service.domain.codes import is_valid_code

from tests.voucher.helpers import claimed, registered_worker
from tests.voucher.ids import resident_id


async def outbox_types(vs) -> list[str]:
    async with vs.sessionmaker() as session:
        return list(await session.scalars(select(kit_tables.outbox.c.event_type).order_by(kit_tables.outbox.c.seq)))


async def voucher_count(vs) -> int:
    async with vs.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Voucher))


async def test_worker_claims_inclusive_voucher(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    assert v["kind"] == "inclusive" and v["kind_label"] == "普惠制培训券"
    assert v["status"] == "issued" and v["status_label"] == "已发放"
    assert is_valid_code(v["code"]) and v["display_code"].replace("-", "") == v["code"]
    token = voucher_token.verify(voucher_token.DEV_QR_PUBLIC_KEY, v["qr_token"])
    assert token.voucher_id == v["id"] and token.kind == "inclusive"
    assert await outbox_types(vs) == ["worker.registered.v1", "voucher.issued.v1"]


async def test_E4_second_inclusive_voucher_same_year_is_409_naming_the_first(vs):
    await registered_worker(vs)
    first = await claimed(vs)
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=vs.headers("worker", sub="acct-1"))
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "e4_voucher_limit"
    assert problem["existing_voucher_id"] == first["id"] and first["code"] in problem["detail"]
    assert await voucher_count(vs) == 1


async def test_E4_project_and_order_count_together_but_inclusive_is_separate(vs):
    await registered_worker(vs)
    await claimed(vs, "order")
    await claimed(vs, "inclusive")
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "project"}, headers=vs.headers("worker", sub="acct-1"))
    assert (r.status_code, r.json()["code"]) == (409, "e4_voucher_limit")
    assert await voucher_count(vs) == 2


async def test_E4_enforced_by_the_database_constraint(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    async with vs.sessionmaker() as session:
        original = await session.get(Voucher, uuid.UUID(v["id"]))
        copy = {c.key: getattr(original, c.key) for c in Voucher.__table__.columns if c.key not in ("id", "code")}
        session.add(Voucher(id=uuid.uuid4(), code="LX000000000", **copy))
        with pytest.raises(IntegrityError, match="uq_vouchers_e4_quota|UNIQUE"):
            await session.commit()
    assert await voucher_count(vs) == 1


async def test_E1_ineligible_kind_is_422_and_changes_nothing(vs):
    await registered_worker(vs, categories=["enterprise_employee"])
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=vs.headers("worker", sub="acct-1"))
    assert (r.status_code, r.json()["code"], r.json()["rule_id"]) == (422, "e1_not_eligible", "E1")
    assert await voucher_count(vs) == 0


async def test_unknown_kind_is_422(vs):
    await registered_worker(vs)
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "vip"}, headers=vs.headers("worker", sub="acct-1"))
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.kind"
    assert await voucher_count(vs) == 0


async def test_claim_without_registration_is_404(vs):
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=vs.headers("worker", sub="nobody"))
    assert (r.status_code, r.json()["code"]) == (404, "worker_not_registered")


async def test_staff_issue_on_behalf_with_batch_validity(vs):
    staff = vs.headers("bureau", sub="staff-7")
    worker = (await vs.client.post("/v1/workers", json={
        "name": "李四", "id_number": resident_id(seq="555"), "mobile": "13900001111", "township": "白文镇",
        "categories": ["poverty_alleviated_labour"]}, headers=staff)).json()
    batch = (await vs.client.post("/v1/batches", json={"name": "订单班", "kind": "order", "validity_days": 30},
                                  headers=staff)).json()
    r = await vs.client.post("/v1/vouchers", json={"worker_id": worker["id"], "kind": "order", "batch_id": batch["id"]},
                             headers=staff)
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["channel"] == "on_behalf" and v["batch_id"] == batch["id"]
    valid_from = datetime.fromisoformat(v["valid_from"])
    assert datetime.fromisoformat(v["valid_until"]) == min(valid_from + timedelta(days=30), p5_deadline(v["policy_year"]))


async def test_a_vouchers_instants_are_answered_in_county_time(vs):
    """Issue 15: the database keeps UTC; the worker's app gets ISO 8601 in county time (+08:00), to the second."""
    await registered_worker(vs)
    v = await claimed(vs)
    async with vs.sessionmaker() as session:
        await session.execute(update(Voucher).where(Voucher.id == uuid.UUID(v["id"])).values(
            valid_from=datetime(2026, 12, 6, 5, 5, 0, 500000, tzinfo=timezone.utc),
            valid_until=datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)))
        await session.commit()
    r = await vs.client.get(f"/v1/vouchers/{v['id']}", headers=vs.headers("worker", sub="acct-1"))
    assert (r.status_code, r.json()["valid_from"], r.json()["valid_until"]) == (
        200, "2026-12-06T13:05:00+08:00", "2027-01-01T00:00:00+08:00")


async def test_worker_sees_only_own_vouchers(vs):
    await registered_worker(vs, sub="acct-1")
    mine = await claimed(vs, sub="acct-1")
    await registered_worker(vs, sub="acct-2", id_number=resident_id(seq="222"))
    r = await vs.client.get(f"/v1/vouchers/{mine['id']}", headers=vs.headers("worker", sub="acct-2"))
    assert (r.status_code, r.json()["code"]) == (404, "voucher_not_found")
    r = await vs.client.get("/v1/vouchers/mine", headers=vs.headers("worker", sub="acct-1"))
    assert [v["id"] for v in r.json()] == [mine["id"]]
    r = await vs.client.get("/v1/vouchers", headers=vs.headers("auditor"))
    assert [v["id"] for v in r.json()["items"]] == [mine["id"]]
    r = await vs.client.get("/v1/vouchers", headers=vs.headers("training_org", org="o1"))
    assert r.status_code == 403


async def test_qr_svg_and_png_carry_a_verifiable_token(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    svg = await vs.client.get(f"/v1/vouchers/{v['id']}/qr.svg", headers=vs.headers("worker", sub="acct-1"))
    png = await vs.client.get(f"/v1/vouchers/{v['id']}/qr.png", headers=vs.headers("worker", sub="acct-1"))
    assert svg.headers["content-type"] == "image/svg+xml" and svg.content.lstrip().startswith(b"<?xml")
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    org = vs.headers("training_org", org="org-1")
    ok = await vs.client.post("/v1/vouchers/verify-token", json={"token": v["qr_token"]}, headers=org)
    assert ok.json() == {"voucher_id": v["id"], "code": v["code"], "kind": "inclusive", "status": "issued"}
    head, body, sig = v["qr_token"].split(".")
    tampered = f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}"
    bad = await vs.client.post("/v1/vouchers/verify-token", json={"token": tampered}, headers=org)
    assert (bad.status_code, bad.json()["code"]) == (422, "voucher_token_invalid")
    key = await vs.client.get("/v1/voucher-keys/qr")
    assert key.json()["public_key_pem"] == voucher_token.DEV_QR_PUBLIC_KEY


async def test_forged_token_signed_with_another_key_is_rejected(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    forged = voucher_token.sign("someone-else", voucher_token.verify(voucher_token.DEV_QR_PUBLIC_KEY, v["qr_token"]))
    r = await vs.client.post("/v1/vouchers/verify-token", json={"token": forged}, headers=vs.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "voucher_token_invalid")


async def test_lookup_by_typed_code_checks_the_check_character(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    ok = await vs.client.get(f"/v1/vouchers/by-code/{v['display_code'].lower()}", headers=vs.headers("bureau"))
    assert ok.json()["id"] == v["id"]
    typo = v["code"][:-1] + ("0" if v["code"][-1] != "0" else "1")
    r = await vs.client.get(f"/v1/vouchers/by-code/{typo}", headers=vs.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "voucher_code_invalid")


async def test_revocation_needs_a_reason_and_frees_the_E4_slot_unless_fraud(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    staff = vs.headers("bureau", sub="staff-1")
    r = await vs.client.post(f"/v1/vouchers/{v['id']}/revoke", json={}, headers=staff)
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.reason"
    r = await vs.client.post(f"/v1/vouchers/{v['id']}/revoke", json={"reason": "duplicate"}, headers=staff)
    assert (r.status_code, r.json()["status"], r.json()["revoked_reason"]) == (200, "revoked", "duplicate")
    again = await vs.client.post(f"/v1/vouchers/{v['id']}/revoke", json={"reason": "fraud"}, headers=staff)
    assert (again.status_code, again.json()["code"]) == (409, "voucher_already_revoked")
    second = await claimed(vs)
    r = await vs.client.post(f"/v1/vouchers/{second['id']}/revoke", json={"reason": "fraud"}, headers=staff)
    assert r.status_code == 200
    third = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=vs.headers("worker", sub="acct-1"))
    assert (third.status_code, third.json()["code"]) == (409, "e4_voucher_limit")
    assert (await outbox_types(vs)).count("voucher.revoked.v1") == 2
    r = await vs.client.post(f"/v1/vouchers/{second['id']}/revoke", json={"reason": "fraud"}, headers=vs.headers("worker", sub="acct-1"))
    assert r.status_code == 403


async def test_expiry_sweep_expires_unbound_vouchers_and_emits_event(vs):
    await registered_worker(vs)
    v = await claimed(vs)
    async with vs.sessionmaker() as session:
        await session.execute(update(Voucher).values(valid_until=utcnow() - timedelta(seconds=1)))
        await session.commit()
    r = await vs.client.post("/v1/admin/expiry-sweep", headers=vs.headers("admin"))
    assert r.json() == {"expired": 1}
    assert (await vs.client.get(f"/v1/vouchers/{v['id']}", headers=vs.headers("bureau"))).json()["status"] == "expired"
    assert (await outbox_types(vs))[-1] == "voucher.expired.v1"
    r = await vs.client.post("/v1/admin/expiry-sweep", headers=vs.headers("admin"))
    assert r.json() == {"expired": 0}
    # an expired voucher frees the E4 slot: the worker may claim again
    await claimed(vs)
    assert (await vs.client.post("/v1/admin/expiry-sweep", headers=vs.headers("bureau"))).status_code == 403


async def test_E4_simultaneous_claims_issue_exactly_one(vs):
    await registered_worker(vs)
    headers = vs.headers("worker", sub="acct-1")
    answers = await asyncio.gather(*(
        vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=headers) for _ in range(6)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409, 409]
    winner = next(r.json()["id"] for r in answers if r.status_code == 201)
    assert {r.json()["existing_voucher_id"] for r in answers if r.status_code == 409} == {winner}
    assert await voucher_count(vs) == 1
    assert (await outbox_types(vs)).count("voucher.issued.v1") == 1


async def test_policy_year_filter_out_of_range_is_a_422_not_a_500(vs):
    """Found by tests/kit/test_api_fuzz.py: policy_year=2147483648 overflowed PostgreSQL's integer and answered 500."""
    r = await vs.client.get("/v1/vouchers", params={"policy_year": 2**31}, headers=vs.headers("bureau"))
    assert (r.status_code, r.headers["content-type"], r.json()["code"]) == (
        422, "application/problem+json", "validation_failed")
    assert "query.policy_year" in r.json()["detail"]


async def test_a_tampered_cursor_is_a_400_problem(vs):
    """Found by an audit: a cursor with a naive timestamp or an id that is no UUID reached the query and gave a 500
    (and logged the SQL)."""
    import base64
    import json

    def cursor(created: str, ident: object) -> str:
        return base64.urlsafe_b64encode(json.dumps([created, ident]).encode()).decode().rstrip("=")

    staff = vs.headers("bureau")
    for bad in (cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"), cursor("2026-01-01T00:00:00", str(uuid.uuid4())),
                cursor("2026-01-01T00:00:00+00:00", 7), "%%%"):
        r = await vs.client.get("/v1/vouchers", params={"cursor": bad}, headers=staff)
        assert (r.status_code, r.json()["code"]) == (400, "cursor_invalid"), bad
    good = cursor("2026-01-01T00:00:00+00:00", str(uuid.uuid4()))
    r = await vs.client.get("/v1/vouchers", params={"cursor": good}, headers=staff)
    assert (r.status_code, r.json()["items"]) == (200, [])
