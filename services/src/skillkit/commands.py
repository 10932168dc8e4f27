"""Running a state-changing request: one transaction, and `Idempotency-Key` replay.

Handlers never commit. The command runner commits once, together with the idempotency record, so a
retried POST (mobile networks retry) gets the very same response and changes nothing twice.
Same key + same body -> the stored response; same key + another body -> 422.

A route that changes state is written as its action alone, under `@command` (below the route decorator): its
body runs inside `run_command`, and what it returns (a view, or an `Outcome`) is the response.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from fastapi import Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.db import utcnow
from skillkit.outbox import wrote_events
from skillkit.problems import Problem

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Outcome:
    """What an action returns when the status is not the runner's default (e.g. 200 for "already there")."""

    body: Any
    status_code: int


async def run_command(
    request: Request,
    session: AsyncSession,
    principal: Principal | None,
    action: Callable[[], Awaitable[Any]],
    *,
    status_code: int = 201,
) -> Response:
    runtime = request.app.state.runtime
    table = runtime.tables.idempotency
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (1 <= len(key) <= 200):
        raise Problem(400, "idempotency_key_invalid", "Idempotency-Key must be 1 to 200 characters")
    owner = principal.subject if principal else "public"
    route = f"{request.method} {request.url.path}"
    body_hash = await _fingerprint(request)

    if key is not None:
        stored = await _stored(session, table, key, owner)
        if stored is not None:
            return _replay(stored, route, body_hash)

    try:
        result = await action()
    except (Problem, IntegrityError):
        # What the action collided with (a unique row, "already there") may be the work of a concurrent request
        # with this very key — a mobile retry sent while the first was still running. That one has committed by
        # now (the collision waited for it), and this retry gets its answer rather than the conflict.
        if key is None:
            raise
        await session.rollback()
        stored = await _stored(session, table, key, owner)
        if stored is None:
            raise
        return _replay(stored, route, body_hash)
    if isinstance(result, Outcome):
        result, status_code = result.body, result.status_code
    body = _encode(result)
    if key is not None:
        await session.execute(
            table.insert(),  # parameters bound at execution: the compiled statement is reused
            dict(key=key, principal=owner, route=route, body_hash=body_hash, status_code=status_code,
                 response_body=body, created_at=utcnow()),
        )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        stored = await _stored(session, table, key, owner) if key is not None else None
        if stored is None:
            raise
        return _replay(stored, route, body_hash)  # a concurrent retry with the same key won the race
    if wrote_events(session):
        runtime.notify_outbox()
    return Response(body, status_code=status_code, media_type="application/json")


def command(endpoint: Callable[..., Awaitable[Any]] | None = None, *, status_code: int = 201) -> Any:
    """The route as a command: `@router.post(...)` over `@command` (or `@command(status_code=200)`) over an async
    endpoint with parameters named `request`, `session` and `principal` (FastAPI fills them as before). The whole
    body is the action `run_command` runs — a check that refuses the request rolls back with the rest, and a retry
    whose key was already answered gets that answer — so the route holds no closure of its own."""

    def decorate(endpoint: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Response]]:
        signature = inspect.signature(endpoint)
        missing = {"request", "session", "principal"} - set(signature.parameters)
        if missing:
            raise TypeError(f"command {endpoint.__qualname__} lacks the parameters {sorted(missing)}")

        @functools.wraps(endpoint)
        async def route(**kwargs: Any) -> Response:
            return await run_command(kwargs["request"], kwargs["session"], kwargs["principal"],
                                     lambda: endpoint(**kwargs), status_code=status_code)

        # FastAPI reads the parameters from here (and resolves their names in the endpoint's module, __wrapped__)
        route.__signature__ = signature.replace(return_annotation=Response)  # type: ignore[attr-defined]
        route.__command__ = True  # type: ignore[attr-defined]  # skillkit.openapi_docs: Idempotency-Key
        return route

    return decorate(endpoint) if endpoint is not None else decorate


def is_command(endpoint: Any) -> bool:
    return getattr(endpoint, "__command__", False)


def _encode(result: Any) -> bytes:
    # pydantic's own serialiser: the same JSON as jsonable_encoder's model_dump(mode="json"), compact, at a
    # fraction of the CPU for a bulk response of many rows
    if isinstance(result, BaseModel):
        return result.model_dump_json().encode()
    return json.dumps(jsonable_encoder(result), ensure_ascii=False).encode()


async def _fingerprint(request: Request) -> str:
    """SHA-256 of the request body; for a multipart upload (whose stream the form parser consumed), of its parts."""
    digest = hashlib.sha256()
    try:
        digest.update(await request.body())
    except RuntimeError:
        form = await request.form()
        for name, value in form.multi_items():
            digest.update(name.encode())
            if isinstance(value, UploadFile):
                await value.seek(0)
                digest.update(await value.read())
                await value.seek(0)
            else:
                digest.update(str(value).encode())
    return digest.hexdigest()


async def _stored(session: AsyncSession, table: Any, key: str, owner: str) -> Any:
    statement = _LOOKUPS.get(table)
    if statement is None:  # built once per table: rebuilding the select cost more than running it
        statement = _LOOKUPS[table] = select(table).where(
            table.c.key == bindparam("p_key"), table.c.principal == bindparam("p_principal")
        )
    return (await session.execute(statement, dict(p_key=key, p_principal=owner))).first()


_LOOKUPS: dict[Any, Any] = {}


def _replay(stored: Any, route: str, body_hash: str) -> Response:
    if stored.route != route or stored.body_hash != body_hash:
        raise Problem(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request body or endpoint",
        )
    return Response(
        stored.response_body,
        status_code=stored.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )
