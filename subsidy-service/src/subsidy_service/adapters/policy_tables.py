"""The policy tables: every stored version, parsed once per stamp, and the seed of the 2023 table. No commits
here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from skillkit.db import utcnow

from subsidy_service.adapters.models import PolicyTableRow
from subsidy_service.domain.policy import Policies, PolicyTable, default_2023

tables_t = PolicyTableRow.__table__

# The tables' stamp: row count and newest change. Versions are only ever added (never changed or deleted), so it
# changes with every publication, in any process. Also read as two columns of the facts query (`fact_store.py`), so that
# a re-evaluation needs no query of its own for the tables while the stamp holds.
TABLES_STAMP = (select(func.count()).select_from(tables_t).scalar_subquery().label("tables_count"),
                select(func.max(tables_t.c.changed_at)).scalar_subquery().label("tables_changed"))
_STAMP = select(*TABLES_STAMP)
_ALL_TABLES = select(tables_t)

# The parsed tables of the last stamp seen, per database. A stamp read inside a PUT's own transaction that then
# rolls back never recurs, so it is never matched again.
_POLICIES: dict[Any, tuple[Any, Policies]] = {}


async def policies(conn: AsyncConnection, stamp: tuple[int, Any] | None = None) -> Policies:
    """Every stored table version, parsed once per stamp; `stamp` when the caller already read it."""
    if stamp is None:
        stamp = tuple((await conn.execute(_STAMP)).one())
    cached = _POLICIES.get(conn.engine.url)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    parsed = Policies([_table_of(row) for row in await conn.execute(_ALL_TABLES)])
    _POLICIES[conn.engine.url] = (stamp, parsed)
    return parsed


def _table_of(row: Any) -> PolicyTable:
    return PolicyTable.model_validate(
        {**row.body, "policy_year": row.policy_year, "version": row.version,
         "effective_from": row.effective_from, "effective_to": row.effective_to, "changed_by": row.changed_by}
    )


async def ensure_default_tables(session: AsyncSession) -> bool:
    """Seeds the 2023 table of RULES.md as version 1 when it is not there; True when it seeded."""
    if await session.get(PolicyTableRow, (2023, 1)) is not None:
        return False
    table = default_2023()
    session.add(
        PolicyTableRow(
            policy_year=table.policy_year,
            version=table.version,
            effective_from=table.effective_from,
            effective_to=table.effective_to,
            body=table.rule_values(),
            changed_by="system:RULES.md",
            changed_at=utcnow(),
            note="临技能办发〔2023〕1号 (RULES.md)",
        )
    )
    await session.flush()
    return True
