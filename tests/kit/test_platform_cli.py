"""`make run`'s runner: its flags, and what it refuses (production settings)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from skillkit.devseed import seed
from skillkit.platform import _flag
from skillkit.settings import ServiceSettings


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("", True), ("1", True), ("0", False),
                                                 ("false", False), ("off", False), ("yes", True)])
def test_make_variables_as_flags(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("PROVINCE", raising=False)
    else:
        monkeypatch.setenv("PROVINCE", value)
    assert _flag("PROVINCE", True) is expected


def test_make_run_refuses_production_settings():
    env = {**os.environ, "SKILLS_ENVIRONMENT": "production"}
    run = subprocess.run([sys.executable, "-m", "skillkit.platform", "--var", "/nonexistent/never-made"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "refusing with SKILLS_ENVIRONMENT=production" in run.stderr


def test_seeding_refuses_production_settings():
    with pytest.raises(RuntimeError, match="production"):
        seed(settings=ServiceSettings.model_construct(environment="production"))
