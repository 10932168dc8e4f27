"""Voucher-claim benchmark: many concurrent workers claiming vouchers against PostgreSQL.

    python -m bench.voucher_claim --clients 64 --requests 3000 [--warmup 200] [--rate 50 --rate-requests 1000]
                                  [--relay] [--json out.json] [--log-dir DIR]

In one run, on one fresh PostgreSQL database (created here, dropped at the end):
1. the real voucher service as a separate uvicorn process (one worker), migrated with Alembic; relay,
   consumers and periodic jobs off by default, so it measures the API's claim transaction (`--relay` turns
   the outbox relay on against a Tansu broker started here and also reports how long the relay needs to
   drain the outbox afterwards);
2. `--requests + --warmup` workers registered through `POST /v1/workers` before timing (E4 allows one
   inclusive voucher per person and year, so every claim needs its own worker), each with its own JWT;
3. warm-up claims (not counted), then the timed claims `POST /v1/vouchers/claim {"kind": "inclusive"}`
   from `--clients` concurrent keep-alive clients (closed loop: the saturation throughput), and with `--rate`
   an open-loop phase (claims due at that rate, at most `--clients` in flight: latency at a given load);
4. the same load against the baseline (bench/baseline_app.py: FastAPI + asyncpg, one voucher INSERT and
   one outbox INSERT in one transaction).
It prints claims/s, p50/p99 latency, the peak RSS and CPU time per claim of each server and of the load
generator, the ratio
(service claims/s / baseline claims/s) against the target (ratio >= 0.5, p99 < 50 ms at 64 clients), and
checks the rows each run wrote. It targets only 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from stdnum.cn import ric

from bench.common import (
    REPO_ROOT,
    BenchDatabase,
    Call,
    PeakRss,
    cpu_seconds,
    ServerProcess,
    create_database,
    database_exists,
    drive,
    drop_database,
    scalar,
    summarise,
)

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
TARGET_CLIENTS = 64


@dataclass(frozen=True)
class Config:
    clients: int = TARGET_CLIENTS
    requests: int = 3000
    warmup: int = 200
    backend: str = "postgres"  # "sqlite" only for the smoke test on a machine without PostgreSQL
    relay: bool = False
    log_dir: Path | None = None
    # Open-loop phase (after the closed-loop one): `rate_requests` claims due at `rate` per second.
    rate: float | None = None
    rate_requests: int = 1000

    @property
    def total_calls(self) -> int:
        return self.warmup + self.requests + (self.rate_requests if self.rate else 0)


def resident_id(i: int) -> str:
    """The i-th distinct valid Lin County (141124) resident ID number: birth dates from 2003-01-01, 1000 per day."""
    birth = date(2003, 1, 1) + timedelta(days=i // 1000)
    body = f"141124{birth:%Y%m%d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def worker_calls(count: int) -> tuple[list[Call], list[Call]]:
    """(registrations, claims): worker i registers with its own account and ID number, then claims."""
    from skillkit.auth import mint_token
    from voucher_service.config import VoucherSettings

    settings = VoucherSettings()  # same environment as the service process, so the same JWT secret
    registrations, claims = [], []
    for i in range(count):
        auth = {"Authorization": f"Bearer {mint_token(settings, 'worker', subject=f'bench-worker-{i}')}"}
        body = {
            "name": "张三丰",
            "id_number": resident_id(i),
            "mobile": f"138{i:08d}",
            "township": "临泉镇",
            "categories": ["rural_migrant"],
        }
        registrations.append(Call("POST", "/v1/workers", body, auth))
        claims.append(Call("POST", "/v1/vouchers/claim", {"kind": "inclusive"}, auth))
    return registrations, claims


def baseline_calls(count: int) -> list[Call]:
    return [
        Call("POST", "/claim", {"kind": "inclusive", "person_key": hashlib.sha256(str(i).encode()).hexdigest()})
        for i in range(count)
    ]


async def register_all(server: ServerProcess, registrations: list[Call], clients: int) -> float:
    """Registers every worker before timing; registrations per second. Registering the same ID number again
    returns the existing worker (200), so a registration that got no answer or a 5xx (e.g. PostgreSQL out of
    connection slots on a shared machine) is simply sent again."""
    started = time.perf_counter()
    pending = list(range(len(registrations)))
    for _ in range(5):
        result = await drive(server.url, [registrations[i] for i in pending], clients, keep_statuses=True)
        bad = {code for code in result.statuses if code not in (200, 201) and code < 500}
        if bad:
            raise RuntimeError(f"worker registration refused: {summarise(result, expected_status=201)}")
        pending = [pending[i] for i in result.lost] + [pending[i] for i, code in result.answered if code >= 500]
        if not pending:
            return round(len(registrations) / (time.perf_counter() - started), 1)
    raise RuntimeError(f"worker registration kept failing: {summarise(result, expected_status=201)}")


async def timed_load(server: ServerProcess, calls: list[Call], config: Config) -> dict[str, Any]:
    """Warm-up (not counted), the closed-loop timed calls while sampling both processes' resident memory and
    CPU time, then (with a rate) the open-loop calls."""
    me = os.getpid()
    await drive(server.url, calls[: config.warmup], config.clients)
    timed = calls[config.warmup: config.warmup + config.requests]
    cpu_before = cpu_seconds(server.pid), cpu_seconds(me)
    with PeakRss({"server": server.pid, "client": me}) as rss:
        result = await drive(server.url, timed, config.clients)
    cpu_after = cpu_seconds(server.pid), cpu_seconds(me)
    report = {
        **summarise(result, expected_status=201),
        "server_peak_rss_mib": rss.mib("server"),
        "client_peak_rss_mib": rss.mib("client"),
        # CPU time per request: what a claim costs, robust against other load on the machine
        "server_cpu_ms_per_request": round((cpu_after[0] - cpu_before[0]) * 1000 / len(timed), 2),
        "client_cpu_ms_per_request": round((cpu_after[1] - cpu_before[1]) * 1000 / len(timed), 2),
    }
    if config.rate:
        opened = await drive(server.url, calls[config.warmup + config.requests:], config.clients, rate=config.rate)
        report["open_loop"] = {"rate": config.rate, **summarise(opened, expected_status=201)}
    return report


async def wait_drained(db: BenchDatabase, timeout: float = 120) -> tuple[float, int]:
    """Seconds until the relay has published every outbox row (or the timeout), and how many are left."""
    started = time.perf_counter()
    while True:
        left = await scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if left == 0 or time.perf_counter() - started > timeout:
            return round(time.perf_counter() - started, 2), left
        await asyncio.sleep(0.1)


async def bench_service(db: BenchDatabase, config: Config, log_dir: Path) -> dict[str, Any]:
    env = {
        "SKILLS_DATABASE_URL": db.sqlalchemy_url,
        "SKILLS_RUN_RELAY": str(config.relay).lower(),
        "SKILLS_RUN_CONSUMERS": "false",
        "SKILLS_RUN_PERIODIC": "false",
    }
    broker = None
    if config.relay:
        from skillkit.tansu import TansuBroker

        broker = TansuBroker()
        broker.start()
        env["SKILLS_KAFKA_BOOTSTRAP"] = broker.bootstrap
    try:
        subprocess.run([sys.executable, "-m", "voucher_service.migrate", "upgrade"], env={**os.environ, **env},
                       cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
        registrations, claims = worker_calls(config.total_calls)
        server = ServerProcess("voucher_service.main:create", env, factory=True,
                               log_path=log_dir / "voucher-service.log")
        with server.running():
            registered = await register_all(server, registrations, config.clients)
            report = await timed_load(server, claims, config)
            report["registrations_per_second"] = registered
            if config.relay:
                report["relay_drain_s"], report["relay_unpublished_left"] = await wait_drained(db)
        report["rows"] = {
            "vouchers": await scalar(db, "SELECT count(*) FROM vouchers"),
            "voucher_issued_events": await scalar(
                db, "SELECT count(*) FROM outbox WHERE event_type = 'voucher.issued.v1'"),
        }
        return report
    finally:
        if broker is not None:
            broker.stop()


async def bench_baseline(db: BenchDatabase, config: Config, log_dir: Path) -> dict[str, Any]:
    dsn = f"sqlite:{db.dsn}-baseline" if db.backend == "sqlite" else db.dsn
    server = ServerProcess("bench.baseline_app:app", {"BENCH_BASELINE_DSN": dsn}, log_path=log_dir / "baseline.log")
    with server.running():
        report = await timed_load(server, baseline_calls(config.total_calls), config)
    if db.backend == "sqlite":
        counted = BenchDatabase("sqlite", db.name, "", f"{db.dsn}-baseline")
        report["rows"] = {
            "vouchers": await scalar(counted, "SELECT count(*) FROM baseline_vouchers"),
            "voucher_issued_events": await scalar(counted, "SELECT count(*) FROM baseline_outbox"),
        }
        await drop_database(counted)
    else:
        report["rows"] = {
            "vouchers": await scalar(db, "SELECT count(*) FROM baseline_vouchers"),
            "voucher_issued_events": await scalar(db, "SELECT count(*) FROM baseline_outbox"),
        }
    return report


async def run(config: Config) -> dict[str, Any]:
    """Runs both loads on a fresh database and returns the report (the database is dropped afterwards)."""
    load_before = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews every number
    with tempfile.TemporaryDirectory(prefix="bench-voucher-") as tmp:
        log_dir = config.log_dir or Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        db = await create_database("bench_voucher", config.backend, Path(tmp))
        try:
            service = await bench_service(db, config, log_dir)
            baseline = await bench_baseline(db, config, log_dir)
        finally:
            await drop_database(db)
        dropped = not await database_exists(db)
    ratio = round(service["per_second"] / baseline["per_second"], 3) if baseline["per_second"] else None
    return {
        "benchmark": "voucher_claim",
        "config": {"clients": config.clients, "requests": config.requests, "warmup": config.warmup,
                   "backend": config.backend, "relay": config.relay, "rate": config.rate,
                   "rate_requests": config.rate_requests if config.rate else 0},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "database": db.name,
        "database_dropped": dropped,
        "service": service,
        "baseline": baseline,
        "ratio": ratio,
        "target": {
            "ratio_min": TARGET_RATIO,
            "p99_ms_max": TARGET_P99_MS,
            "at_clients": TARGET_CLIENTS,
            "ratio_met": ratio is not None and ratio >= TARGET_RATIO,
            "p99_met": service["p99_ms"] is not None and service["p99_ms"] < TARGET_P99_MS,
        },
    }


def render(report: dict[str, Any]) -> str:
    c, m = report["config"], report["machine"]
    lines = [
        f"voucher-claim benchmark: {c['clients']} clients, {c['requests']} timed claims after {c['warmup']} "
        f"warm-up, {c['backend']}, relay {'on' if c['relay'] else 'off'}, {m['cpus']} CPUs, "
        f"load average {m['load_average_before'][0]} before / {m['load_average_after'][0]} after",
        "closed loop (saturation):",
        f"{'':<10}{'claims/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'failed':>8}"
        f"{'server MiB':>12}{'client MiB':>12}{'server CPU ms/claim':>21}{'client CPU ms/claim':>21}",
    ]
    for name in ("service", "baseline"):
        r = report[name]
        lines.append(f"{name:<10}{r['per_second']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}"
                     f"{r['failed']:>8}{r['server_peak_rss_mib']:>12}{r['client_peak_rss_mib']:>12}"
                     f"{r['server_cpu_ms_per_request']:>21}{r['client_cpu_ms_per_request']:>21}")
    t = report["target"]
    lines.append(f"ratio service/baseline = {report['ratio']} (target >= {t['ratio_min']}: "
                 f"{'met' if t['ratio_met'] else 'MISSED'}); service p99 {report['service']['p99_ms']} ms "
                 f"(target < {t['p99_ms_max']} ms at {t['at_clients']} clients: {'met' if t['p99_met'] else 'MISSED'})")
    if c["rate"]:
        lines.append(f"open loop: {c['rate_requests']} claims due at {c['rate']}/s, at most {c['clients']} in flight:")
        for name in ("service", "baseline"):
            o = report[name]["open_loop"]
            lines.append(f"{name:<10}{o['per_second']:>10}{o['p50_ms']:>9}{o['p99_ms']:>9}{o['max_ms']:>9}"
                         f"{o['failed']:>8}")
    for name in ("service", "baseline"):
        r = report[name]
        if r["failed"]:
            lines.append(f"{name} failures: statuses {r['statuses']}, transport errors {r['errors']}")
    if c["relay"]:
        s = report["service"]
        lines.append(f"relay drained the outbox {s['relay_drain_s']} s after the load "
                     f"({s['relay_unpublished_left']} rows left)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=TARGET_CLIENTS, help="concurrent clients (default 64)")
    parser.add_argument("--requests", type=int, default=3000, help="timed claims per run (default 3000)")
    parser.add_argument("--warmup", type=int, default=200, help="claims before timing, not counted (default 200)")
    parser.add_argument("--rate", type=float, help="also an open-loop phase: claims due at this many per second")
    parser.add_argument("--rate-requests", type=int, default=1000, help="claims in the open-loop phase")
    parser.add_argument("--relay", action="store_true", help="run the outbox relay against a Tansu broker")
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--log-dir", type=Path, help="keep the servers' logs here")
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    config = Config(args.clients, args.requests, args.warmup, args.backend, args.relay, args.log_dir, args.rate,
                    args.rate_requests)
    report = asyncio.run(run(config))
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
