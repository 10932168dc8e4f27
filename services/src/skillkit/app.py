"""The FastAPI app factory every service uses: health, readiness, metrics, problems, correlation ids,
body limits and the deny-by-default role check."""

from __future__ import annotations

import gc
import time
import uuid
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute, APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from skillkit.auth import declared_roles
from skillkit.bus import broker_ready
from skillkit.events import correlation_id_var
from skillkit.logs import configure_logging
from skillkit.openapi_docs import document
from skillkit.problems import PROBLEM_RESPONSES, install_problem_handlers, problem_response
from skillkit.runtime import ServiceRuntime
from skillkit.warmup import warm_up

CORRELATION_HEADER = "X-Correlation-ID"

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


READ_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    runtime = request.app.state.runtime
    maker = runtime.read_sessionmaker if request.method in READ_METHODS else runtime.sessionmaker
    async with maker() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


def create_app(
    runtime: ServiceRuntime,
    routers: list[APIRouter],
    *,
    title: str,
    description: str,
    version: str = "1.0.0",
) -> FastAPI:
    settings = runtime.settings
    configure_logging(settings.service_name, settings.log_level)
    warm_up()  # before the lifespan's gc.freeze(), and out of the first requests

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        # What exists once started (modules, the app, compiled statements, caches) lives as long as the process:
        # moved out of the collector's generations, so the full collections that consumers' allocations trigger
        # no longer rescan it (~10 % of the subsidy consumer's CPU before, ~3 % after, measured).
        gc.freeze()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    install_problem_handlers(app)
    _refuse_undeclared_roles(routers)
    for router in routers:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    document(app)  # roles, problem codes, Idempotency-Key, ID-number and credit-code rules in the OpenAPI
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Forwarded headers are believed only from the configured proxies (none by default): uvicorn runs with
    # --no-proxy-headers (skillkit.platform.uvicorn_command), and this decides instead, from the settings.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.add_middleware(NulCharacterMiddleware)
    app.add_middleware(CorrelationAndMetricsMiddleware, service=settings.service_name)

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["ops"], summary="Readiness: database and broker reachable")
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with runtime.sessionmaker() as session:  # type: ignore[misc]
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"down: {exc.__class__.__name__}"
        checks["broker"] = "ok" if await broker_ready(settings.kafka_bootstrap) else "down"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _refuse_undeclared_roles(routers: list[APIRouter]) -> None:
    """Deny by default: a /v1 route without a `require_roles` dependency stops the service from starting."""
    missing = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path.startswith("/v1"):
                if not any(declared_roles(dep.call) is not None for dep in _all_dependencies(route.dependant)):
                    missing.append(f"{','.join(sorted(route.methods))} {route.path}")
    if missing:
        raise RuntimeError(f"routes without declared roles: {missing}")


def _all_dependencies(dependant: Any) -> list[Any]:
    found = list(dependant.dependencies)
    for dep in dependant.dependencies:
        found.extend(_all_dependencies(dep))
    return found


class CorrelationAndMetricsMiddleware:
    """Carries the request's correlation id (header or new) into logs and events, echoes it back, and
    records request count and latency per route template. Pure ASGI: no per-request task group."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(CORRELATION_HEADER.lower().encode())
        correlation = incoming.decode("latin-1") if incoming else str(uuid.uuid4())
        token = correlation_id_var.set(correlation)
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (CORRELATION_HEADER.encode(), correlation.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            correlation_id_var.reset(token)
            template = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(self.service, scope["method"], template, status).inc()
            LATENCY.labels(self.service, scope["method"], template).observe(time.perf_counter() - started)


class BodyLimitMiddleware:
    """Refuses oversized bodies with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = problem_response(
            request, 413, "body_too_large", f"request body exceeds {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class NulCharacterMiddleware:
    """Refuses a NUL character (%00) in the path or the query with 400: PostgreSQL text cannot hold one, so it
    would otherwise fail the query as a 500 wherever the value reaches the database."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            request = Request(scope, receive)
            where = "the path" if "\x00" in scope["path"] else "query parameter " + ", ".join(
                sorted({name for name, value in request.query_params.multi_items() if "\x00" in name + value}))
            response = problem_response(request, 400, "nul_character", f"{where} contains a NUL character (%00)")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
