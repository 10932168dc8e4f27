"""Every /v1 endpoint of every service, for each role: the declared roles get past authorisation, one
undeclared role is refused with 403, and no token is refused with 401 (deny by default)."""

from __future__ import annotations

import uuid
from typing import AsyncIterator

import pytest
from fastapi.routing import APIRoute

from skillkit.auth import ORG_ROLES, PUBLIC, Role, declared_roles
from skillkit.testing.harness import ServiceUnderTest, running_service

from certification_service.config import CertificationSettings
from certification_service.main import create as create_certification
from subsidy_service.config import SubsidySettings
from subsidy_service.main import create as create_subsidy
from training_service.config import TrainingSettings
from training_service.main import create as create_training
from voucher_service.config import VoucherSettings
from voucher_service.main import create as create_voucher

SERVICES = {
    "voucher": (create_voucher, VoucherSettings, "voucher_service.migrations"),
    "training": (create_training, TrainingSettings, "training_service.migrations"),
    "certification": (create_certification, CertificationSettings, "certification_service.migrations"),
    "subsidy": (create_subsidy, SubsidySettings, "subsidy_service.migrations"),
}


@pytest.fixture(scope="module", params=sorted(SERVICES))
async def service(request, database_factory) -> AsyncIterator[ServiceUnderTest]:
    create, settings_cls, migrations = SERVICES[request.param]
    url = await database_factory(f"roles{request.param}", migrated=migrations)
    settings = settings_cls(environment="test", database_url=url,
                            run_relay=False, run_consumers=False, run_periodic=False)
    async with running_service(create, settings, migrations) as running:
        yield running


# What each public endpoint answers a caller without a token for the matrix's request (an empty body, an unknown id):
# past authorisation every time, and a new public endpoint must be added here on purpose.
PUBLIC_OUTCOMES = {
    ("POST", "/v1/public/certificate-checks"): (422, "validation_failed"),
    ("GET", "/v1/public/disclosure"): (200, None),
    ("GET", "/v1/public/disclosure/persons"): (422, "validation_failed"),
    ("GET", "/v1/occupations"): (200, None),
    ("GET", "/v1/occupations/{code}"): (404, "occupation_not_found"),
    ("GET", "/v1/institutions"): (200, None),
    ("GET", "/v1/institutions/{institution_id}"): (404, "institution_not_found"),
    ("GET", "/v1/open-classes"): (200, None),
    ("GET", "/v1/open-classes/{class_id}"): (404, "class_not_found"),
    ("POST", "/v1/auth/wechat"): (422, "validation_failed"),
    ("POST", "/v1/auth/refresh"): (422, "validation_failed"),
    ("GET", "/v1/voucher-keys/qr"): (200, None),
}


def v1_routes(service: ServiceUnderTest) -> list[tuple[str, str, frozenset[str]]]:
    found = []
    for router_route in service.app.router.routes:
        for route in getattr(getattr(router_route, "original_router", None), "routes", [router_route]):
            if isinstance(route, APIRoute) and route.path.startswith("/v1"):
                roles = next(r for r in (declared_roles(d.call) for d in _deps(route.dependant)) if r is not None)
                for method in route.methods:
                    found.append((method, route.path, roles))
    assert found, "no /v1 routes found"
    return found


def _deps(dependant) -> list:
    found = list(dependant.dependencies)
    for dep in dependant.dependencies:
        found.extend(_deps(dep))
    return found


def concrete(path: str) -> str:
    """Path parameters get a well-formed id that does not exist; a format suffix (qr.{fmt}) gets svg."""
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            part = str(uuid.uuid4())
        elif "{" in part:
            part = part.split("{")[0] + "svg"
        parts.append(part)
    return "/".join(parts)


async def call(service: ServiceUnderTest, method: str, path: str, headers: dict[str, str]):
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return await service.client.request(method, concrete(path), headers=headers, **kwargs)


def token_for(service: ServiceUnderTest, role: str) -> dict[str, str]:
    org = str(uuid.uuid4()) if role in ORG_ROLES else None
    return service.headers(role, sub=f"matrix-{role}", org=org)


async def test_declared_roles_pass_and_others_are_refused(service):
    for method, path, roles in v1_routes(service):
        if PUBLIC in roles:
            r = await call(service, method, path, {})
            code = r.json()["code"] if r.status_code >= 400 else None
            assert (r.status_code, code) == PUBLIC_OUTCOMES[method, path], (method, path, r.text)
            continue
        r = await call(service, method, path, {})
        assert (r.status_code, r.json()["code"]) == (401, "token_missing"), (method, path)
        for role in roles:
            r = await call(service, method, path, token_for(service, role))
            code = r.json().get("code") if r.headers["content-type"].startswith("application/problem") else None
            assert r.status_code != 401 and code != "role_forbidden", (method, path, role, r.text)
            assert r.status_code < 500, (method, path, role, r.text)
        denied = next(str(role) for role in Role if str(role) not in roles)
        r = await call(service, method, path, token_for(service, denied))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden"), (method, path, denied, r.text)
