"""A class's trainees, loaded once per bulk upload: rows name their trainee by enrolment id or resident ID number."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.pii import blind_index, normalise_resident_id
from skillkit.problems import Problem

from training_service.adapters.models import LIVE, Enrolment
from training_service.config import TrainingSettings


@dataclass
class ClassTrainees:
    by_id: dict[uuid.UUID, Enrolment]
    live_by_blind_index: dict[str, Enrolment]
    blind_index_secret: str

    @classmethod
    async def load(cls, session: AsyncSession, settings: TrainingSettings, class_id: uuid.UUID) -> "ClassTrainees":
        """One SELECT; the enrolments also land in the session's identity map, so `session.get` finds them."""
        enrolments = (await session.scalars(select(Enrolment).where(Enrolment.class_id == class_id))).all()
        return cls(
            by_id={e.id: e for e in enrolments},
            live_by_blind_index={e.id_blind_index: e for e in enrolments if e.live_slot == LIVE},
            blind_index_secret=settings.blind_index_secret,
        )

    def get(self, enrolment_id: uuid.UUID) -> Enrolment:
        enrolment = self.by_id.get(enrolment_id)
        if enrolment is None:  # unknown, or another class's trainee
            raise Problem(422, "enrolment_not_in_class", f"enrolment {enrolment_id} is not a trainee of this class")
        return enrolment

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """Fills `enrolment_id` from `id_number` when the row gives only the number (what staff know)."""
        number = values.pop("id_number", None)
        if values.get("enrolment_id") is None and number is not None:
            normalised = normalise_resident_id(number, local_date(utcnow()))
            enrolment = self.live_by_blind_index.get(blind_index(normalised, self.blind_index_secret))
            if enrolment is None:
                raise Problem(422, "trainee_not_in_class", "no trainee of this class has this resident ID number")
            values["enrolment_id"] = str(enrolment.id)
        if values.get("enrolment_id") is None:
            raise Problem(422, "trainee_missing", "the row names no trainee (enrolment_id or id_number)")
        return values
