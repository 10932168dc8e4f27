"""Key rotation of the personal data encrypted at rest (issue 16): online, in batches, per service.

Every ciphertext names its key id (`k2:gAAAA…`, skillkit.pii.PiiCipher). Rotating to a new key:
1. Generate a key; set it as `SKILLS_PII_ENCRYPTION_KEY` with a new `SKILLS_PII_ENCRYPTION_KEY_ID`, and move the old
   one into `SKILLS_PII_PREVIOUS_KEYS` (`{"k1": "<old key>"}`). Restart: new values are written under the new key,
   old ones still read.
2. `python -m <service>.rotate_keys rotate` re-encrypts every value not under the current key, in batches of
   `--batch` rows, each batch its own short transaction, while the service runs. A row changed meanwhile is left
   for the next pass (the UPDATE matches the old ciphertext), so it never overwrites a newer value.
3. `python -m <service>.rotate_keys retire k1` says whether any value still uses k1 (exit 0: remove it from
   SKILLS_PII_PREVIOUS_KEYS and restart; exit 1: it is still in use, with the counts). `status` prints the counts.
   A service whose settings lack a key id some value names refuses to start (`refuse_retired_keys_in_use`).

The blind indexes (HMAC with SKILLS_BLIND_INDEX_SECRET) and person keys are not touched: lookups keep working
throughout, and the index secret rotates on its own (runbook).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import Column, and_, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from skillkit.db import make_engine
from skillkit.pii import PiiCipher, cipher_for

LEGACY = "(no key id)"  # values written before key ids existed


@dataclass
class RotationReport:
    rotated: int = 0
    skipped: int = 0  # changed by someone else between read and write: the next pass takes them


def _under(column: Column[Any], key_id: str) -> Any:
    prefix = key_id + ":"
    # substr, not LIKE: key ids may hold `_`, a LIKE wildcard
    return func.substr(column, 1, len(prefix)) == prefix


async def status(engine: AsyncEngine, columns: Sequence[Column[Any]], cipher: PiiCipher,
                 known: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per column, how many values each key id holds (the known ids, values without an id, and any other)."""
    counts: dict[str, dict[str, int]] = {}
    async with engine.connect() as connection:
        for column in columns:
            name = f"{column.table.name}.{column.name}"
            total = await connection.scalar(select(func.count()).select_from(column.table).where(column.is_not(None)))
            by_key = {key_id: await connection.scalar(select(func.count()).select_from(column.table)
                                                      .where(_under(column, key_id))) for key_id in known}
            by_key[LEGACY] = await connection.scalar(select(func.count()).select_from(column.table).where(
                column.is_not(None), not_(column.contains(":", autoescape=True))))
            other = total - sum(by_key.values())
            if other:
                by_key["(unknown key id)"] = other
            counts[name] = {key: n for key, n in by_key.items() if n or key == cipher.key_id}
    return counts


async def rotate(engine: AsyncEngine, columns: Sequence[Column[Any]], cipher: PiiCipher, *,
                 batch: int = 500) -> RotationReport:
    """Re-encrypts every value not under the current key, `batch` rows per transaction, in primary-key order."""
    report = RotationReport()
    for column in columns:
        [key] = column.table.primary_key.columns
        after: Any = None
        while True:
            query = (select(key, column).where(column.is_not(None), not_(_under(column, cipher.key_id)))
                     .order_by(key).limit(batch))
            if after is not None:
                query = query.where(key > after)
            async with engine.begin() as connection:
                rows = (await connection.execute(query)).all()
                if not rows:
                    break
                for row_key, value in rows:
                    result = await connection.execute(
                        update(column.table).where(and_(key == row_key, column == value))
                        .values({column.name: cipher.rotate(value)}))
                    if result.rowcount == 1:
                        report.rotated += 1
                    else:
                        report.skipped += 1
            after = rows[-1][0]
    return report


async def in_use(engine: AsyncEngine, columns: Sequence[Column[Any]], key_id: str) -> dict[str, int]:
    """The columns holding values under `key_id` (values without a key id count too: any key may be theirs)."""
    used: dict[str, int] = {}
    async with engine.connect() as connection:
        for column in columns:
            n = await connection.scalar(select(func.count()).select_from(column.table).where(
                column.is_not(None), _under(column, key_id) | not_(column.contains(":", autoescape=True))))
            if n:
                used[f"{column.table.name}.{column.name}"] = n
    return used


async def unknown_key_ids(engine: AsyncEngine, columns: Sequence[Column[Any]], known: Sequence[str]) -> dict[str, int]:
    """Per column, how many values name a key id not in `known` (values without a key id are not counted: any key of
    the ring may read them)."""
    found: dict[str, int] = {}
    async with engine.connect() as connection:
        for column in columns:
            n = await connection.scalar(select(func.count()).select_from(column.table).where(
                column.contains(":", autoescape=True), *[not_(_under(column, key_id)) for key_id in known]))
            if n:
                found[f"{column.table.name}.{column.name}"] = n
    return found


async def refuse_retired_keys_in_use(engine: AsyncEngine, columns: Sequence[Column[Any]], settings: Any) -> None:
    """Start-up check: a service does not start while a value names a key id its settings lack (the key was retired
    while still in use, or SKILLS_PII_PREVIOUS_KEYS lost it): every read of such a value would fail."""
    missing = await unknown_key_ids(engine, columns, [settings.pii_encryption_key_id, *settings.pii_previous_keys])
    if missing:
        raise RuntimeError("values are encrypted under key ids these settings do not hold ("
                           + ", ".join(f"{c}: {n}" for c, n in missing.items())
                           + "): put the key back in SKILLS_PII_PREVIOUS_KEYS, rotate, then retire it")


def main(settings: Any, columns: Sequence[Column[Any]], argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rotate the PII encryption key (skillkit.rotate_keys)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="count the values under each key id")
    run = sub.add_parser("rotate", help="re-encrypt every value under the current key, in batches, online")
    run.add_argument("--batch", type=int, default=500)
    retire = sub.add_parser("retire", help="exit 0 only if no value uses KEY_ID any more")
    retire.add_argument("key_id")
    args = parser.parse_args(argv)
    return asyncio.run(_run(settings, columns, args))


async def _run(settings: Any, columns: Sequence[Column[Any]], args: argparse.Namespace) -> int:
    cipher = cipher_for(settings)
    engine = make_engine(settings.database_url)
    try:
        if args.command == "status":
            known = [settings.pii_encryption_key_id, *settings.pii_previous_keys]
            for column, counts in (await status(engine, columns, cipher, known)).items():
                print(column, " ".join(f"{key}={n}" for key, n in counts.items()))
            return 0
        if args.command == "rotate":
            report = await rotate(engine, columns, cipher, batch=args.batch)
            print(f"rotated {report.rotated} values to key {cipher.key_id}; {report.skipped} changed meanwhile "
                  "(run it again)" if report.skipped else f"rotated {report.rotated} values to key {cipher.key_id}")
            return 0
        if args.key_id == settings.pii_encryption_key_id:
            print(f"{args.key_id} is the current key: rotate to a new key first", file=sys.stderr)
            return 1
        used = await in_use(engine, columns, args.key_id)
        if used:
            print(f"{args.key_id} is still in use: " + ", ".join(f"{c}={n}" for c, n in used.items())
                  + " (run rotate)", file=sys.stderr)
            return 1
        print(f"no value uses {args.key_id}: remove it from SKILLS_PII_PREVIOUS_KEYS and restart the service")
        return 0
    finally:
        await engine.dispose()
