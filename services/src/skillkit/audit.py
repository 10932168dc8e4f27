"""The audit trail (P10): an append-only, hash-chained log of every decision, one `audit_log` table per service.

Each entry names who decided (subject, role, organisation), when, what (action on an entity) and the state before
and after. Its `hash` is SHA-256 over a canonical JSON of its content and the previous entry's hash (`prev_hash`;
the first entry's is 64 zeros), so changing, inserting or deleting any entry breaks every link after it.

- `record(...)` appends inside the caller's transaction: the entry commits with the decision and rolls back with it.
  Appends are serialised (PostgreSQL: a transaction-level advisory lock taken before the head is read; SQLite:
  writers are serialised by BEGIN IMMEDIATE), and the id is the head's id + 1, so a fork would collide on the
  primary key rather than pass. Call it as the decision's last write: the lock is held until commit, and a row lock
  taken after it could deadlock with another decision waiting for the lock.
- The database refuses UPDATE, DELETE and TRUNCATE on the table (`create_audit_log`, triggers made by the
  migration). Someone with the rights to drop the trigger can still rewrite the whole chain consistently: the head
  (id, hash) is therefore published daily outside the database (`python -m skillkit.audit_head`), and
  `verify_chain(..., published=...)` shows a rewrite as a published head the chain no longer contains.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    Column,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    bindparam,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.county import CountyTime
from skillkit.db import UTCDateTime, utcnow
from skillkit.locks import lock_key, take_locks
from skillkit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from skillkit.problems import Problem
from skillkit.tables import BigIntId

TABLE = "audit_log"
GENESIS_HASH = "0" * 64
# One chain per service database: one fixed lock serialises its appends.
_LOCK = [(lock_key("skillkit.audit_log"), 0, True)]
VERIFY_CHUNK = 1000
HASH_PATTERN = r"^[0-9a-f]{64}$"


def _columns() -> list[Any]:
    """Fresh column objects: the ORM table and the migration build the very same schema from them."""
    return [
        Column("id", BigIntId, nullable=False, autoincrement=True),
        Column("at", UTCDateTime, nullable=False),
        Column("actor", String(200), nullable=False),
        Column("role", String(30), nullable=False),
        Column("org_id", String(100), nullable=True),
        Column("action", String(100), nullable=False),
        Column("entity_type", String(50), nullable=False),
        Column("entity_id", String(100), nullable=False),
        Column("before", JSON, nullable=True),
        Column("after", JSON, nullable=True),
        Column("reason", Text, nullable=True),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        PrimaryKeyConstraint("id", name="pk_audit_log"),
    ]


_INDEXES = {
    "ix_audit_log_entity": ("entity_type", "entity_id", "id"),
    "ix_audit_log_actor": ("actor", "id"),
}


def add_audit_table(metadata: MetaData) -> Table:
    """The `audit_log` table on a service's metadata (create it with `create_audit_log(op)` in a migration)."""
    table = Table(TABLE, metadata, *_columns())
    for name, columns in _INDEXES.items():
        Index(name, *(table.c[c] for c in columns))
    return table


# The statements below work on any service's audit_log: a private copy of the same table.
_audit = add_audit_table(MetaData())
_INSERT = _audit.insert()
_HEAD = select(_audit.c.id, _audit.c.hash, _audit.c.at).order_by(_audit.c.id.desc()).limit(1)
_CHUNK = select(_audit).where(_audit.c.id > bindparam("after_id")).order_by(_audit.c.id).limit(VERIFY_CHUNK)


# --- hashing -------------------------------------------------------------------------------------------------

def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"audit values must be JSON-safe; got {type(value).__name__}")


def json_safe(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON column will give back (Decimal -> "1000.00", datetime -> ISO 8601 UTC, UUID -> str, ...):
    the hash is computed over exactly that, so it verifies again after a round trip through the database."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False))


def _canonical_at(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON (sorted keys, no spaces, UTF-8) of the entry's content and prev_hash."""
    content = {
        "id": int(entry["id"]),
        "at": _canonical_at(entry["at"]),
        "actor": entry["actor"],
        "role": entry["role"],
        "org_id": entry["org_id"],
        "action": entry["action"],
        "entity_type": entry["entity_type"],
        "entity_id": entry["entity_id"],
        "before": entry["before"],
        "after": entry["after"],
        "reason": entry["reason"],
        "prev_hash": entry["prev_hash"],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- appending -----------------------------------------------------------------------------------------------

async def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Appends one entry in the caller's transaction (never commits). Needs READ COMMITTED (the default): the head
    is read after the lock is granted, and must see what the previous holder committed."""
    # The decision's own pending changes first: their row locks are then always taken before the audit lock, never
    # after it (a transaction waiting for a row while holding the audit lock could deadlock with one waiting for
    # the audit lock while holding that row).
    await session.flush()
    await take_locks(session, _LOCK)
    head = (await session.execute(_HEAD)).first()
    entry: dict[str, Any] = {
        "id": 1 if head is None else head.id + 1,
        # Not before the head's time, so time order and chain order agree even if clocks of replicas differ a little.
        "at": utcnow() if head is None else max(utcnow(), head.at),
        "actor": principal.subject,
        "role": str(principal.role),
        "org_id": principal.org_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "before": json_safe(before),
        "after": json_safe(after),
        "reason": None if reason is None else str(reason),
        "prev_hash": GENESIS_HASH if head is None else head.hash,
    }
    entry["hash"] = entry_hash(entry)
    await session.execute(_INSERT, entry)


# --- reading and verifying -----------------------------------------------------------------------------------

class AuditHead(BaseModel):
    id: int = Field(description="the last entry's id (ids are gapless: also the number of entries)")
    hash: str = Field(description="the last entry's hash: publish it, and a later rewrite of the chain shows")
    at: CountyTime


class AuditVerification(BaseModel):
    ok: bool
    entries: int = Field(description="entries read")
    head_id: int | None = None
    head_hash: str = Field(description="the last entry's stored hash (the genesis hash when there is none)")
    head_at: CountyTime | None = None
    first_broken_id: int | None = Field(None, description="the first entry whose hash or link does not verify")
    detail: str | None = None


async def head(session: AsyncSession) -> AuditHead | None:
    row = (await session.execute(_HEAD)).first()
    return None if row is None else AuditHead(id=row.id, hash=row.hash, at=row.at)


async def verify_chain(session: AsyncSession, *, published: tuple[int, str] | None = None) -> AuditVerification:
    """Recomputes every hash in id order, in chunks (constant memory), and names the first broken link. With
    `published` (a head id and hash published earlier), also checks that the chain still holds that entry with that
    hash: the only check a consistent rewrite of the whole chain (by someone who dropped the guard) fails."""
    prev_hash, prev_id, prev_at, entries = GENESIS_HASH, 0, None, 0
    broken: tuple[int, str] | None = None
    published_seen: str | None = None
    while True:
        rows = (await session.execute(_CHUNK, {"after_id": prev_id})).mappings().all()
        if not rows:
            break
        for row in rows:
            entries += 1
            if broken is None:
                if row["id"] != prev_id + 1:
                    broken = (row["id"], f"entry {row['id']} follows entry {prev_id}: entries are missing")
                elif row["prev_hash"] != prev_hash:
                    broken = (row["id"], f"entry {row['id']}'s prev_hash is not entry {prev_id}'s hash")
                elif entry_hash(row) != row["hash"]:
                    broken = (row["id"], f"entry {row['id']}'s content does not match its hash")
            if published is not None and row["id"] == published[0]:
                published_seen = row["hash"]
            prev_hash, prev_id, prev_at = row["hash"], row["id"], row["at"]
    tail = dict(entries=entries, head_id=prev_id or None, head_hash=prev_hash, head_at=prev_at)
    if broken is not None:
        return AuditVerification(ok=False, first_broken_id=broken[0], detail=broken[1], **tail)
    if published is not None and published_seen != published[1]:
        what = "is missing" if published_seen is None else f"has hash {published_seen}"
        return AuditVerification(
            ok=False, detail=f"the published head (entry {published[0]}, hash {published[1]}) {what}: "
            "the chain was rewritten", **tail)
    return AuditVerification(ok=True, **tail)


# --- migrations ----------------------------------------------------------------------------------------------

_PG_GUARD = [
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$""",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]
_PG_UNGUARD = [
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_append_only()",
]
# SQLite has no TRUNCATE; an unqualified DELETE runs the triggers (they disable its truncate optimisation).
SQLITE_GUARD = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
]
SQLITE_UNGUARD = ["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete"]


def guard_statements(dialect: str) -> list[str]:
    return _PG_GUARD if dialect == "postgresql" else SQLITE_GUARD


def unguard_statements(dialect: str) -> list[str]:
    return _PG_UNGUARD if dialect == "postgresql" else SQLITE_UNGUARD


def create_audit_log(op: Any) -> None:
    """In a service's Alembic migration: the table, its indexes and the append-only guard."""
    op.create_table(TABLE, *_columns())
    for name, columns in _INDEXES.items():
        op.create_index(name, TABLE, list(columns), unique=False)
    for statement in guard_statements(op.get_bind().dialect.name):
        op.execute(statement)


def drop_audit_log(op: Any) -> None:
    for statement in unguard_statements(op.get_bind().dialect.name):
        op.execute(statement)
    for name in _INDEXES:
        op.drop_index(name, table_name=TABLE)
    op.drop_table(TABLE)


# --- API -----------------------------------------------------------------------------------------------------

class AuditEntryOut(BaseModel):
    id: int
    at: CountyTime
    actor: str
    role: str
    org_id: str | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    prev_hash: str
    hash: str


# Module level: FastAPI resolves the endpoints' (postponed) annotations in this module's globals.
_READERS = require_roles(Role.AUDITOR, Role.ADMIN, Role.BUREAU)
_VERIFIERS = require_roles(Role.AUDITOR, Role.ADMIN)


def _after_id(cursor: str) -> int:
    _, ident = decode_cursor(cursor)
    try:
        value = int(ident)
    except ValueError as exc:
        raise Problem(400, "cursor_invalid", "the cursor is not one this API returned") from exc
    if not 0 <= value < 2**63:
        raise Problem(400, "cursor_invalid", "the cursor is not one this API returned")
    return value


def audit_router() -> APIRouter:
    """GET /v1/audit/entries (auditor, admin, bureau), /v1/audit/head (same), /v1/audit/verify (auditor, admin)."""
    router = APIRouter(prefix="/v1/audit", tags=["audit"])

    @router.get("/entries", response_model=Page[AuditEntryOut], summary="Audit entries (P10), oldest first")
    async def list_entries(
        session: Session,
        _: Annotated[Principal, _READERS],
        entity_type: Annotated[str | None, Query(max_length=50)] = None,
        entity_id: Annotated[str | None, Query(max_length=100)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        action: Annotated[str | None, Query(max_length=100)] = None,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> Page[AuditEntryOut]:
        stmt = select(_audit)
        for column, value in (("entity_type", entity_type), ("entity_id", entity_id), ("actor", actor),
                              ("action", action)):
            if value is not None:
                stmt = stmt.where(_audit.c[column] == value)
        if cursor:
            stmt = stmt.where(_audit.c.id > _after_id(cursor))
        rows = (await session.execute(stmt.order_by(_audit.c.id).limit(limit + 1))).mappings().all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["at"], rows[-1]["id"])
        return Page[AuditEntryOut](items=[AuditEntryOut(**row) for row in rows], next_cursor=next_cursor)

    @router.get("/head", response_model=AuditHead, summary="The chain's current head (id, hash, time)")
    async def get_head(session: Session, _: Annotated[Principal, _READERS]) -> AuditHead:
        current = await head(session)
        if current is None:
            raise Problem(404, "audit_log_empty", "no decision has been recorded yet")
        return current

    @router.get("/verify", response_model=AuditVerification,
                summary="Recompute the chain and name its first broken link; optionally check a published head")
    async def verify(
        session: Session,
        _: Annotated[Principal, _VERIFIERS],
        head_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="a published head's id")] = None,
        head_hash: Annotated[str | None, Query(pattern=HASH_PATTERN, description="a published head's hash")] = None,
    ) -> AuditVerification:
        if (head_id is None) != (head_hash is None):
            raise Problem(422, "published_head_incomplete", "give both head_id and head_hash, or neither")
        published = (head_id, head_hash) if head_id is not None and head_hash is not None else None
        return await verify_chain(session, published=published)

    return router

