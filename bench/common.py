"""Benchmark machinery: fresh databases, server processes, the load generator, percentiles, peak memory.

Everything here targets 127.0.0.1 only and stops by itself: a load is a fixed list of requests, servers
are child processes stopped (SIGTERM, then SIGKILL) when their context ends, databases are dropped.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import asyncpg
import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# The local platform (`make run`) uses these; a benchmark never takes them.
RESERVED_PORTS = frozenset(range(8001, 8005))
MIB = 1024 * 1024


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# --- databases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchDatabase:
    """A fresh database: PostgreSQL (the benchmark) or a SQLite file (only for the smoke test off CI)."""

    backend: str
    name: str
    sqlalchemy_url: str  # for the services (SKILLS_DATABASE_URL)
    dsn: str  # for asyncpg / aiosqlite directly (the baseline app, row counts)


async def create_database(prefix: str, backend: str = "postgres", directory: Path | None = None) -> BenchDatabase:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        path = (directory or Path("/tmp")) / f"{name}.db"
        return BenchDatabase("sqlite", name, f"sqlite+aiosqlite:///{path}", str(path))
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return BenchDatabase(
        "postgres", name, f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}", f"{base}/{name}"
    )


async def drop_database(db: BenchDatabase) -> None:
    if db.backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(db.dsn + suffix).unlink(missing_ok=True)
        return
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
    finally:
        await conn.close()


async def database_exists(db: BenchDatabase) -> bool:
    if db.backend == "sqlite":
        return Path(db.dsn).exists()
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db.name))
    finally:
        await conn.close()


async def scalar(db: BenchDatabase, sql: str) -> Any:
    """One value from the benchmark database (row counts after a run)."""
    if db.backend == "sqlite":
        import aiosqlite

        async with aiosqlite.connect(db.dsn) as conn:
            async with conn.execute(sql) as cursor:
                row = await cursor.fetchone()
                return row[0] if row else None
    conn = await asyncpg.connect(db.dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


# --- server processes ------------------------------------------------------------------------------


class ServerProcess:
    """One uvicorn process (a single worker, asyncio loop, h11, no access log) on a free loopback port."""

    def __init__(self, app: str, env: dict[str, str], *, factory: bool = False, log_path: Path | None = None) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        self.factory = factory
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port),
                   "--no-access-log", "--log-level", "warning",
                   # uvicorn closes a keep-alive connection idle for 5 s by default; under a saturating load
                   # that races with the client's next request on it (ReadError). Same for both servers.
                   "--timeout-keep-alive", "75"]
        if self.factory:
            command.append("--factory")
        output = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(command, env=self.env, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited during start-up (see {self.log_path})")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.app} did not answer /healthz within {timeout} s")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @contextmanager
    def running(self) -> Iterator["ServerProcess"]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


# --- peak memory -----------------------------------------------------------------------------------


class PeakRss:
    """Samples the resident set size of some processes on a thread (every `interval` s) and keeps the peak."""

    def __init__(self, pids: dict[str, int], interval: float = 0.02) -> None:
        self._procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak: dict[str, int] = {name: 0 for name in pids}
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def _sample(self) -> None:
        for name, proc in self._procs.items():
            try:
                self.peak[name] = max(self.peak[name], proc.memory_info().rss)
            except psutil.Error:
                pass

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> "PeakRss":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def mib(self, name: str) -> float:
        return round(self.peak[name] / MIB, 1)


# --- the load generator ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    latencies: list[float]  # seconds, one per request, in completion order
    statuses: Counter[int]
    duration: float  # wall-clock seconds from the first request sent to the last answer read
    errors: Counter[str]  # transport errors (connection refused, timeouts) by exception class
    lost: list[int] = field(default_factory=list)  # indices of the calls that got no answer
    answered: list[tuple[int, int]] = field(default_factory=list)  # (index, status) when asked to keep them


async def drive(
    base_url: str,
    calls: Sequence[Call],
    clients: int,
    *,
    rate: float | None = None,
    timeout: float = 60,
    keep_statuses: bool = False,
) -> LoadResult:
    """Sends `calls` with at most `clients` concurrent clients (one keep-alive connection each).

    Closed loop (rate None): each client sends its next call as soon as its last answer arrived, which
    measures the saturation throughput (latency is then mostly queueing: Little's law, clients / throughput).
    Open loop (rate r): call i is due at i / r seconds; its latency is counted from when it was due, so
    waiting for a free client counts too (no coordinated omission).
    """
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    lost: list[int] = []
    answered: list[tuple[int, int]] = []
    queue = iter(enumerate(calls))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        started = time.perf_counter()

        async def one_client() -> None:
            for i, call in queue:  # a shared iterator: each call is taken by exactly one client
                sent = time.perf_counter()
                if rate is not None:
                    due = started + i / rate
                    if due > sent:
                        await asyncio.sleep(due - sent)
                    sent = due
                try:
                    response = await client.request(call.method, call.path, json=call.json, headers=call.headers)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    lost.append(i)
                    continue
                latencies.append(time.perf_counter() - sent)
                statuses[response.status_code] += 1
                if keep_statuses:
                    answered.append((i, response.status_code))

        await asyncio.gather(*(one_client() for _ in range(max(1, min(clients, len(calls))))))
        duration = time.perf_counter() - started
    return LoadResult(latencies, statuses, duration, errors, lost, answered)


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def summarise(result: LoadResult, *, expected_status: int) -> dict[str, Any]:
    """Counts exactly; timings rounded for printing. Throughput counts only the expected answers."""
    succeeded = result.statuses.get(expected_status, 0)
    total = sum(result.statuses.values()) + sum(result.errors.values())
    ms = [x * 1000 for x in result.latencies]
    return {
        "requests": total,
        "succeeded": succeeded,
        "failed": total - succeeded,
        "statuses": dict(sorted(result.statuses.items())),
        "errors": dict(result.errors),
        "duration_s": round(result.duration, 3),
        "per_second": round(succeeded / result.duration, 1) if result.duration > 0 else 0.0,
        "p50_ms": round(percentile(ms, 50), 2) if ms else None,
        "p99_ms": round(percentile(ms, 99), 2) if ms else None,
        "max_ms": round(max(ms), 2) if ms else None,
    }
