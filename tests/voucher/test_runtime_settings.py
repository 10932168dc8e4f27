"""The voucher service process: what it loads while starting, and its consumer's broker fetch wait."""

from __future__ import annotations

import json
import subprocess
import sys

from voucher_service.config import VoucherSettings

# In a fresh interpreter (nothing loaded by other tests): create the app, then report what the first requests would
# otherwise have loaded.
_PROBE = """
import json, sys
from stdnum import numdb
from voucher_service.config import VoucherSettings
from voucher_service.main import create
create(VoucherSettings(environment="test"))
print(json.dumps({
    "modules": sorted(m for m in ("anyio._backends._asyncio", "encodings.utf_8_sig", "cloudevents.core.bindings.common")
                      if m in sys.modules),
    "databases": sorted(numdb._open_databases),
}))
"""


def test_create_loads_what_the_first_requests_would_load():
    probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    assert loaded == {
        "modules": ["anyio._backends._asyncio", "cloudevents.core.bindings.common", "encodings.utf_8_sig"],
        "databases": ["cn/loc"],
    }


def test_consumer_fetch_wait_is_200_ms_unless_set(monkeypatch):
    monkeypatch.delenv("SKILLS_KAFKA_FETCH_MAX_WAIT_MS", raising=False)
    assert VoucherSettings().kafka_fetch_max_wait_ms == 200
    monkeypatch.setenv("SKILLS_KAFKA_FETCH_MAX_WAIT_MS", "50")
    assert VoucherSettings().kafka_fetch_max_wait_ms == 50
