"""Alembic glue: each service keeps its own migrations; this runs them on PostgreSQL or SQLite alike."""

from __future__ import annotations

import argparse
import asyncio
from importlib import resources
from typing import Any, Callable

from alembic import command, context
from alembic.config import Config
import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from skillkit.db import make_engine


def alembic_config(migrations_package: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(migrations_package)))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_package: str, database_url: str, revision: str = "head") -> None:
    """Synchronous; call it from a thread (`asyncio.to_thread`) when an event loop is running."""
    command.upgrade(alembic_config(migrations_package, database_url), revision)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = make_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


def main(migrations_package: str, settings: Any, argv: list[str] | None = None) -> None:
    """`python -m <service>.migrate [upgrade|revision -m MSG]` on the service's configured database."""
    parser = argparse.ArgumentParser(description=f"Migrations of {migrations_package}")
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("upgrade")
    rev = sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    config = alembic_config(migrations_package, settings.database_url)
    if args.cmd == "revision":
        command.revision(config, message=args.message, autogenerate=True)
    else:
        command.upgrade(config, "head")


def encrypt_rows(table: sa.TableClause, plain: str, encrypted: str, cipher: Any, *, batch: int = 1000) -> None:
    """In a revision that moves a personal value to an encrypted column (issue 16): fills `encrypted` with
    `cipher.encrypt(plain)` for every row whose `encrypted` is still NULL. `table` is the revision's own
    `sa.table('name', sa.column('id', …), …)` with both columns and an `id` key (typed: it is bound again)."""
    _convert_rows(table, plain, encrypted, cipher.encrypt, batch)


def decrypt_rows(table: sa.TableClause, encrypted: str, plain: str, cipher: Any, *, batch: int = 1000) -> None:
    """The downgrade of `encrypt_rows`: fills `plain` with `cipher.decrypt(encrypted)` where it is NULL."""
    _convert_rows(table, encrypted, plain, cipher.decrypt, batch)


def _convert_rows(table: sa.TableClause, source: str, target: str, convert: Callable[[Any], Any], batch: int) -> None:
    """Rows in id order, `batch` at a time: one SELECT of the rows not yet converted, one executemany UPDATE."""
    from alembic import op

    connection = op.get_bind()
    key, source_column, target_column = table.c.id, table.c[source], table.c[target]
    select_batch = sa.select(key, source_column).where(target_column.is_(None)).order_by(key).limit(batch)
    update_row = sa.update(table).where(key == sa.bindparam("row_id")).values({target: sa.bindparam("value")})
    while True:
        rows = connection.execute(select_batch).all()
        if not rows:
            return
        connection.execute(update_row, [{"row_id": row[0], "value": convert(row[1])} for row in rows])
