"""Every /v1 route declares its roles. (The kit's start-up check does not see routes that FastAPI 0.165
wraps in included routers, so the subsidy service checks its own routes here.)"""

from __future__ import annotations

from fastapi.routing import APIRoute

from skillkit.auth import declared_roles
from subsidy_service.main import create


def _routes(routes):
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            yield from _routes(inner.routes)


def _deps(dependant):
    for dep in dependant.dependencies:
        yield dep
        yield from _deps(dep)


def test_every_v1_route_declares_roles():
    app = create()
    routes = [r for r in _routes(app.routes) if r.path.startswith("/v1")]
    assert len(routes) >= 13
    undeclared = [r.path for r in routes if not any(declared_roles(d.call) is not None for d in _deps(r.dependant))]
    assert undeclared == []


async def test_openapi_lists_the_subsidy_api(ss):
    r = await ss.client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/v1/chains/{voucher_id}", "/v1/claims", "/v1/claims/summary", "/v1/me/vouchers",
                 "/v1/me/allowances", "/v1/policy-tables/{year}", "/v1/recoveries"):
        assert path in paths


async def test_metrics_count_claim_transitions(ss):
    from tests.subsidy.builders import chain
    from tests.subsidy.helpers import feed

    await feed(ss, chain(days=5))
    text = (await ss.client.get("/metrics")).text
    assert 'subsidy_claim_transitions_total{claim_type="training",state="eligible"}' in text
