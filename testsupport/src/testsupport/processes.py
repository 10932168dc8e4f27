"""The platform as separate processes for the loop: Tansu, the four services and the province simulator."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


# --- processes -------------------------------------------------------------------------------------------------


def free_port_offset() -> int:
    """A port offset whose four service ports (8001+offset … 8004+offset) are free right now."""
    rng = random.Random()
    for _ in range(200):
        offset = rng.randrange(2000, 24000, 10)  # below the ephemeral range (32768+) that clients' sockets use
        ports = [8001 + offset + i for i in range(4)]
        if all(_port_free(p) for p in ports):
            return offset
    raise RuntimeError("no free block of four ports")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class ProvinceProcess:
    """The province simulator (testsupport.province_simulator.ProvinceSimulator, the province's P1 system) run as a
    child process: `python -m testsupport.province_simulator`."""

    def __init__(self, bootstrap: str, reject_share: float = 0.0, seed: str = "linxian",
                 log_path: Path | None = None) -> None:
        self.args = [sys.executable, "-m", "testsupport.province_simulator", "--bootstrap", bootstrap,
                     "--reject-share", str(reject_share), "--seed", seed]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        output = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.args, stdout=output, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


SERVICE_NAMES = ("voucher-service", "training-service", "certification-service", "subsidy-service")


def sqlite_urls(directory: Path) -> dict[str, str]:
    return {name: f"sqlite+aiosqlite:///{directory / (name.split('-')[0] + '.db')}" for name in SERVICE_NAMES}


@contextmanager
def platform_running(database_urls: dict[str, str], *, log_dir: Path | None = None, reject_share: float = 0.0,
                     seed: str = "linxian", extra_env: dict[str, str] | None = None) -> Iterator[Any]:
    """Tansu + the four services (uvicorn, one process each) + the province simulator; all stopped on exit."""
    from skillkit.platform import Platform

    # SKILLS_MOVABLE_CLOCK: the training service's clock may be moved (PUT /v1/clock) to record a class's days in
    # seconds; every service reads it, only the training service has it (production refuses it).
    env = {"SKILLS_LOG_LEVEL": "WARNING", "SKILLS_MOVABLE_CLOCK": "true", **(extra_env or {})}
    province: ProvinceProcess | None = None
    for attempt in range(3):
        platform = Platform(database_urls, port_offset=free_port_offset(), log_dir=log_dir, extra_env=env)
        try:
            platform.start()
            break
        except RuntimeError:
            # a port taken between the check and the bind (another engineer's process): try another block
            platform.stop()
            if attempt == 2:
                raise
    try:
        province = ProvinceProcess(platform.kafka_bootstrap, reject_share, seed,
                                     (log_dir / "province-simulator.log") if log_dir else None)
        province.start()
        platform.province = province  # type: ignore[attr-defined]
        yield platform
    finally:
        if province is not None:
            province.stop()
        platform.stop()


def pids(platform: Any) -> dict[str, int]:
    """Process ids of every process the platform runs (services, broker, province simulator)."""
    out = {name: proc.pid for name, proc in platform.processes.items()}
    broker = getattr(platform, "broker", None)
    if broker is not None and getattr(broker, "_proc", None) is not None:
        out["tansu-broker"] = broker._proc.pid
    province = getattr(platform, "province", None)
    if province is not None and province.proc is not None:
        out["province-simulator"] = province.proc.pid
    return out
