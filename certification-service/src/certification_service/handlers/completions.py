"""P3 培训一人，评价一人: the training service's completed trainees, and those not evaluated after N days.

The consumer keeps one row per enrolment (`training_completions`): `training.enrolled` fills the class, the
training institution, the occupation and level, `training.completed` the completion day; each upsert touches only
its own columns, so the two may arrive in any order or twice.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import is_postgres, utcnow
from skillkit.events import Envelope

from certification_service.adapters.models import Candidate, Evaluation, TrainingCompletion

_TABLE = TrainingCompletion.__table__


async def _upsert(session: AsyncSession, values: dict[str, Any]) -> None:
    dialect = postgresql if is_postgres(session) else sqlite
    stmt = dialect.insert(_TABLE).values(**values, updated_at=utcnow())
    own = {name: stmt.excluded[name] for name in (*values, "updated_at") if name != "enrolment_id"}
    await session.execute(stmt.on_conflict_do_update(index_elements=["enrolment_id"], set_=own))


async def on_enrolled(session: AsyncSession, envelope: Envelope) -> None:
    p = envelope.data
    await _upsert(session, dict(enrolment_id=p.enrolment_id, person_key=p.person_key, class_id=p.class_id,
                                institution_id=p.institution_id, occupation_code=p.occupation_code, level=p.level))


async def on_completed(session: AsyncSession, envelope: Envelope) -> None:
    p = envelope.data
    await _upsert(session, dict(enrolment_id=p.enrolment_id, person_key=p.person_key, class_id=p.class_id,
                                completed_on=p.completed_on, passed=p.passed))


def _evaluated():
    """A candidate of the same person in an evaluation of the class's occupation (any level, any institution)."""
    c = TrainingCompletion
    return exists().where(and_(Candidate.person_key == c.person_key, Candidate.evaluation_id == Evaluation.id,
                               Evaluation.occupation_code == c.occupation_code))


async def unevaluated(session: AsyncSession, today: date, after_days: int) -> list[TrainingCompletion]:
    """Trainees completed at least `after_days` days before `today` and evaluated nowhere yet (P3)."""
    c = TrainingCompletion
    stmt = (select(c).where(c.completed_on.is_not(None), c.completed_on <= today - timedelta(days=after_days),
                            ~_evaluated())
            .order_by(c.institution_id, c.completed_on, c.enrolment_id))
    return list(await session.scalars(stmt))


async def awaiting(session: AsyncSession, evaluation: Evaluation) -> list[tuple[TrainingCompletion, bool]]:
    """The completed trainees of the evaluation's occupation (and level, when both name one), each with whether it
    is already a candidate of this evaluation: whom the evaluation institution is to register (P3)."""
    c = TrainingCompletion
    stmt = select(c).where(c.completed_on.is_not(None), c.occupation_code == evaluation.occupation_code)
    if evaluation.level is not None:
        stmt = stmt.where((c.level == evaluation.level) | c.level.is_(None))
    rows = list(await session.scalars(stmt.order_by(c.completed_on, c.enrolment_id)))
    registered = set(await session.scalars(select(Candidate.person_key).where(
        Candidate.evaluation_id == evaluation.id)))
    return [(row, row.person_key in registered) for row in rows]
