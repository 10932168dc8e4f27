"""The public disclosure (P7, no token): per quarter and payee the persons paid for, the amounts and the funds used,
the targets reached, and per payee the list of paid trainees with masked names (张*三) and their voucher id —
nothing else personal (the subsidy service holds no ID number or mobile). With the audit trail's head (P10), so a
published figure can be tied to the decisions behind it.

Answers are cached in the process for `disclosure_cache_seconds` (and marked cacheable for proxies), and every
request counts against a per-client limit kept in the database (shared by the replicas, like the certification
service's public certificate check)."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from skillkit.app import Session
from skillkit.audit import GENESIS_HASH, head
from skillkit.auth import PUBLIC, require_roles
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.pii import mask_name
from skillkit.problems import problem_response

from subsidy_service.adapters import report_queries as q
from subsidy_service.api.report_schemas import DisclosedPersons, DisclosureOut
from subsidy_service.handlers import reports

router = APIRouter(prefix="/v1/public", tags=["public 公开公示"])
PAGE = 50


class TtlCache:
    """A tiny per-process cache of rendered answers (the public page must not run the aggregates per visitor)."""

    def __init__(self, seconds: float, size: int = 512) -> None:
        self.seconds, self.size = seconds, size
        self._items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        hit = self._items.get(key)
        if hit and time.monotonic() - hit[0] < self.seconds:
            return hit[1]
        return None

    def put(self, key: Any, value: Any) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = (time.monotonic(), value)


async def _limited(request: Request) -> JSONResponse | None:
    limiter = request.app.state.disclosure_limiter
    # the connection's peer, or what a configured proxy forwarded (skillkit.app: trusted_proxies)
    client = request.client.host if request.client else "unknown"
    wait = await limiter.hit(client)
    if wait is None:
        return None
    response = problem_response(request, 429, "rate_limited",
                                f"at most {limiter.limit} disclosure requests per {limiter.window:g} s per client address")
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _cache_headers(request: Request, response: Response) -> None:
    response.headers["Cache-Control"] = f"public, max-age={int(request.app.state.settings.disclosure_cache_seconds)}"


RATE_LIMITED = {429: {"description": "too many requests from this client; retry after the Retry-After seconds"}}
PublicYear = Annotated[int | None, Query(ge=2000, le=2100, description="policy year (default: the current year)")]
PublicQuarter = Annotated[int | None, Query(ge=1, le=4, description="one quarter (default: all four)")]


@router.get("/disclosure", response_model=DisclosureOut, responses=RATE_LIMITED,
            summary="P7 public disclosure: per quarter and payee the persons paid for and the amounts, funds used, "
                    "targets, and the audit trail's head (no token; cached; rate-limited per client)")
async def get_disclosure(request: Request, response: Response, session: Session,
                         _: Annotated[None, require_roles(PUBLIC)], year: PublicYear = None,
                         quarter: PublicQuarter = None) -> Any:
    if (refused := await _limited(request)) is not None:
        return refused
    year = year or local_date(utcnow()).year
    cache = request.app.state.disclosure_cache
    body = cache.get(("disclosure", year, quarter))
    if body is None:
        current = await head(session)
        audit_head = ({"head_id": current.id, "head_hash": current.hash, "head_at": current.at} if current
                      else {"head_id": None, "head_hash": GENESIS_HASH, "head_at": None})
        body = DisclosureOut.model_validate(await reports.disclosure(
            session, year, quarter, request.app.state.settings.report_township_workforce, audit_head))
        cache.put(("disclosure", year, quarter), body)
    _cache_headers(request, response)
    return body


@router.get("/disclosure/persons", response_model=DisclosedPersons, responses=RATE_LIMITED,
            summary="P7: the paid trainees of one payee — masked name and voucher id only (no token; rate-limited)")
async def get_disclosed_persons(
    request: Request, response: Response, session: Session, _: Annotated[None, require_roles(PUBLIC)],
    payee_type: Literal["institution", "evaluation_institution", "worker"],
    payee_id: Annotated[str, Query(max_length=64)] = "", year: PublicYear = None, quarter: PublicQuarter = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Any:
    if (refused := await _limited(request)) is not None:
        return refused
    year = year or local_date(utcnow()).year
    key = ("persons", year, quarter, payee_type, payee_id, page)
    cache = request.app.state.disclosure_cache
    body = cache.get(key)
    if body is None:
        total, rows = await q.paid_persons(session, year, quarter, payee_type, payee_id, PAGE, (page - 1) * PAGE)
        body = DisclosedPersons(year=year, quarter=quarter, payee_type=payee_type,
                                payee_id=payee_id if payee_type != "worker" else "", total=total, items=[
            {"masked_name": mask_name(r["masked_name"]) if r["masked_name"] else None, "voucher_id": r["voucher_id"],
             "kind_label": (reports.CLAIM_TYPE_LABELS[r["claim_type"]] if r["claim_type"] != "training"
                            else reports.kind_label(r["kind"])),
             "amount": r["amount"]} for r in rows])
        cache.put(key, body)
    _cache_headers(request, response)
    return body
