"""Chain and claim rows in bulk: read the claims of many persons in one query, write only what changed with
Core executemany statements built once (the ORM's unit of work is not needed to write rows already diffed).
Chains are written without reading them first: one upsert that updates a row only when a value differs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Text, bindparam, cast, insert, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from subsidy_service.adapters.models import ChainRow, Claim, Recovery
from subsidy_service.adapters.sql import member, per_dialect, run
from subsidy_service.adapters.store import INSERTS

chains_t = ChainRow.__table__
claims_t = Claim.__table__
recoveries_t = Recovery.__table__

_CLAIMS_OF = per_dialect(lambda d: select(claims_t).where(member(claims_t.c.person_key, "persons", d)))
_RECOVERED = per_dialect(lambda d: select(recoveries_t.c.claim_id).where(member(recoveries_t.c.claim_id, "claims", d)))
# executemany UPDATE: the row id as `row_id`, the columns to set as the other parameters
_UPDATE_CLAIM = update(claims_t).where(claims_t.c.id == bindparam("row_id"))
_INSERT_CLAIM = insert(claims_t)
CHAIN_VALUES = ("person_key", "kind", "policy_year", "enrolment_id", "class_id", "institution_id", "certificate_id",
                "status", "links")


def _upsert_chains(dialect: str) -> Any:
    stmt = INSERTS[dialect](chains_t)
    # JSON has no equality in PostgreSQL: the links compare as jsonb there (as their text in SQLite)
    comparable = postgresql.JSONB if dialect == "postgresql" else Text

    def differs(name: str) -> Any:
        if isinstance(chains_t.c[name].type, JSON):
            return cast(chains_t.c[name], comparable).is_distinct_from(cast(stmt.excluded[name], comparable))
        return chains_t.c[name].is_distinct_from(stmt.excluded[name])

    return stmt.on_conflict_do_update(
        index_elements=["voucher_id"],
        set_={name: stmt.excluded[name] for name in (*CHAIN_VALUES, "updated_at")},
        where=or_(*(differs(name) for name in CHAIN_VALUES)),
    )


_UPSERT_CHAINS = per_dialect(_upsert_chains)
_INSERT_RECOVERY = insert(recoveries_t)


def claim_key_of(row: Row) -> str:
    return f"{row.claim_type}:{row.subject_id}:{row.part}"


async def claims_of(conn: AsyncConnection, person_keys: list[str]) -> dict[str, dict[str, Row]]:
    """person key -> claim key -> the stored claim row."""
    found: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in await run(conn, _CLAIMS_OF, {"persons": person_keys}):
        found[row.person_key][claim_key_of(row)] = row
    return found


async def recovered(conn: AsyncConnection, claim_ids: list[Any]) -> set[Any]:
    """The claims among these that already have a recovery."""
    if not claim_ids:
        return set()
    return set((await run(conn, _RECOVERED, {"claims": claim_ids})).scalars())


@dataclass
class Writes:
    """The row changes of one re-evaluation, written by `write` in the order the constraints need."""

    chains: list[dict[str, Any]] = field(default_factory=list)  # every chain evaluated, voucher_id + CHAIN_VALUES
    slot_releases: list[dict[str, Any]] = field(default_factory=list)
    frozen_voids: list[dict[str, Any]] = field(default_factory=list)
    claim_updates: list[dict[str, Any]] = field(default_factory=list)
    claim_inserts: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    recovery_marks: list[dict[str, Any]] = field(default_factory=list)


async def write(conn: AsyncConnection, writes: Writes) -> None:
    """E4/E5 slots move between claims: every slot that changes is released first (and a frozen claim voided
    gives its slot up), before any claim takes one, so the unique constraints never see two holders."""
    if writes.chains:
        await run(conn, _UPSERT_CHAINS, writes.chains)
    for statement, rows in (
        (_UPDATE_CLAIM, writes.slot_releases),
        (_UPDATE_CLAIM, writes.frozen_voids),
        (_UPDATE_CLAIM, writes.claim_updates),
        (_INSERT_CLAIM, writes.claim_inserts),
        (_INSERT_RECOVERY, writes.recoveries),
        (_UPDATE_CLAIM, writes.recovery_marks),
    ):
        if rows:
            await conn.execute(statement, rows)
