"""The one clock (ARCHITECTURE.md, "Decisions, time and outside systems"): real UTC time in production; in
development and tests it may be moved (to run a quarter's settlement or a P5 deadline in seconds). Production
refuses to move it."""

from __future__ import annotations

from datetime import datetime, timedelta

from skillkit.db import utcnow


class Clock:
    def __init__(self, movable: bool) -> None:
        self._movable = movable
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self._offset

    def move_to(self, moment: datetime) -> None:
        if not self._movable:
            raise RuntimeError("the production clock cannot be moved")
        if moment.tzinfo is None:
            raise ValueError("a moment is timezone-aware")
        self._offset = moment - utcnow()

    def reset(self) -> None:
        self._offset = timedelta(0)
