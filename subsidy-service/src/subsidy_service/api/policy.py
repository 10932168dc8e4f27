"""Policy tables per policy year: read by everyone who works with the rules, changed by the bureau."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.problems import Problem

from subsidy_service.adapters.models import PolicyTableRow
from subsidy_service.api.schemas import PolicyTableIn, PolicyTableOut, PolicyTableSummary
from subsidy_service.api.views import policy_summary, policy_view
from subsidy_service.handlers.policy import put_table

router = APIRouter(prefix="/v1/policy-tables", tags=["policy 政策表"])
READERS = (Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE, Role.TRAINING_ORG, Role.EVALUATION_ORG)
Year = Annotated[int, Path(ge=2000, le=2100)]


@router.get("", response_model=list[PolicyTableSummary], summary="Every version of every year's table")
async def list_tables(session: Session, _: Annotated[Principal, require_roles(*READERS)]) -> list[PolicyTableSummary]:
    rows = await session.scalars(select(PolicyTableRow).order_by(PolicyTableRow.policy_year, PolicyTableRow.version))
    return [policy_summary(r) for r in rows]


@router.get("/{year}", response_model=PolicyTableOut, summary="A year's table (the newest version unless asked)")
async def get_table(
    session: Session,
    year: Year,
    _: Annotated[Principal, require_roles(*READERS)],
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # the column is a 32-bit integer
) -> PolicyTableOut:
    stmt = select(PolicyTableRow).where(PolicyTableRow.policy_year == year)
    if version is not None:
        stmt = stmt.where(PolicyTableRow.version == version)
    row = await session.scalar(stmt.order_by(PolicyTableRow.version.desc()).limit(1))
    if row is None:
        raise Problem(404, "policy_table_not_found",
                      f"no policy table for {year}" + (f" version {version}" if version else "")
                      + "; a year without its own table uses the latest earlier year's")
    return policy_view(row)


@router.put(
    "/{year}",
    response_model=PolicyTableOut,
    status_code=200,
    summary="Publish a new version of a year's table (bureau). Never changes another year's claims.",
    responses={201: {"description": "The year's first table"}},
)
@command
async def put(
    request: Request,
    session: Session,
    year: Year,
    body: PolicyTableIn,
    principal: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN)],
) -> Outcome:
    row, created = await put_table(session, principal, year, body)
    return Outcome(policy_view(row), 201 if created else 200)
