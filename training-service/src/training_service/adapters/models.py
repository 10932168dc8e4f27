"""ORM models of the training service and the kit's tables on the same metadata."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from skillkit.db import new_metadata
from skillkit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


kit_tables = add_kit_tables(Base.metadata)
