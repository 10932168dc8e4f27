"""T4 inputs: workforce size per township (set by the bureau) and the certificate-holding rate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import run_command

from certification_service.api.schemas import HoldingRateOut, WorkforceIn, WorkforceOut
from certification_service.handlers.reports import holding_rate, set_workforce

router = APIRouter(prefix="/v1", tags=["holding rate 持证率 (T4)"])

Township = Annotated[str, Path(min_length=2, max_length=50)]


@router.put("/workforce/{township}", response_model=WorkforceOut, summary="Set a township's workforce size (T4)")
async def put_workforce(
    request: Request,
    session: Session,
    township: Township,
    body: WorkforceIn,
    principal: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN)],
) -> Response:
    async def action() -> WorkforceOut:
        row = await set_workforce(session, principal, township, body.workforce_size)
        return WorkforceOut(township=row.township, workforce_size=row.workforce_size, updated_at=row.updated_at)

    return await run_command(request, session, principal, action, status_code=200)


@router.get(
    "/reports/holding-rate",
    response_model=HoldingRateOut,
    summary="Certificate holders per township against the workforce, county total and the 32 % target (T4)",
)
async def get_holding_rate(
    request: Request,
    session: Session,
    _: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE)],
) -> HoldingRateOut:
    return await holding_rate(session, request.app.state.settings.holding_rate_target)
