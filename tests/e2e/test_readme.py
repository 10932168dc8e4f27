"""The README's walkthrough, run as written: every ```bash block of README.md, in order, in one shell, against a
fresh `make run SEED=1` (`python -m skillkit.platform --seed`) on the embedded defaults (SQLite files, the bundled
Tansu broker, the fake WeChat, the province simulator). Only the ports move (the platform runs beside others)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from testsupport.processes import free_port_offset
from skillkit.auth import mint_token
from skillkit.devseed import Urls, seed
from skillkit.settings import ServiceSettings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def readme_script(offset: int) -> str:
    blocks = BASH_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    script = "\n".join(blocks)
    return re.sub(r"127\.0\.0\.1:(80\d\d)\b", lambda m: f"127.0.0.1:{int(m.group(1)) + offset}", script)


def test_readme_blocks_are_the_walkthrough():
    blocks = BASH_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 6
    assert "/v1/auth/wechat" in blocks[1] and "/v1/open-classes" in blocks[2] and "eligible" in blocks[5]


def test_readme_walkthrough_reaches_an_eligible_subsidy(tmp_path):
    offset = free_port_offset()
    env = {**os.environ, "SKILLS_TANSU_PORT": "9092", "SKILLS_LOG_LEVEL": "WARNING"}
    env.pop("SKILLS_DATABASE_URL", None)
    platform = subprocess.Popen(
        [sys.executable, "-m", "skillkit.platform", "--var", str(tmp_path / "var"), "--seed",
         "--port-offset", str(offset)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    started = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = platform.stdout.readline()
            if not line:
                break
            started.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        assert started and started[-1].startswith("Press Ctrl-C"), "".join(started)
        assert any("seeded 临县技工学校 (临泉镇)" in line for line in started), "".join(started)
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_script(offset)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=400)
        assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
        out = run.stdout
        assert "inclusive (普惠制) voucher LX" in out
        assert "临县技工学校: " in out and "养老护理员普惠制培训班" in out
        # S1: 5 days attended × 100 yuan, the chain complete (P1 verdicts from the province simulator included)
        assert "training subsidy of 500.00 yuan is eligible" in out, out
        # the worker heard of it on WeChat: voucher issued, enrolment bound, certificate issued
        for template in ("dev-template-voucher_issued", "dev-template-enrolment_bound",
                         "dev-template-certificate_issued"):
            assert template in out, out
        # `make run SEED=1` again on the same ./var seeds nothing twice
        urls = Urls(*(f"http://127.0.0.1:{8001 + offset + i}" for i in range(4)))
        again = seed(urls)
        bureau = {"Authorization": f"Bearer {mint_token(ServiceSettings(), 'bureau')}"}
        institutions = httpx.get(f"{urls.training}/v1/institutions", headers=bureau).json()["items"]
        classes = httpx.get(f"{urls.training}/v1/classes", headers=bureau).json()["items"]
        assert len(institutions) == 2 and len(classes) == 2
        assert {c["id"] for c in again["classes"]} == {c["id"] for c in classes}
    finally:
        platform.send_signal(signal.SIGTERM)
        try:
            platform.wait(60)
        except subprocess.TimeoutExpired:
            platform.kill()
            platform.wait()
