"""The movable clock (development and test only: mounted when `movable_clock` is set, which production refuses at
start-up). Lets the demo, the end-to-end test and the benchmarks run a multi-day class in seconds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from skillkit.auth import Principal, Role, require_roles
from skillkit.county import CountyTime

router = APIRouter(prefix="/v1/clock", tags=["clock (development, test)"])


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: CountyTime | None = None  # None: back to real time


class ClockOut(BaseModel):
    now: CountyTime


@router.get("", response_model=ClockOut, summary="The service's time (development, test)")
async def get_clock(request: Request, _: Annotated[Principal, require_roles(Role.ADMIN)]) -> ClockOut:
    return ClockOut(now=request.app.state.clock.now())


@router.put("", response_model=ClockOut, summary="Move the service's clock (development, test; refused in production)")
async def move_clock(request: Request, body: ClockIn, _: Annotated[Principal, require_roles(Role.ADMIN)]) -> ClockOut:
    clock = request.app.state.clock
    if body.now is None:
        clock.reset()
    else:
        clock.move_to(body.now)
    return ClockOut(now=clock.now())
