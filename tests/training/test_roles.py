"""Every endpoint's roles, and institution A never reads or changes institution B's classes or trainees."""

from __future__ import annotations

import uuid
from datetime import date

from training_service.adapters.models import CheckIn, Enrolment, TrainingClass

from tests.training.support import World, count, credit_code, outbox_types, today

# Each public endpoint with what it answers without a token: a listing, the catalogue's 4-10-01-05, or an unknown id.
PUBLIC = {("GET", "/v1/occupations"): (200, None), ("GET", "/v1/occupations/{code}"): (200, None),
          ("GET", "/v1/institutions"): (200, None),
          ("GET", "/v1/institutions/{institution_id}"): (404, "institution_not_found"),
          ("GET", "/v1/open-classes"): (200, None), ("GET", "/v1/open-classes/{class_id}"): (404, "class_not_found")}
# The worker's own: interest in a class (报名意向, P9); every other endpoint refuses workers. Each admits the worker
# and answers for its body: their own (empty) list, an unknown interest, an empty body.
WORKER = {("GET", "/v1/interests/mine"): (200, None),
          ("POST", "/v1/interests/{interest_id}/withdraw"): (404, "interest_not_found"),
          ("POST", "/v1/open-classes/{class_id}/interests"): (422, "validation_failed")}


def _outcome(r) -> tuple[int, str | None]:
    return r.status_code, r.json()["code"] if r.status_code >= 400 else None


def _routes(ts):
    for path, operations in ts.app.openapi()["paths"].items():
        if path.startswith("/v1"):
            for method in operations:
                yield method.upper(), path


def _fill(path: str) -> str:
    for name in ("{class_id}", "{enrolment_id}", "{institution_id}", "{interest_id}"):
        path = path.replace(name, str(uuid.uuid4()))
    return path.replace("{code}", "4-10-01-05")


async def test_every_endpoint_needs_a_token_and_refuses_workers(ts):
    routes = sorted(set(_routes(ts)))
    assert len(routes) >= 20
    assert set(PUBLIC) | set(WORKER) <= set(routes)
    for method, path in routes:
        if (method, path) in PUBLIC:
            r = await ts.client.request(method, _fill(path))
            assert _outcome(r) == PUBLIC[method, path], (method, path)
            continue
        r = await ts.client.request(method, _fill(path), json={})
        assert (r.status_code, r.json()["code"]) == (401, "token_missing"), (method, path)
        r = await ts.client.request(method, _fill(path), json={}, headers=ts.headers("worker"))
        if (method, path) in WORKER:
            assert _outcome(r) == WORKER[method, path], (method, path)
        else:
            assert (r.status_code, r.json()["code"]) == (403, "role_forbidden"), (method, path)
        r = await ts.client.request(method, _fill(path), json={}, headers=ts.headers("evaluation_org", org="eval-1"))
        assert r.status_code == 403, (method, path)


async def test_institution_B_cannot_touch_A_trainees(ts):
    a = await World(ts).setup()
    b = World(ts)
    b.institution_id = (await b.institution(credit_code=credit_code("12141124MB000002"), name="临县职业中学"))["id"]
    b.org = ts.headers("training_org", sub="org-user-b", org=b.institution_id)
    ca = await a.open_class()
    cb = await b.open_class()
    e, _ = await a.active_trainee(ca["id"])
    day = date.fromisoformat(ca["start_date"])
    before = (await count(ts, CheckIn), await count(ts, Enrolment), len(await outbox_types(ts)))
    checks = [
        ("get", f"/v1/enrolments/{e['id']}", None),
        ("get", f"/v1/classes/{ca['id']}/enrolments", None),
        ("post", f"/v1/classes/{ca['id']}/check-ins",
         {"enrolment_id": e["id"], "method": "face", "checked_at": f"{day}T01:00:00Z"}),
        ("post", f"/v1/classes/{ca['id']}/completions", {"enrolment_id": e["id"], "passed": False}),
        ("post", f"/v1/enrolments/{e['id']}/drop", {"reason": "冒名退训"}),
        ("post", f"/v1/enrolments/{e['id']}/employment", {"employer": "某公司", "employed_on": today().isoformat()}),
        ("post", f"/v1/enrolments/{e['id']}/business-licence",
         {"credit_code": credit_code("92141124MA0000001"), "licensed_on": today().isoformat()}),
        ("post", f"/v1/classes/{ca['id']}/outcome", None),
    ]
    for method, url, body in checks:
        r = await ts.client.request(method.upper(), url, json=body, headers=b.org)
        # another institution's record is not found, whichever it is (never a 403 that confirms it exists)
        expected = "enrolment_not_found" if url.startswith("/v1/enrolments/") else "class_not_found"
        assert (r.status_code, r.json()["code"]) == (404, expected), (url, r.text)
    # B's own class with A's trainee: not a trainee of that class
    r = await ts.client.post(f"/v1/classes/{cb['id']}/check-ins",
                             json={"enrolment_id": e["id"], "method": "face", "checked_at": f"{day}T01:00:00Z"},
                             headers=b.org)
    assert (r.status_code, r.json()["code"]) == (422, "enrolment_not_in_class")
    r = await ts.client.post(f"/v1/classes/{cb['id']}/completions", json={"enrolment_id": e["id"], "passed": False},
                             headers=b.org)
    assert (r.status_code, r.json()["code"]) == (422, "enrolment_not_in_class")
    assert (await count(ts, CheckIn), await count(ts, Enrolment), len(await outbox_types(ts))) == before
    assert (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=a.org)).json()["status"] == "active"
    assert await count(ts, TrainingClass) == 2
