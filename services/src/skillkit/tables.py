"""The kit's own tables, added to each service's metadata: outbox, inbox (processed events), idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, Text
from sqlalchemy import Index

from skillkit.db import UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class KitTables:
    outbox: Table
    inbox: Table
    idempotency: Table


def add_kit_tables(metadata: MetaData) -> KitTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", BigIntId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("topic", String(100), nullable=False),
        Column("partition_key", String(100), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("published_at", UTCDateTime, nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    )
    Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.seq)
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False),
    )
    # The retention job's range (skillkit.retention); ix_outbox_unpublished serves the outbox's.
    Index("ix_inbox_processed", inbox.c.processed_at)
    idempotency = Table(
        "idempotency_keys",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("principal", String(200), primary_key=True),
        Column("route", String(200), nullable=False),
        Column("body_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
    )
    return KitTables(outbox=outbox, inbox=inbox, idempotency=idempotency)


def create_kit_tables() -> None:
    """The kit tables as every service's first revision (0001) created them, inside that revision. Written out, not
    derived from `add_kit_tables`: a later change to the tables is a revision of its own (e.g.
    `skillkit.retention.upgrade_event_tables`), and databases migrated long ago must keep matching this one."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "principal", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("processed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("partition_key", sa.String(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "seq"], unique=False)


def drop_kit_tables() -> None:
    from alembic import op

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_table("idempotency_keys")
