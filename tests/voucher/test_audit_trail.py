"""P10 audit trail in the voucher service: staff decisions are recorded with who, role, before -> after; the chain
verifies; auditors read and verify, workers and institutions may not."""

from __future__ import annotations

import hashlib
from datetime import datetime

from skillkit.audit import GENESIS_HASH

from tests.voucher.helpers import claimed, registered_worker, worker_body
from tests.voucher.ids import resident_id

ENTRY_KEYS = ("actor", "role", "org_id", "action", "entity_type", "entity_id", "before", "after", "reason")


async def entries(vs, **filters) -> list[dict]:
    r = await vs.client.get("/v1/audit/entries", params=filters, headers=vs.headers("auditor", sub="auditor-1"))
    assert r.status_code == 200, r.text
    return [{k: e[k] for k in ENTRY_KEYS} for e in r.json()["items"]]


async def verified(vs) -> dict:
    r = await vs.client.get("/v1/audit/verify", headers=vs.headers("auditor", sub="auditor-1"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_P10_voucher_revocation_is_recorded_before_to_after(vs):
    await registered_worker(vs)
    voucher = await claimed(vs)
    staff = vs.headers("bureau", sub="bureau-wang")
    r = await vs.client.post(f"/v1/vouchers/{voucher['id']}/revoke", json={"reason": "duplicate", "note": "重复领取"},
                             headers=staff)
    assert r.status_code == 200, r.text
    again = await vs.client.post(f"/v1/vouchers/{voucher['id']}/revoke", json={"reason": "fraud"}, headers=staff)
    assert (again.status_code, again.json()["code"]) == (409, "voucher_already_revoked")  # refused: not recorded

    assert await entries(vs, entity_type="voucher", entity_id=voucher["id"]) == [{
        "actor": "bureau-wang", "role": "bureau", "org_id": None, "action": "voucher.revoke",
        "entity_type": "voucher", "entity_id": voucher["id"],
        "before": {"status": "issued", "quota_slot": "inclusive"},
        "after": {"status": "revoked", "quota_slot": None, "revoked_reason": "duplicate", "revoked_note": "重复领取"},
        "reason": "duplicate",
    }]
    result = await verified(vs)
    assert (result["ok"], result["entries"], result["first_broken_id"]) == (True, 1, None)


async def test_P10_batch_roster_and_on_behalf_decisions_are_recorded(vs):
    staff = vs.headers("bureau", sub="staff-1")
    r = await vs.client.post("/v1/batches", json={"name": "普惠班", "kind": "inclusive", "validity_days": 90},
                             headers=staff)
    assert r.status_code == 201, r.text
    batch = r.json()
    roster = f"姓名,身份证号,手机号,乡镇,人员类别\n王五,{resident_id(seq='101')},13800000001,临泉镇,rural_migrant\n".encode()
    r = await vs.client.post(f"/v1/batches/{batch['id']}/roster", files={"file": ("roster.csv", roster)}, headers=staff)
    assert (r.status_code, r.json()["issued"]) == (201, 1)

    body = worker_body(id_number=resident_id(seq="555"), township="城庄镇", categories=["poverty_alleviated"])
    r = await vs.client.post("/v1/workers", json=body, headers=vs.headers("admin", sub="admin-1"))
    assert r.status_code == 201, r.text
    worker = r.json()
    r = await vs.client.post("/v1/vouchers", json={"worker_id": worker["id"], "kind": "inclusive"},
                             headers=vs.headers("admin", sub="admin-1"))
    assert r.status_code == 201, r.text
    voucher = r.json()

    common = {"org_id": None, "before": None, "reason": None}
    recorded = await entries(vs)
    valid_until = recorded[3]["after"].pop("valid_until")
    assert datetime.fromisoformat(valid_until) == datetime.fromisoformat(voucher["valid_until"])
    assert recorded == [
        {**common, "actor": "staff-1", "role": "bureau", "action": "batch.create", "entity_type": "issuing_batch",
         "entity_id": batch["id"], "after": {"name": "普惠班", "kind": "inclusive", "policy_year": batch["policy_year"],
                                             "validity_days": 90, "channel": "bulk", "class_reference": None}},
        {**common, "actor": "staff-1", "role": "bureau", "action": "batch.roster_issue",
         "entity_type": "issuing_batch", "entity_id": batch["id"],
         "after": {"file": "roster.csv", "file_sha256": hashlib.sha256(roster).hexdigest(), "issued": 1,
                   "rejected": 0}},
        {**common, "actor": "admin-1", "role": "admin", "action": "worker.register_on_behalf", "entity_type": "worker",
         "entity_id": worker["id"], "after": {"township": "城庄镇", "categories": ["poverty_alleviated"]}},
        {**common, "actor": "admin-1", "role": "admin", "action": "voucher.issue_on_behalf", "entity_type": "voucher",
         "entity_id": voucher["id"], "after": {
             "worker_id": worker["id"], "kind": "inclusive", "code": voucher["code"],
             "policy_year": voucher["policy_year"],
             "batch_id": None, "status": "issued"}},
    ]
    # A worker registering and claiming on their own decides nothing for anyone else: nothing is recorded.
    await registered_worker(vs, sub="acct-9", id_number=resident_id(seq="777"))
    await claimed(vs, sub="acct-9")
    assert len(await entries(vs)) == 4
    assert [e["entity_id"] for e in await entries(vs, actor="admin-1", action="voucher.issue_on_behalf")] == [
        voucher["id"]]

    result = await verified(vs)
    head = await vs.client.get("/v1/audit/head", headers=vs.headers("bureau"))
    assert (result["ok"], result["entries"], result["head_id"]) == (True, 4, 4)
    assert (head.status_code, head.json()["id"], head.json()["hash"]) == (200, 4, result["head_hash"])
    assert result["head_hash"] != GENESIS_HASH


async def test_P10_entries_are_paged_with_a_cursor(vs):
    staff = vs.headers("bureau", sub="staff-1")
    for n in range(3):
        r = await vs.client.post("/v1/batches", json={"name": f"班{n}", "kind": "inclusive", "validity_days": 90},
                                 headers=staff)
        assert r.status_code == 201
    auditor = vs.headers("auditor")
    first = (await vs.client.get("/v1/audit/entries", params={"limit": 2}, headers=auditor)).json()
    second = (await vs.client.get("/v1/audit/entries", params={"limit": 2, "cursor": first["next_cursor"]},
                                  headers=auditor)).json()
    assert [e["id"] for e in first["items"]] + [e["id"] for e in second["items"]] == [1, 2, 3]
    assert second["next_cursor"] is None
    bad = await vs.client.get("/v1/audit/entries", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auditor)
    assert (bad.status_code, bad.json()["code"]) == (400, "cursor_invalid")


async def test_P10_only_auditors_and_admins_verify_and_workers_read_nothing(vs):
    for role, org in (("worker", None), ("training_org", "inst-1"), ("bureau", None), ("finance", None)):
        r = await vs.client.get("/v1/audit/verify", headers=vs.headers(role, org=org))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden"), role
    for role, org in (("worker", None), ("training_org", "inst-1"), ("evaluation_org", "inst-2")):
        r = await vs.client.get("/v1/audit/entries", headers=vs.headers(role, org=org))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden"), role
    r = await vs.client.get("/v1/audit/verify", headers=vs.headers("admin"))
    assert (r.status_code, r.json()) == (200, {"ok": True, "entries": 0, "head_id": None, "head_hash": GENESIS_HASH,
                                               "head_at": None, "first_broken_id": None, "detail": None})
    r = await vs.client.get("/v1/audit/head", headers=vs.headers("auditor"))
    assert (r.status_code, r.json()["code"]) == (404, "audit_log_empty")
