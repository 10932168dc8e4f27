"""Init container of every service Deployment: wait until the service may start.

    python /opt/skills/wait_for_dependencies.py voucher_service

1. The service database is at the Alembic head this image ships (the `<service>-migrate` Job ran), so
   new code never serves requests against the old schema. A revision the image does not know is a newer
   schema (a rollback of the code): accepted with a warning, as migrations are additive.
2. Every topic the service touches exists (created by the `kafka-topics` Job with the production
   replication factor). The shared kit creates missing topics itself, but with replication factor 1,
   which must not happen on a replicated cluster.

Reads SKILLS_DATABASE_URL and SKILLS_KAFKA_BOOTSTRAP like the service. Exits 1 after SKILLS_WAIT_SECONDS
(default 900) so that a stuck rollout shows up as a failing pod instead of waiting silently.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient
from alembic.script import ScriptDirectory
from sqlalchemy import text

from skillkit.contracts.topics import ALL_TOPICS, dead_letter_topic
from skillkit.db import make_engine
from skillkit.migrations import alembic_config


async def schema_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:  # database down, or not migrated yet
        print(f"database not ready: {exc.__class__.__name__}", flush=True)
        return None
    finally:
        await engine.dispose()


async def missing_topics(bootstrap: str, wanted: set[str]) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        return sorted(wanted - set(await admin.list_topics()))
    except Exception as exc:
        print(f"broker not ready: {exc.__class__.__name__}", flush=True)
        return sorted(wanted)
    finally:
        try:
            await admin.close()
        except Exception:
            pass


def main(package: str) -> int:
    url = os.environ["SKILLS_DATABASE_URL"]
    bootstrap = os.environ["SKILLS_KAFKA_BOOTSTRAP"]
    deadline = time.monotonic() + float(os.environ.get("SKILLS_WAIT_SECONDS", "900"))

    scripts = ScriptDirectory.from_config(alembic_config(f"{package}.migrations", url))
    head = scripts.get_current_head()
    known = {rev.revision for rev in scripts.walk_revisions()}
    # The service's own consumer groups decide its dead-letter topics; create() builds no engine.
    runtime = importlib.import_module(f"{package}.main").create().state.runtime
    wanted = set(ALL_TOPICS) | {dead_letter_topic(spec.name) for spec in runtime.consumer_specs}

    while True:
        current = asyncio.run(schema_revision(url))
        schema_ok = current == head or (current is not None and current not in known)
        if schema_ok and current != head:
            print(f"warning: schema revision {current} is newer than this image's head {head}", flush=True)
        missing = asyncio.run(missing_topics(bootstrap, wanted)) if schema_ok else ["(not checked yet)"]
        if schema_ok and not missing:
            print(f"{package}: schema at {current}, {len(wanted)} topics present", flush=True)
            return 0
        if time.monotonic() > deadline:
            print(f"{package}: gave up; schema {current} (want {head}), missing topics {missing}", flush=True)
            return 1
        print(f"{package}: waiting; schema {current} (want {head}), missing topics {missing}", flush=True)
        time.sleep(5)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: wait_for_dependencies.py <service package, e.g. voucher_service>")
    sys.exit(main(sys.argv[1]))
