"""What the hot paths would otherwise load on first use, loaded while the service starts.

Called by `create_app` for every service. Measured in the pipeline benchmark's timed phase (py-spy), the first
roster / candidate upload and the first request with a session paid for loading: python-stdnum's region database (`numdb.get("cn/loc")`, ~70 ms and
~14,000 objects, read on the first region lookup), anyio's asyncio backend (imported when FastAPI first resolves a
dependency with `yield`, ~25 ms, more without bytecode caches) and the CloudEvents reader's lazily imported
bindings (an event of a type this service consumes is written and read back). Loaded before the app's lifespan
runs, they are also part of what the kit's `gc.freeze()` moves out of the collector's generations, instead of being
rescanned by every full collection for the life of the process.
"""

from __future__ import annotations

import importlib

from sqlalchemy.orm import configure_mappers
from stdnum import numdb

from skillkit.contracts.voucher import WorkerRegistered
from skillkit.events import build_event, parse_event

# Modules imported lazily on the first request or upload (found by diffing sys.modules after one pipeline class).
_LAZY_MODULES = ("anyio._backends._asyncio", "encodings.utf_8_sig")


def warm_up() -> None:
    """Idempotent and cheap after the first call (every module and database is cached by the process)."""
    for name in _LAZY_MODULES:
        importlib.import_module(name)
    numdb.get("cn/loc")  # python-stdnum's cn.ric region lookup reads this database on first use
    sample = WorkerRegistered(worker_id="warm-up", person_key="warm-up", masked_name="张*", township="临泉镇",
                              categories=[], on_behalf=True, registered_by="warm-up")
    _, _, body = build_event(sample, source="/warm-up", partition_key="warm-up")
    parse_event(body)  # the CloudEvents JSON reader imports its bindings on first use
    configure_mappers()  # the ORM configures its mappers on the first instance otherwise
