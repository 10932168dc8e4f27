"""P10 audit trail (skillkit.audit) on the real database backend: the hash chain, what the append-only guard
refuses, what only the published head reveals, and appends from concurrent transactions."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import AsyncIterator

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from skillkit.audit import GENESIS_HASH, _audit, create_audit_log, entry_hash, head, record, verify_chain
from skillkit.audit_head import publish_head
from skillkit.auth import Principal, Role
from skillkit.county import county_time, local_date
from skillkit.db import make_engine, make_read_sessionmaker, make_sessionmaker
from skillkit.testing.harness import run_unguarded

BUREAU = Principal(subject="bureau-zhang", role=Role.BUREAU)
ORG = Principal(subject="org-staff-li", role=Role.TRAINING_ORG, org_id="inst-7")


def _migrate(connection) -> None:
    create_audit_log(Operations(MigrationContext.configure(connection)))


@pytest.fixture
async def db(database_factory) -> AsyncIterator[tuple[str, object]]:
    """A fresh database holding only the audit log, made by the migration helper (table, indexes, guard)."""
    url = await database_factory("audit")
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_migrate)
    try:
        yield url, engine
    finally:
        await engine.dispose()


async def _record_three(engine) -> None:
    async with make_sessionmaker(engine)() as session:
        await record(session, BUREAU, "class.approve", "training_class", "c-1",
                     before={"status": "pending_approval"}, after={"status": "open"})
        await record(session, ORG, "enrolment.drop", "enrolment", uuid.UUID(int=5),
                     before={"status": "active", "fee": Decimal("1200.00")},
                     after={"status": "dropped", "at": datetime(2026, 12, 1, 8, tzinfo=timezone.utc)},
                     reason="moved away")
        await record(session, BUREAU, "voucher.revoke", "voucher", "v-9", before={"status": "issued"},
                     after={"status": "revoked"}, reason="duplicate registration")
        await session.commit()


async def _rows(engine) -> list[dict]:
    async with engine.connect() as connection:
        return [dict(r) for r in (await connection.execute(select(_audit).order_by(_audit.c.id))).mappings()]


async def _verify(engine, published=None):
    async with make_read_sessionmaker(engine)() as session:
        return await verify_chain(session, published=published)


async def test_P10_recorded_decisions_form_a_chain_that_verifies(db):
    _, engine = db
    await _record_three(engine)
    rows = await _rows(engine)
    assert [(r["id"], r["actor"], r["role"], r["org_id"], r["action"], r["entity_type"], r["entity_id"])
            for r in rows] == [
        (1, "bureau-zhang", "bureau", None, "class.approve", "training_class", "c-1"),
        (2, "org-staff-li", "training_org", "inst-7", "enrolment.drop", "enrolment", str(uuid.UUID(int=5))),
        (3, "bureau-zhang", "bureau", None, "voucher.revoke", "voucher", "v-9"),
    ]
    # JSON-safe values: Decimal as its string, datetime as ISO 8601 UTC.
    assert rows[1]["before"] == {"status": "active", "fee": "1200.00"}
    assert rows[1]["after"] == {"status": "dropped", "at": "2026-12-01T08:00:00+00:00"}
    assert rows[1]["reason"] == "moved away"
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert all(entry_hash(r) == r["hash"] and len(r["hash"]) == 64 for r in rows)
    assert rows[0]["at"] <= rows[1]["at"] <= rows[2]["at"] and rows[0]["at"].tzinfo is not None

    result = await _verify(engine)
    assert (result.ok, result.entries, result.head_id, result.head_hash, result.first_broken_id, result.detail) == (
        True, 3, 3, rows[2]["hash"], None, None)


async def test_P10_an_empty_chain_verifies_with_the_genesis_hash(db):
    _, engine = db
    result = await _verify(engine)
    assert (result.ok, result.entries, result.head_id, result.head_hash) == (True, 0, None, GENESIS_HASH)


async def test_P10_a_rolled_back_decision_leaves_no_entry(db):
    _, engine = db
    async with make_sessionmaker(engine)() as session:
        await record(session, BUREAU, "class.approve", "training_class", "c-1", after={"status": "open"})
        await session.rollback()
    assert await _rows(engine) == []


async def test_P10_a_tampered_entry_is_named_as_the_first_broken_link(db):
    _, engine = db
    await _record_three(engine)
    async with make_sessionmaker(engine)() as session:  # a superuser edits entry 2's decision in place
        await run_unguarded(session, update(_audit).where(_audit.c.id == 2).values(reason="no reason"))
        await session.commit()
    result = await _verify(engine)
    assert (result.ok, result.entries, result.first_broken_id) == (False, 3, 2)
    assert result.detail == "entry 2's content does not match its hash"


async def test_P10_a_tampered_entry_with_its_hash_recomputed_breaks_the_next_link(db):
    _, engine = db
    await _record_three(engine)
    [_, second, _] = await _rows(engine)
    forged = {**second, "after": {"status": "active"}}
    forged["hash"] = entry_hash(forged)
    async with make_sessionmaker(engine)() as session:
        await run_unguarded(session, update(_audit).where(_audit.c.id == 2).values(
            after=forged["after"], hash=forged["hash"]))
        await session.commit()
    result = await _verify(engine)
    assert (result.ok, result.first_broken_id, result.detail) == (
        False, 3, "entry 3's prev_hash is not entry 2's hash")


async def test_P10_a_deleted_entry_is_named(db):
    _, engine = db
    await _record_three(engine)
    async with make_sessionmaker(engine)() as session:
        await run_unguarded(session, "DELETE FROM audit_log WHERE id = 2")
        await session.commit()
    result = await _verify(engine)
    assert (result.ok, result.entries, result.first_broken_id, result.detail) == (
        False, 2, 3, "entry 3 follows entry 1: entries are missing")


async def test_P10_a_rewrite_of_the_whole_chain_shows_only_against_the_published_head(db, tmp_path):
    url, engine = db
    await _record_three(engine)
    published = await publish_head(url, tmp_path, "training", now=datetime(2026, 12, 6, 15, 59, tzinfo=timezone.utc))
    document = json.loads((tmp_path / "audit-head-2026-12-06.json").read_text())
    original = await _rows(engine)
    assert document == published == {
        "service": "training", "published_at": "2026-12-06T23:59:00+08:00", "entries": 3, "head_id": 3,
        "head_hash": original[2]["hash"], "head_at": county_time(original[2]["at"]), "chain_ok": True,
        "first_broken_id": None}

    # Someone able to drop the guard changes entry 2 and recomputes every hash after it: a consistent chain.
    prev = original[0]["hash"]
    async with make_sessionmaker(engine)() as session:
        statements = []
        for row in original[1:]:
            forged = {**row, "prev_hash": prev}
            if row["id"] == 2:
                forged["after"] = {"status": "active"}
            forged["hash"] = prev = entry_hash(forged)
            statements.append(update(_audit).where(_audit.c.id == row["id"]).values(
                after=forged["after"], prev_hash=forged["prev_hash"], hash=forged["hash"]))
        await run_unguarded(session, *statements)
        await session.commit()

    alone = await _verify(engine)
    assert (alone.ok, alone.entries, alone.first_broken_id) == (True, 3, None)  # the chain alone cannot tell
    against = await _verify(engine, published=(document["head_id"], document["head_hash"]))
    assert (against.ok, against.first_broken_id) == (False, None)
    assert against.detail == (f"the published head (entry 3, hash {document['head_hash']}) has hash {prev}: "
                              "the chain was rewritten")


async def test_P10_dropping_the_tail_shows_against_the_published_head(db, tmp_path):
    url, engine = db
    await _record_three(engine)
    document = await publish_head(url, tmp_path, "voucher")
    async with make_sessionmaker(engine)() as session:
        await run_unguarded(session, "DELETE FROM audit_log WHERE id = 3")
        await session.commit()
    assert (await _verify(engine)).ok is True
    against = await _verify(engine, published=(3, document["head_hash"]))
    assert (against.ok, against.detail) == (
        False, f"the published head (entry 3, hash {document['head_hash']}) is missing: the chain was rewritten")


async def test_P10_head_publication_cli_writes_the_days_file(db, tmp_path):
    url, engine = db
    await _record_three(engine)
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "skillkit.audit_head", "--database-url", url, "--out", str(tmp_path),
                         "--service", "certification"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    [path] = list(tmp_path.glob("audit-head-*.json"))
    document = json.loads(path.read_text())
    async with make_read_sessionmaker(engine)() as session:
        current = await head(session)
    assert path.name == f"audit-head-{local_date(datetime.fromisoformat(document['published_at']))}.json"
    assert (document["service"], document["entries"], document["head_id"], document["head_hash"], document["chain_ok"]) \
        == ("certification", 3, current.id, current.hash, True)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET reason = 'changed' WHERE id = 1",
    "DELETE FROM audit_log WHERE id = 1",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
])
async def test_P10_the_database_refuses_update_delete_and_truncate(db, statement):
    _, engine = db
    if statement.startswith("TRUNCATE") and engine.dialect.name != "postgresql":
        statement = "DELETE FROM audit_log WHERE id > 0"  # SQLite has no TRUNCATE: its nearest form
    await _record_three(engine)
    before = await _rows(engine)
    with pytest.raises(DBAPIError, match="audit_log is append-only"):
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    assert await _rows(engine) == before
    assert (await _verify(engine)).ok is True


async def test_P10_concurrent_appends_leave_one_unbroken_chain(db):
    _, engine = db
    writers, each = 8, 5
    start = asyncio.Event()

    async def writer(n: int) -> None:
        maker = make_sessionmaker(engine)
        await start.wait()
        for i in range(each):
            async with maker() as session:
                # some other work of the decision first, so transactions overlap
                await session.execute(text("SELECT 1"))
                await asyncio.sleep(0)
                await record(session, Principal(subject=f"staff-{n}", role=Role.ADMIN), "x.decide", "x", f"{n}-{i}")
                await asyncio.sleep(0.001)
                await session.commit()

    tasks = [asyncio.create_task(writer(n)) for n in range(writers)]
    start.set()
    await asyncio.gather(*tasks)
    rows = await _rows(engine)
    assert [r["id"] for r in rows] == list(range(1, writers * each + 1))
    assert [r["prev_hash"] for r in rows] == [GENESIS_HASH] + [r["hash"] for r in rows[:-1]]
    assert sorted(r["entity_id"] for r in rows) == sorted(f"{n}-{i}" for n in range(writers) for i in range(each))
    result = await _verify(engine)
    assert (result.ok, result.entries) == (True, writers * each)


async def test_P10_verification_streams_in_chunks(db, monkeypatch):
    """More entries than one chunk: every chunk boundary is verified like any other link."""
    import skillkit.audit as audit

    _, engine = db
    monkeypatch.setattr(audit, "_CHUNK", audit._CHUNK.limit(2))
    await _record_three(engine)
    await _record_three(engine)
    result = await _verify(engine)
    assert (result.ok, result.entries, result.head_id) == (True, 6, 6)
    async with make_sessionmaker(engine)() as session:
        await run_unguarded(session, update(_audit).where(_audit.c.id == 5).values(actor="someone-else"))
        await session.commit()
    assert ((r := await _verify(engine)).ok, r.first_broken_id) == (False, 5)
