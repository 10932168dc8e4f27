"""Property-based fuzzing of every service's API from its own OpenAPI (schemathesis): generated requests,
valid and invalid, sent in-process with a token of a role the route admits. Bad input must get a 4xx
application/problem+json that says what is wrong, never a 5xx, and answers must match the declared schema.

`fuzz_operation` is shared with tests/subsidy/test_api_fuzz.py, which fuzzes the subsidy API on seeded data."""

from __future__ import annotations

import asyncio
import copy
import functools
from contextlib import AsyncExitStack
from typing import Any, AsyncIterator

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from skillkit.auth import Role, declared_roles, mint_token
from skillkit.problems import PROBLEM_JSON
from skillkit.testing.harness import ServiceUnderTest, running_service

from certification_service.config import CertificationSettings
from certification_service.main import create as create_certification
from training_service.config import TrainingSettings
from training_service.main import create as create_training
from voucher_service.config import VoucherSettings
from voucher_service.main import create as create_voucher

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 25
# Fewer for the three services with ~120 operation-modes between them, to keep both fuzz files under a minute.
OTHER_SERVICE_EXAMPLES = 12
# Staff first: they reach every record, so generated requests get past scoping into the handlers' own checks.
ROLE_PREFERENCE = (Role.BUREAU, Role.ADMIN, Role.FINANCE, Role.AUDITOR, Role.TRAINING_ORG, Role.EVALUATION_ORG,
                   Role.WORKER)
# /readyz answers 503 by contract while the broker is down, and the fuzzed services run without one.
NOT_FUZZED = {("GET", "/readyz")}


def cases(create: Any, settings: Any) -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for each operation in the app's OpenAPI, for parametrising at collection time.
    Invalid data needs an input to break: operations whose inputs all take any text are fuzzed with valid data only."""
    found = []
    for path, ops in create(settings).openapi()["paths"].items():
        for method, op in ops.items():
            if (method.upper(), path) in NOT_FUZZED:
                continue
            found.append((method.upper(), path, GenerationMode.POSITIVE))
            if op.get("requestBody") or any(_constrained(p["schema"]) for p in op.get("parameters", [])):
                found.append((method.upper(), path, GenerationMode.NEGATIVE))
    return found


def _constrained(schema: dict[str, Any]) -> bool:
    """Whether some value breaks this parameter's schema: any text is a valid plain string (a path id)."""
    return {k: v for k, v in schema.items() if k not in ("title", "description")} != {"type": "string"}


@functools.cache
def fuzzed_schema(app: FastAPI) -> schemathesis.BaseSchema:
    """The app's OpenAPI without its bearer scheme: the test sends a valid token itself (tests/kit/test_role_matrix.py
    covers missing and wrong ones), and schemathesis would otherwise count the token's absence as invalid input.
    Cached per app: `app.openapi()` rebuilt the document on every call here (~0.2 s each, measured)."""
    schema = copy.deepcopy(app.openapi())
    schema.get("components", {}).pop("securitySchemes", None)
    for ops in schema["paths"].values():
        for op in ops.values():
            op.pop("security", None)
    return schemathesis.openapi.from_dict(schema)


def auth_headers(service: ServiceUnderTest, method: str, path: str, person_key: str = "P-fuzz") -> dict[str, str]:
    """A bearer token of the most privileged role the route admits; none for public routes."""
    roles = next((declared_roles(d.call) for route in _routes(service)
                  if route.path == path and method in route.methods
                  for d in _dependencies(route.dependant) if declared_roles(d.call) is not None), None)
    if roles is None or "public" in roles:
        return {}
    role = next(r for r in ROLE_PREFERENCE if r in roles)
    org = "ORG-fuzz" if role in (Role.TRAINING_ORG, Role.EVALUATION_ORG) else None
    token = mint_token(service.settings, role, "fuzz-subject", org, person_key=person_key)
    return {"Authorization": f"Bearer {token}"}


def _routes(service: ServiceUnderTest) -> list[APIRoute]:
    """The app's routes, looking inside included routers (FastAPI mounts them as one entry)."""
    found = []
    for entry in service.app.router.routes:
        found.extend(getattr(getattr(entry, "original_router", None), "routes", [entry]))
    return [route for route in found if isinstance(route, APIRoute)]


def _dependencies(dependant: Any) -> list[Any]:
    found = list(dependant.dependencies)
    for dep in dependant.dependencies:
        found.extend(_dependencies(dep))
    return found


def assert_problem(response: httpx.Response, request: str) -> None:
    """The project's error format (skillkit.problems): RFC 9457 members plus a stable code and an English detail."""
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith(PROBLEM_JSON), (
        f"{request} -> {response.status_code} as {content_type!r}: {response.text[:300]}")
    body = response.json()
    assert body["status"] == response.status_code, f"{request}: {body}"
    assert body["type"].startswith("https://") and body["title"] and body["code"] and body["detail"], (
        f"{request}: {body}")


async def fuzz_operation(service: ServiceUnderTest, method: str, path: str, mode: GenerationMode,
                         examples: int = EXAMPLES) -> int:
    """Sends `examples` generated requests to one operation; returns how many were sent.

    The app, its database pool and the client live on the test's event loop, while Hypothesis drives a
    synchronous test: it runs in a worker thread and hands each request back to the loop."""
    operation = fuzzed_schema(service.app)[path][method]
    headers = auth_headers(service, method, path)
    loop = asyncio.get_running_loop()
    sent = 0

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        response = asyncio.run_coroutine_threadsafe(_send(service.client, kwargs, headers), loop).result(timeout=60)
        sent += 1
        request = f"{method} {response.request.url} body={response.request.content[:300]!r}"
        if 400 <= response.status_code < 500:
            assert_problem(response, request)
        case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs=kwargs)

    await asyncio.to_thread(run)
    return sent


async def _send(client: httpx.AsyncClient, kwargs: dict[str, Any], auth: dict[str, str]) -> httpx.Response:
    """schemathesis serialises for `requests`: map that onto httpx (requests drops None-valued query params).
    The generated `authorization` header (from the bearer scheme) would hide ours, so ours replaces it."""
    headers = httpx.Headers(kwargs["headers"])
    headers.update(auth)
    params = {k: v for k, v in (kwargs.get("params") or {}).items() if v is not None}
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        body["content"] = kwargs["data"]
    return await client.request(kwargs["method"], kwargs["url"], params=params, headers=headers, **body)


SERVICES = {
    "voucher": (create_voucher, VoucherSettings, "voucher_service.migrations"),
    "training": (create_training, TrainingSettings, "training_service.migrations"),
    "certification": (create_certification, CertificationSettings, "certification_service.migrations"),
}


def _settings(name: str, database_url: str = "sqlite+aiosqlite://") -> Any:
    _, settings_cls, _ = SERVICES[name]
    extra = {"wechat_transport": "fake"} if name == "voucher" else {}  # WeChat in-process: no network
    return settings_cls(environment="test", database_url=database_url, run_relay=False, run_consumers=False,
                        run_periodic=False, **extra)


CASES = [(name, method, path, mode) for name in sorted(SERVICES)
         for method, path, mode in cases(SERVICES[name][0], _settings(name))]


@pytest.fixture(scope="module")
async def services(database_factory) -> AsyncIterator[dict[str, ServiceUnderTest]]:
    """Each service started once for the module. (An indirect parameter per case made pytest start a service, with a
    new database and its migrations, for every one of the ~170 cases: each case is a distinct parameter to it.)"""
    async with AsyncExitStack() as stack:
        started = {}
        for name, (create, _, migrations) in SERVICES.items():
            settings = _settings(name, await database_factory(f"fuzz{name}", migrated=migrations))
            started[name] = await stack.enter_async_context(running_service(create, settings, migrations))
        yield started


@pytest.mark.parametrize(("name", "method", "path", "mode"), CASES,
                         ids=[f"{n}:{m} {p}-{mode}" for n, m, p, mode in CASES])
async def test_generated_requests_get_no_5xx_and_problem_json_4xx(services, name, method, path, mode):
    assert await fuzz_operation(services[name], method, path, mode, examples=OTHER_SERVICE_EXAMPLES) > 0
