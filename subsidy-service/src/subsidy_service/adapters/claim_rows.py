"""Chain and claim rows in bulk: read the claims of many persons in one query, write only what changed with
Core executemany statements built once (the ORM's unit of work is not needed to write rows already diffed).
Chains are written without reading them first: one upsert that updates a row only when a value differs (on
PostgreSQL from unnested column arrays: one statement text and one parameter set for any number of chains).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, bindparam, cast, insert, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from skillkit.db import utcnow
from skillkit.inserts import dialect_insert

from subsidy_service.adapters.models import ChainRow, Claim, Recovery
from subsidy_service.adapters.sql import member, per_dialect, run
from subsidy_service.domain.chain import claim_key

chains_t = ChainRow.__table__
claims_t = Claim.__table__
recoveries_t = Recovery.__table__

# On PostgreSQL the claims are read locked, in id order: the settlement flow changes claims of many persons
# without their person locks (declaring, approving, paying: `handlers/declarations.py`), and locks them in id
# order too, so a re-evaluation and a settlement step touching the same claims run one after the other.
_CLAIMS_OF = per_dialect(lambda d: (
    select(claims_t).where(member(claims_t.c.person_key, "persons", d)).order_by(claims_t.c.id).with_for_update()
    if d == "postgresql" else select(claims_t).where(member(claims_t.c.person_key, "persons", d))
))
_RECOVERED = per_dialect(lambda d: select(recoveries_t.c.claim_id).where(member(recoveries_t.c.claim_id, "claims", d)))
# executemany UPDATE: the row id as `row_id`, the columns to set as the other parameters
_UPDATE_CLAIM = update(claims_t).where(claims_t.c.id == bindparam("row_id"))
_INSERT_CLAIM = insert(claims_t)
CHAIN_VALUES = ("person_key", "kind", "policy_year", "enrolment_id", "class_id", "institution_id", "certificate_id",
                "status", "links")


_CHAIN_TYPES = dict(voucher_id="text", person_key="text", kind="text", policy_year="integer", enrolment_id="text",
                    class_id="text", institution_id="text", certificate_id="text", status="text", links="text")

# PostgreSQL: one array per column, unnested — one SQL text for any number of chains, prepared once per
# connection, and one set of parameters instead of one per row. The links are bound as JSON text.
# JSON has no equality in PostgreSQL: the links compare as jsonb.
_UPSERT_CHAINS_PG = text(
    f"INSERT INTO {chains_t.name} ({', '.join(_CHAIN_TYPES)}, created_at, updated_at)"
    f" SELECT {', '.join(name if name != 'links' else 'CAST(links AS json)' for name in _CHAIN_TYPES)},"
    " CAST(:now AS timestamptz), CAST(:now AS timestamptz)"
    f" FROM unnest({', '.join(f'CAST(:{name} AS {kind}[])' for name, kind in _CHAIN_TYPES.items())})"
    f" WITH ORDINALITY AS t({', '.join(_CHAIN_TYPES)}, n) ORDER BY t.n"
    " ON CONFLICT (voucher_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*CHAIN_VALUES, "updated_at"))
    + " WHERE " + " OR ".join(
        f"CAST({chains_t.name}.links AS jsonb) IS DISTINCT FROM CAST(excluded.links AS jsonb)" if name == "links"
        else f"{chains_t.name}.{name} IS DISTINCT FROM excluded.{name}"
        for name in CHAIN_VALUES
    )
)


def _upsert_chains_sqlite() -> Any:
    stmt = dialect_insert("sqlite", chains_t)

    def differs(name: str) -> Any:
        if isinstance(chains_t.c[name].type, JSON):  # JSON compares as its text
            return cast(chains_t.c[name], Text).is_distinct_from(cast(stmt.excluded[name], Text))
        return chains_t.c[name].is_distinct_from(stmt.excluded[name])

    return stmt.on_conflict_do_update(
        index_elements=["voucher_id"],
        set_={name: stmt.excluded[name] for name in (*CHAIN_VALUES, "updated_at")},
        where=or_(*(differs(name) for name in CHAIN_VALUES)),
    )


_UPSERT_CHAINS_SQLITE = _upsert_chains_sqlite()


async def _upsert_chains(conn: AsyncConnection, chains: list[dict[str, Any]], now: datetime) -> None:
    """Writes the chains whose values differ from the stored ones (`created_at` is kept by an update,
    `updated_at` moves only on a change)."""
    if conn.dialect.name == "postgresql":
        columns = {name: [chain[name] for chain in chains] for name in _CHAIN_TYPES if name != "links"}
        links = [json.dumps(chain["links"], ensure_ascii=False) for chain in chains]
        await conn.execute(_UPSERT_CHAINS_PG, {**columns, "links": links, "now": now})
    else:
        await conn.execute(_UPSERT_CHAINS_SQLITE, [dict(chain, created_at=now, updated_at=now) for chain in chains])


_INSERT_RECOVERY = insert(recoveries_t)


async def claims_of(conn: AsyncConnection, person_keys: list[str]) -> dict[str, dict[str, Row]]:
    """person key -> claim key -> the stored claim row."""
    found: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in await run(conn, _CLAIMS_OF, {"persons": person_keys}):
        found[row.person_key][claim_key(row.claim_type, row.subject_id, row.part)] = row
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
    now: datetime = field(default_factory=utcnow)  # created_at / updated_at of the chains written
    slot_releases: list[dict[str, Any]] = field(default_factory=list)
    frozen_voids: list[dict[str, Any]] = field(default_factory=list)
    recomputes: list[dict[str, Any]] = field(default_factory=list)  # another amount for a frozen claim
    claim_updates: list[dict[str, Any]] = field(default_factory=list)
    claim_inserts: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    recovery_marks: list[dict[str, Any]] = field(default_factory=list)


async def write(conn: AsyncConnection, writes: Writes) -> None:
    """E4/E5 slots move between claims: every slot that changes is released first (and a frozen claim voided
    gives its slot up), before any claim takes one, so the unique constraints never see two holders."""
    if writes.chains:
        await _upsert_chains(conn, writes.chains, writes.now)
    for statement, rows in (
        (_UPDATE_CLAIM, writes.slot_releases),
        (_UPDATE_CLAIM, writes.frozen_voids),
        (_UPDATE_CLAIM, writes.recomputes),
        (_UPDATE_CLAIM, writes.claim_updates),
        (_INSERT_CLAIM, writes.claim_inserts),
        (_INSERT_RECOVERY, writes.recoveries),
        (_UPDATE_CLAIM, writes.recovery_marks),
    ):
        if rows:
            await conn.execute(statement, rows)
