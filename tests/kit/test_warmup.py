"""Every service loads at start-up what its first requests would otherwise load (skillkit.warmup), before the
lifespan's gc.freeze()."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# In a fresh interpreter (nothing loaded by other tests): create the app, then report what the first requests would
# otherwise have loaded.
_PROBE = """
import json, sys
from stdnum import numdb
from {module}.config import {settings}
from {module}.main import create
create({settings}(environment="test"))
print(json.dumps({{
    "modules": sorted(m for m in ("anyio._backends._asyncio", "encodings.utf_8_sig", "cloudevents.core.bindings.common")
                      if m in sys.modules),
    "databases": sorted(numdb._open_databases),
}}))
"""


@pytest.mark.parametrize("module, settings", [
    ("voucher_service", "VoucherSettings"),
    ("training_service", "TrainingSettings"),
    ("certification_service", "CertificationSettings"),
    ("subsidy_service", "SubsidySettings"),
])
def test_create_loads_what_the_first_requests_would_load(module, settings):
    probe = subprocess.run([sys.executable, "-c", _PROBE.format(module=module, settings=settings)],
                           capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    assert loaded == {
        "modules": ["anyio._backends._asyncio", "cloudevents.core.bindings.common", "encodings.utf_8_sig"],
        "databases": ["cn/loc"],
    }
