"""Chain and claim rows in bulk: read those of many persons in one query each, write only what changed with
Core executemany statements built once (the ORM's unit of work is not needed to write rows we already diffed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from subsidy_service.adapters.models import ChainRow, Claim, Recovery

chains_t = ChainRow.__table__
claims_t = Claim.__table__
recoveries_t = Recovery.__table__

_CLAIMS_OF = select(claims_t).where(claims_t.c.person_key.in_(bindparam("persons", expanding=True)))
_CHAINS_OF = select(chains_t).where(chains_t.c.voucher_id.in_(bindparam("vouchers", expanding=True)))
_RECOVERED = select(recoveries_t.c.claim_id).where(recoveries_t.c.claim_id.in_(bindparam("claims", expanding=True)))
# executemany UPDATEs: the row id as `row_id`, the columns to set as the other parameters
_UPDATE_CHAIN = update(chains_t).where(chains_t.c.voucher_id == bindparam("row_id"))
_UPDATE_CLAIM = update(claims_t).where(claims_t.c.id == bindparam("row_id"))
_INSERT_CHAIN = insert(chains_t)
_INSERT_CLAIM = insert(claims_t)
_INSERT_RECOVERY = insert(recoveries_t)


def claim_key_of(row: Row) -> str:
    return f"{row.claim_type}:{row.subject_id}:{row.part}"


async def claims_of(conn: AsyncConnection, person_keys: list[str]) -> dict[str, dict[str, Row]]:
    """person key -> claim key -> the stored claim row."""
    found: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in await conn.execute(_CLAIMS_OF, {"persons": person_keys}):
        found[row.person_key][claim_key_of(row)] = row
    return found


async def chains_of(conn: AsyncConnection, voucher_ids: list[str]) -> dict[str, Row]:
    if not voucher_ids:
        return {}
    return {row.voucher_id: row for row in await conn.execute(_CHAINS_OF, {"vouchers": voucher_ids})}


async def recovered(conn: AsyncConnection, claim_ids: list[Any]) -> set[Any]:
    """The claims among these that already have a recovery."""
    if not claim_ids:
        return set()
    return set((await conn.execute(_RECOVERED, {"claims": claim_ids})).scalars())


@dataclass
class Writes:
    """The row changes of one re-evaluation, written by `write` in the order the constraints need."""

    chain_inserts: list[dict[str, Any]] = field(default_factory=list)
    chain_updates: list[dict[str, Any]] = field(default_factory=list)
    slot_releases: list[dict[str, Any]] = field(default_factory=list)
    frozen_voids: list[dict[str, Any]] = field(default_factory=list)
    claim_updates: list[dict[str, Any]] = field(default_factory=list)
    claim_inserts: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    recovery_marks: list[dict[str, Any]] = field(default_factory=list)


async def write(conn: AsyncConnection, writes: Writes) -> None:
    """E4/E5 slots move between claims: every slot that changes is released first (and a frozen claim voided
    gives its slot up), before any claim takes one, so the unique constraints never see two holders."""
    for statement, rows in (
        (_INSERT_CHAIN, writes.chain_inserts),
        (_UPDATE_CHAIN, writes.chain_updates),
        (_UPDATE_CLAIM, writes.slot_releases),
        (_UPDATE_CLAIM, writes.frozen_voids),
        (_UPDATE_CLAIM, writes.claim_updates),
        (_INSERT_CLAIM, writes.claim_inserts),
        (_INSERT_RECOVERY, writes.recoveries),
        (_UPDATE_CLAIM, writes.recovery_marks),
    ):
        if rows:
            await conn.execute(statement, rows)
