"""`python -m skillkit.audit_head [--database-url URL] --out DIR [--service NAME]`: publish the chain's head (P10).

Run daily (cron; the Kubernetes CronJobs in deploy/k8s/audit-head-cronjobs.yaml). The database is the service's
(`--database-url`, else SKILLS_DATABASE_URL). It verifies the chain and writes `audit-head-YYYY-MM-DD.json` (the
county's date: entries, head id, head hash, its time, the service) to DIR, and prints it (so the job's log holds it
too) — a place outside the database, from where it goes on the disclosure data and into the auditors' export. A later rewrite of the whole chain by someone able to drop the append-only guard then shows:
`GET /v1/audit/verify?head_id=…&head_hash=…` with a published head answers `ok: false`.
A broken chain is still published (with `chain_ok: false`) and the exit status is 1, so the job is noticed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from skillkit.audit import GENESIS_HASH, verify_chain
from skillkit.county import county_time, local_date
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
        "published_at": county_time(now),
        "entries": verification.entries,
        "head_id": verification.head_id,
        "head_hash": verification.head_hash if verification.head_id is not None else GENESIS_HASH,
        "head_at": county_time(verification.head_at) if verification.head_at else None,
        "chain_ok": verification.ok,
        "first_broken_id": verification.first_broken_id,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"audit-head-{local_date(now).isoformat()}.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return document

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Publish the audit chain's head (P10) outside the database")
    parser.add_argument("--database-url", default=os.environ.get("SKILLS_DATABASE_URL"),
                        help="the service's database (default: SKILLS_DATABASE_URL)")
    parser.add_argument("--out", required=True, type=Path, help="directory the head file is written to")
    parser.add_argument("--service", help="service name written into the file (default: the database's name)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("give --database-url or set SKILLS_DATABASE_URL")
    service = args.service or make_url(args.database_url).database or "unknown"
    document = asyncio.run(publish_head(args.database_url, args.out, service))
    print(json.dumps(document, ensure_ascii=False))
    if not document["chain_ok"]:
        sys.exit(1)

if __name__ == "__main__":
    main()
