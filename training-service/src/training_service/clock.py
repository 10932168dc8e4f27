"""The training service's clock (skillkit.clock: real UTC time; movable only where the settings allow it, never in
production). The days a check-in, a completion or a follow-up may be dated on are judged against it, so the demo,
the end-to-end test and the benchmarks can run a multi-day class in seconds by moving it forward (`PUT /v1/clock`,
mounted only when `movable_clock` is set) without back-dating what they record.

Each app has its own clock (`app.state.clock`); a request sees its app's (`ClockScope`), anything outside a request
(the periodic jobs) real time."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from skillkit.clock import Clock

_current: ContextVar[Clock] = ContextVar("training_clock", default=Clock(movable=False))


def now() -> datetime:
    return _current.get().now()


class ClockScope:
    """ASGI middleware: the requests of an app read that app's clock."""

    def __init__(self, app: Any, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        token = _current.set(self.clock)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
