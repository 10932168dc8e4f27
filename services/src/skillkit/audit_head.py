"""`python -m skillkit.audit_head --database-url URL --out DIR [--service NAME]`: publish the audit chain's head (P10).

Run daily (cron, a Kubernetes CronJob). It verifies the chain and writes `audit-head-YYYY-MM-DD.json` (entries,
head id, head hash, its time, the service) to DIR — a place outside the database (the disclosure data, the
auditors' export). A later rewrite of the whole chain by someone able to drop the append-only guard then shows:
`GET /v1/audit/verify?head_id=…&head_hash=…` with a published head answers `ok: false`.
A broken chain is still published (with `chain_ok: false`) and the exit status is 1, so the job is noticed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from skillkit.audit import GENESIS_HASH, verify_chain
from skillkit.db import make_engine, make_read_sessionmaker, utcnow

async def publish_head(database_url: str, out: Path, service: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Verifies the chain, writes the day's head file into `out` and returns what it wrote."""
    now = now or utcnow()
    engine = make_engine(database_url)
    try:
        async with make_read_sessionmaker(engine)() as session:
            verification = await verify_chain(session)
    finally:
        await engine.dispose()
    document = {
        "service": service,
        "published_at": now.isoformat(),
        "entries": verification.entries,
        "head_id": verification.head_id,
        "head_hash": verification.head_hash if verification.head_id is not None else GENESIS_HASH,
        "head_at": verification.head_at.isoformat() if verification.head_at else None,
        "chain_ok": verification.ok,
        "first_broken_id": verification.first_broken_id,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"audit-head-{now.date().isoformat()}.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return document

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Publish the audit chain's head (P10) outside the database")
    parser.add_argument("--database-url", required=True, help="the service's database (SKILLS_DATABASE_URL)")
    parser.add_argument("--out", required=True, type=Path, help="directory the head file is written to")
    parser.add_argument("--service", help="service name written into the file (default: the database's name)")
    args = parser.parse_args(argv)
    service = args.service or make_url(args.database_url).database or "unknown"
    document = asyncio.run(publish_head(args.database_url, args.out, service))
    print(json.dumps(document, ensure_ascii=False))
    if not document["chain_ok"]:
        sys.exit(1)

if __name__ == "__main__":
    main()
