"""Import of the occupation catalogue from the CSV shipped with the service (idempotent upsert)."""

from __future__ import annotations

import csv
import io
import re
from importlib import resources
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import utcnow

from training_service.adapters.models import Occupation, OccupationLevel

OCCUPATION_CODE = re.compile(r"^\d-\d{2}-\d{2}-\d{2}$")  # national classification format, e.g. 4-10-01-05
COLUMNS = ["code", "name", "level", "min_training_days", "subsidised_day_limit"]


def shipped_csv() -> str:
    return resources.files("training_service").joinpath("data/occupations.csv").read_text(encoding="utf-8")


def parse_occupations(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != COLUMNS:
        raise ValueError(f"occupation CSV needs the columns {COLUMNS}, has {reader.fieldnames}")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not OCCUPATION_CODE.match(row["code"]):
            raise ValueError(f"line {line}: occupation code {row['code']!r} is not in the format 4-10-01-05")
        level, min_days, limit = int(row["level"]), int(row["min_training_days"]), int(row["subsidised_day_limit"])
        if level not in (1, 2, 3, 4, 5) or min_days < 1 or limit < min_days:
            raise ValueError(f"line {line}: level 1..5, min days >= 1 and the subsidised-day limit >= min days")
        rows.append({"code": row["code"], "name": row["name"].strip(), "level": level,
                     "min_training_days": min_days, "subsidised_day_limit": limit})
    return rows


async def import_occupations(session: AsyncSession, csv_path: str | None = None) -> int:
    """Upserts every row of the catalogue; returns the number of occupation levels. Does not commit."""
    text = Path(csv_path).read_text(encoding="utf-8") if csv_path else shipped_csv()
    rows = parse_occupations(text)
    now = utcnow()
    occupations = {o.code: o for o in (await session.scalars(select(Occupation))).all()}
    levels = {(lv.occupation_code, lv.level): lv for lv in (await session.scalars(select(OccupationLevel))).all()}
    for row in rows:
        occupation = occupations.get(row["code"])
        if occupation is None:
            occupation = Occupation(code=row["code"], name=row["name"], created_at=now)
            session.add(occupation)
            occupations[row["code"]] = occupation
        else:
            occupation.name = row["name"]
        level = levels.get((row["code"], row["level"]))
        if level is None:
            level = OccupationLevel(occupation_code=row["code"], level=row["level"],
                                    min_training_days=row["min_training_days"],
                                    subsidised_day_limit=row["subsidised_day_limit"])
            session.add(level)
            levels[(row["code"], row["level"])] = level
        else:
            level.min_training_days = row["min_training_days"]
            level.subsidised_day_limit = row["subsidised_day_limit"]
    await session.flush()
    return len(rows)
