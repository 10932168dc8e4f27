"""The Alembic history builds exactly the ORM schema (no drift between models and migrations)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from subsidy_service.adapters.models import Base


async def test_migrations_match_the_models(subsidy_service):
    engine = subsidy_service.runtime.engine

    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
