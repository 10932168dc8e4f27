from __future__ import annotations

from tests.voucher.ids import resident_id


def worker_body(**overrides):
    body = {
        "name": "张三丰",
        "id_number": resident_id(),
        "mobile": "13812345678",
        "township": "临泉镇",
        "categories": ["rural_migrant"],
    }
    body.update(overrides)
    return body


async def registered_worker(vs, sub="acct-1", **overrides):
    r = await vs.client.post("/v1/workers", json=worker_body(**overrides), headers=vs.headers("worker", sub=sub))
    assert r.status_code == 201, r.text  # a new registration (200 is the existing worker)
    return r.json()


async def claimed(vs, kind="inclusive", sub="acct-1"):
    r = await vs.client.post("/v1/vouchers/claim", json={"kind": kind}, headers=vs.headers("worker", sub=sub))
    assert r.status_code == 201, r.text
    return r.json()
