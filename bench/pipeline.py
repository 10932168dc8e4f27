"""Pipeline benchmark: N complete chains (发券 → 培训 → 持证 → 兑现) through all four services.

    python -m bench.pipeline [--chains 600] [--class-size 20] [--days 5] [--parallel-classes 6]
                             [--rate 50] [--backend postgres] [--json out.json] [--keep-logs DIR]
    python -m bench.pipeline --sweep 10,20,50 [--rounds 2] [--in-flight 320] [--chains 1920]

In one run, on four fresh PostgreSQL databases (created here, dropped at the end):
1. Tansu, the four services (one uvicorn process each, relay and consumers in-process as in the embedded
   default) and the province real-name simulator (accepting everything) are started (testsupport.processes);
2. baselines measured on the same machine in the same run: the raw Tansu produce → consume rate of 1 KiB
   messages (aiokafka, acks=all, one partition key per message) and a no-op HTTP round trip (GET /healthz of
   the voucher service, same client);
3. bureau staff register the institutions and the evaluation centre; then N workers run the whole loop through
   the public REST APIs in classes of `--class-size` (inclusive, `--days` attended days each): register,
   claim, enrol by code, bulk check-ins, bulk completions, class outcome, evaluation (candidates, bulk
   results, batch certificates);
   - closed mode (default): `--parallel-classes` classes at a time, as fast as the platform takes them;
   - offered-load mode (`--rate R`): a new class starts every class-size / R seconds whatever the platform's
     progress (open loop), so R chains/s are offered;
4. it waits until the subsidy service shows N eligible training claims (GET /v1/claims/summary).
It reports chains/s (N / wall time from the first registration to the N-th eligible claim), the latency from
`certificate.issued` to the claim becoming eligible (p50/p99/max), each process's peak RSS (psutil, sampled
every 250 ms) and each consumer's events/s (`consumer_events_total` from /metrics before and after, divided by
the wall time).

Latency, measured by timestamps: the certificate's event time is the CloudEvents `time` of its
`certificate.issued.v1` (read from `skills.certification.v1` by a group-less consumer started before the run);
the eligible time is the claim's `eligible_at` from `GET /v1/claims` (set in the subsidy service's transaction
that made it eligible). Both come from the same machine's clock. The latency of a chain is the training
claim's `eligible_at` minus the event time of the certificate the claim cites (`certificate_id`).

`--sweep SIZES` says where the CPU goes, per class or per chain: closed runs at each class size, alternating within
each of `--rounds` rounds (a drift in the machine's speed, ~30 % within an hour here, then spreads over every size
instead of favouring one), each keeping about `--in-flight` chains in the platform (parallel classes = in-flight /
size) on `--chains` rounded up to whole classes; each process's CPU per chain is fitted to
`per_chain + per_class / class_size`. A class costs a fixed amount whatever its size — its REST requests, each with
its own transaction, idempotency record, relay round and the other services' consumer transactions — and each
trainee costs the rest: the split says which of the two a change must attack (`2 cores / target chains/s` is the CPU
per chain the machine has at perfect utilisation).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform as host
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import PeakRss, create_database, drop_database, percentile
from testsupport.api import Api, Endpoints, client_session, scrape
from testsupport.county import (
    ClassPlan,
    County,
    EvaluationInstitution,
    Institution,
    Trainee,
    credit_code,
    mobile,
    person_name,
    resident_id,
)
from testsupport.loop import LoopDriver
from testsupport.processes import pids, platform_running, sqlite_urls
from skillkit.contracts.topics import CERTIFICATION_TOPIC
from skillkit.county import policy_year_of
from skillkit.db import utcnow
from skillkit.events import parse_event
from skillkit.outbox import TYPE_HEADER

TARGET_CHAINS_PER_S = 150.0
TARGET_P99_MS = 500.0
TARGET_RATE = 50.0
OCCUPATIONS = ("4-10-01-05", "4-10-01-06", "4-03-02-01", "4-03-02-02")
SERVICE_NAMES = ("voucher-service", "training-service", "certification-service", "subsidy-service")


@dataclass(frozen=True)
class Config:
    chains: int = 600
    class_size: int = 20
    days: int = 5
    parallel_classes: int = 6
    rate: float | None = None
    backend: str = "postgres"
    deadline_s: float = 600.0
    baseline_messages: int = 5000
    baseline_http_requests: int = 2000
    clients: int = 32  # requests in flight; 4 services x a pool of up to 40 must stay under PostgreSQL's 100
    log_dir: Path | None = None
    py_spy: str | None = None
    profile_dir: Path | None = None
    intake: str = "bulk"  # bulk: roster issue, enrolment and candidate files; app: one request per trainee
    profile_self: Path | None = None  # cProfile of this process (the load generator) over the timed phase


def build_county(config: Config) -> County:
    rng = random.Random(7)
    institutions = [
        Institution(f"i{n}", f"临县第{n + 1}职业培训学校", ("临泉镇", "白文镇", "城庄镇", "兔坂镇")[n % 4], ["inclusive"],
                    list(OCCUPATIONS), credit_code("school", 100 + n))
        for n in range(4)
    ]
    evaluator = EvaluationInstitution("临县职业技能等级认定评价中心", credit_code("public", 200),
                                      [{"occupation_code": o, "level": 5, "certificate_type": "skill_level"} for o in OCCUPATIONS])
    classes = []
    for c in range(-(-config.chains // config.class_size)):
        size = min(config.class_size, config.chains - c * config.class_size)
        trainees = []
        for k in range(size):
            i = c * config.class_size + k + 1
            trainees.append(Trainee(person_name(rng), resident_id(i), institutions[c % 4].township, ["rural_migrant"],
                                    config.days, mobile=mobile(i)))
        classes.append(ClassPlan(institutions[c % 4], f"2026年第{c + 1}期普惠制培训班", "inclusive", OCCUPATIONS[c % 4],
                                 max(config.days, 5), trainees))
    return County(institutions, evaluator, classes)


# --- baselines -------------------------------------------------------------------------------------------------


async def kafka_baseline(bootstrap: str, messages: int) -> dict[str, Any]:
    """Raw Tansu: produce `messages` 1 KiB records (acks=all, keyed), then consume them back from the start."""
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    body = b"x" * 1024
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=body, key=b"warm")  # creates the topic
        started = time.perf_counter()
        futures = [await producer.send(topic, value=body, key=str(i).encode()) for i in range(messages)]
        await asyncio.gather(*futures)
        produce_s = time.perf_counter() - started
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        deadline = started + 120
        while seen < messages + 1 and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(r) for r in batches.values())
        consume_s = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"messages": messages, "produce_per_s": round(messages / produce_s), "consume_per_s": round(seen / consume_s)}


async def kafka_hop_latency(bootstrap: str, fetch_max_wait_ms: int, messages: int = 40) -> dict[str, Any]:
    """One broker hop: a record produced (acks=all) to a consumer already polling, as the kit's consumers do
    (getmany, 200 ms); with aiokafka's default fetch wait (500 ms, what the kit uses) and a short one."""
    topic = f"bench.latency.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    await producer.send_and_wait(topic, b"warm", key=b"warm")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=fetch_max_wait_ms)
    await consumer.start()
    latencies: list[float] = []

    async def consume() -> None:
        while len(latencies) < messages:
            batches = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            latencies.extend(now - float(r.value) for records in batches.values() for r in records if r.value != b"warm")

    try:
        task = asyncio.create_task(consume())
        await asyncio.sleep(1.0)
        for i in range(messages):
            await producer.send_and_wait(topic, str(time.perf_counter()).encode(), key=str(i).encode())
            await asyncio.sleep(0.05)
        await asyncio.wait_for(task, 60)
    finally:
        await consumer.stop()
        await producer.stop()
    ms = [x * 1000 for x in latencies]
    return {"fetch_max_wait_ms": fetch_max_wait_ms, "p50_ms": round(percentile(ms, 50), 1),
            "p99_ms": round(percentile(ms, 99), 1)}


async def http_baseline(url: str, requests: int = 2000, clients: int = 16) -> dict[str, Any]:
    """A no-op HTTP round trip: GET /healthz of a service process, `clients` concurrent requests on the loop's own
    client (`client_session`: the same library and pool settings as `Api`)."""
    latencies: list[float] = []
    async with client_session(clients) as session:
        queue = iter(range(requests))

        async def one() -> None:
            for _ in queue:
                t0 = time.perf_counter()
                async with session.get(f"{url}/healthz") as response:
                    await response.read()
                    response.raise_for_status()
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        duration = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {"requests": requests, "per_s": round(requests / duration), "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2)}


# --- measurement helpers -----------------------------------------------------------------------------------------


class CertificateTimes:
    """Reads skills.certification.v1 from the beginning and keeps each certificate.issued event's time."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.times: dict[str, datetime] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(CERTIFICATION_TOPIC, bootstrap_servers=self.bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    metadata_max_age_ms=1000)
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        self._read(record)
        finally:
            await consumer.stop()

    def _read(self, record: Any) -> None:
        """The type header passes over the other events of the topic undecoded; an issued certificate's event is
        read for its two fields only, not validated (parse_event cost the load generator ~0.4 ms per chain)."""
        event_type = next((value for name, value in record.headers or () if name == TYPE_HEADER), None)
        if event_type is not None and not event_type.startswith(b"certificate.issued"):
            return
        try:
            if event_type is None:  # a producer without the header: the full decode
                envelope = parse_event(record.value)
                if envelope.type.startswith("certificate.issued"):
                    self.times[envelope.data.certificate_id] = envelope.time
                return
            event = json.loads(record.value)
            self.times[event["data"]["certificate_id"]] = datetime.fromisoformat(event["time"])
        except Exception:
            return

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def _label(labels: str, name: str) -> str:
    return labels.split(f'{name}="', 1)[1].split('"', 1)[0] if f'{name}="' in labels else "?"


async def consumer_counts(api: Api, endpoints: Endpoints) -> tuple[dict[str, float], dict[str, float]]:
    """consumer_events_total per (service, consumer group), and per (group, event type, outcome)."""
    out: dict[str, float] = defaultdict(float)
    by_type: dict[str, float] = defaultdict(float)
    for name, url in zip(SERVICE_NAMES, (endpoints.voucher, endpoints.training, endpoints.certification,
                                         endpoints.subsidy)):
        for (metric, labels), value in (await scrape(api.session, url)).items():
            if metric == "consumer_events_total":
                group = _label(labels, "consumer")
                out[f"{name}/{group}"] += value
                by_type[f"{group} {_label(labels, 'type')} {_label(labels, 'outcome')}"] += value
    return dict(out), dict(by_type)


async def database_stats(databases: list[Any]) -> dict[str, dict[str, int]]:
    """Committed transactions and rows written per service database (pg_stat_database), cumulative."""
    if not databases:
        return {}
    import asyncpg

    from bench.common import PG_ADMIN_DSN

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        rows = await conn.fetch(
            "SELECT datname, xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched"
            " FROM pg_stat_database WHERE datname = ANY($1::text[])", [db.name for db in databases])
    finally:
        await conn.close()
    return {r["datname"]: {k: int(r[k]) for k in r.keys() if k != "datname"} for r in rows}


def postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process on the machine (backends of other databases included: the
    benchmark's own four are the busy ones during a run)."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            try:
                total += sum(proc.cpu_times()[:2])
            except psutil.Error:
                continue
    return total


def start_profilers(config: Config, platform: Any) -> list[subprocess.Popen[bytes]]:
    """py-spy (from a throwaway venv, `--py-spy PATH`) on every service process for the timed phase;
    collapsed stacks go to `--profile-dir`/<service>.txt."""
    if not (config.py_spy and config.profile_dir):
        return []
    config.profile_dir.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen([config.py_spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw",
                          "--output", str(config.profile_dir / f"{name}.txt")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name, pid in pids(platform).items() if name in SERVICE_NAMES
    ]


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    for proc in profilers:
        proc.send_signal(signal.SIGINT)
    for proc in profilers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def eligible_training(api: Api) -> int:
    """Training claims eligible this policy year (the run's chains are this year's; bench.province_scale seeds
    earlier years)."""
    summary = await api.call("GET", f"{api.endpoints.subsidy}/v1/claims/summary", api.tokens.bureau(),
                             params={"policy_year": this_policy_year()})
    return sum(t["count"] for t in summary["totals"] if t["claim_type"] == "training" and t["state"] == "eligible")


def this_policy_year() -> int:
    return policy_year_of(utcnow())


# --- the run -----------------------------------------------------------------------------------------------------


async def drive(config: Config, platform: Any, databases: list[Any]) -> dict[str, Any]:
    endpoints = Endpoints.of(platform)
    report: dict[str, Any] = {}
    report["baseline_kafka"] = await kafka_baseline(platform.kafka_bootstrap, config.baseline_messages)
    report["baseline_http"] = await http_baseline(endpoints.voucher, config.baseline_http_requests)
    report["baseline_kafka_hop"] = [await kafka_hop_latency(platform.kafka_bootstrap, wait) for wait in (500, 50)]
    county = build_county(config)
    async with Api(endpoints, concurrency=config.clients) as api:
        driver = LoopDriver(api, deadline_s=config.deadline_s, bulk=config.intake == "bulk")
        await driver.setup(county)
        certificates = CertificateTimes(platform.kafka_bootstrap)
        certificates.start()
        before, before_types = await consumer_counts(api, endpoints)
        db_before = await database_stats(databases)
        profilers = start_profilers(config, platform)
        processes = {name: psutil.Process(pid) for name, pid in pids(platform).items()}
        processes["load generator (this process)"] = psutil.Process()
        cpu_before = {name: sum(p.cpu_times()[:2]) for name, p in processes.items()}
        cpu_before["postgresql (all backends)"] = postgres_cpu_s()
        load_before = os.getloadavg()
        self_profile = cProfile.Profile() if config.profile_self else None
        # every 250 ms: eight processes sampled every 100 ms cost the load generator 6 ms of CPU a second (0.2 ms
        # per chain at 30 chains/s); a Python process's RSS hardly falls back, so the peak is not missed
        with PeakRss({**pids(platform), "load generator (this process)": os.getpid()}, interval=0.25) as rss:
            if self_profile is not None:
                self_profile.enable()
            started = time.perf_counter()
            stage_done: dict[str, float] = {}
            if config.rate:
                interval = config.class_size / config.rate
                tasks = []
                for n, plan in enumerate(county.classes):
                    delay = started + n * interval - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(driver.run_class(plan, county.evaluation_institution)))
                await asyncio.gather(*tasks)
            else:
                await driver.run_county(county, parallel_classes=config.parallel_classes)
            stage_done["last_certificate_s"] = time.perf_counter() - started
            deadline = time.monotonic() + config.deadline_s
            while (eligible := await eligible_training(api)) < config.chains:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {eligible} of {config.chains} training claims eligible")
                await asyncio.sleep(0.2)
            wall = time.perf_counter() - started
            if self_profile is not None:
                self_profile.disable()
                self_profile.dump_stats(str(config.profile_self))
        cpu_after = {name: sum(p.cpu_times()[:2]) for name, p in processes.items()}
        cpu_after["postgresql (all backends)"] = postgres_cpu_s()
        load_after = os.getloadavg()
        stop_profilers(profilers)
        after, after_types = await consumer_counts(api, endpoints)
        await asyncio.sleep(0.6)  # pg_stat_database is refreshed by the stats collector (PG 15: at commit, 1 s)
        db_after = await database_stats(databases)
        await asyncio.sleep(0.5)
        await certificates.stop()
        claims = [c for c in await driver.all_claims(this_policy_year()) if c["claim_type"] == "training"]
        requests = api.requests
        by_route = dict(api.by_route.most_common())
        server_errors = api.server_errors
        waits = {"voucher_known": driver.voucher_known.report(), "enrolments_bound": driver.enrolments_bound.report()}
    latencies = []
    missing_times = 0
    for claim in claims:
        issued = certificates.times.get(claim["certificate_id"] or "")
        if issued is None or not claim["eligible_at"]:
            missing_times += 1
            continue
        latencies.append((datetime.fromisoformat(claim["eligible_at"]) - issued).total_seconds() * 1000)
    report.update({
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "chains": config.chains,
        "wall_s": round(wall, 2),
        "chains_per_s": round(config.chains / wall, 1),
        "last_certificate_s": round(stage_done["last_certificate_s"], 2),
        "rest_requests": requests,
        "server_errors_retried": server_errors,
        "rest_requests_by_route": by_route,
        # bulk intake: the asks (enrolment files, class reads) spent waiting for another service's events
        "waits": waits,
        "latency_cert_to_eligible_ms": {
            "samples": len(latencies), "unmatched": missing_times,
            "p50": round(percentile(latencies, 50), 1) if latencies else None,
            "p99": round(percentile(latencies, 99), 1) if latencies else None,
            "max": round(max(latencies), 1) if latencies else None,
        },
        "peak_rss_mib": {name: rss.mib(name) for name in rss.peak},
        # CPU seconds each process used during the timed phase, and per chain: independent of other load
        "cpu_s": {name: round(cpu_after[name] - cpu_before[name], 2) for name in cpu_before},
        "cpu_ms_per_chain": {name: round((cpu_after[name] - cpu_before[name]) * 1000 / config.chains, 1)
                             for name in cpu_before},
        "load_avg_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "db_per_chain": {
            name.split("_")[1]: {k: round((db_after[name][k] - db_before.get(name, {}).get(k, 0)) / config.chains, 1)
                                 for k in ("xact_commit", "tup_inserted", "tup_updated", "tup_fetched")}
            for name in db_after
        },
        "consumer_events_by_type": {k: int(v - before_types.get(k, 0)) for k, v in sorted(after_types.items())
                                    if v - before_types.get(k, 0) > 0},
        "consumer_events_per_s": {
            group: {"events": int(after.get(group, 0) - before.get(group, 0)),
                    "per_s": round((after.get(group, 0) - before.get(group, 0)) / wall, 1)}
            for group in sorted(after)
        },
    })
    return report


async def run(config: Config) -> dict[str, Any]:
    databases = []
    directory = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    try:
        if config.backend == "postgres":
            for name in SERVICE_NAMES:
                databases.append(await create_database(f"pipeline_{name.split('-')[0]}"))
            urls = {name: db.sqlalchemy_url for name, db in zip(SERVICE_NAMES, databases)}
        else:
            urls = sqlite_urls(directory)
        with platform_running(urls, log_dir=config.log_dir or directory, seed="bench") as platform:
            report = await drive(config, platform, databases)
        report["backend"] = config.backend
        report["machine"] = {"cpus": psutil.cpu_count(), "python": host.python_version()}
        report["git"] = git_state()
        return report
    finally:
        for db in databases:
            await drop_database(db)
        shutil.rmtree(directory, ignore_errors=True)


def git_state() -> dict[str, Any]:
    """The commit measured, and whether service or kit files differed from it (a shared working tree)."""
    def git_raw(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout

    def git(*args: str) -> str:
        return git_raw(*args).strip()

    dirty = [line[3:] for line in git_raw("status", "--porcelain", "--", "services", "voucher-service", "training-service",
                                      "certification-service", "subsidy-service").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_service_files": dirty}


def render(report: dict[str, Any], config: Config) -> str:
    lat = report["latency_cert_to_eligible_ms"]
    mode = f"offered load {config.rate:g} chains/s" if config.rate else f"closed loop, {config.parallel_classes} classes at a time"
    lines = [
        f"Pipeline benchmark — {report['chains']} chains, classes of {config.class_size}, {config.days} days, {mode}, "
        f"{config.intake} intake, {report['backend']}",
        f"  baseline: Tansu raw produce {report['baseline_kafka']['produce_per_s']}/s, consume "
        f"{report['baseline_kafka']['consume_per_s']}/s (1 KiB, acks=all); no-op HTTP GET /healthz "
        f"{report['baseline_http']['per_s']}/s (p50 {report['baseline_http']['p50_ms']} ms, p99 {report['baseline_http']['p99_ms']} ms)",
        "  baseline: one Tansu hop (produce → polling consumer): " + ", ".join(
            f"fetch_max_wait_ms={h['fetch_max_wait_ms']}: p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms"
            for h in report["baseline_kafka_hop"]),
        f"  chains/s: {report['chains_per_s']} (wall {report['wall_s']} s; last certificate issued at "
        f"{report['last_certificate_s']} s; {report['rest_requests']} REST requests, "
        f"{report['server_errors_retried']} server errors retried)   target ≥ {TARGET_CHAINS_PER_S:g}",
        "  waits on events (asks = enrolment files / class reads): " + ", ".join(
            f"{k} {v['waits']} waits, {v['asks']} asks ({v['first_ask_succeeded']} at the first), first ask learnt "
            f"{v['first_delay_s']} s after" for k, v in report["waits"].items()),
        f"  certificate.issued → claim eligible: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms "
        f"({lat['samples']} chains)   target p99 ≤ {TARGET_P99_MS:g} ms at {TARGET_RATE:g} chains/s",
        "  peak RSS (MiB): " + ", ".join(f"{k} {v}" for k, v in report["peak_rss_mib"].items()),
        "  CPU ms per chain: " + ", ".join(f"{k} {v}" for k, v in report["cpu_ms_per_chain"].items())
        + f"   (machine load avg 1 min: {report['load_avg_1m']['before']} → {report['load_avg_1m']['after']} on "
        f"{report['machine']['cpus']} CPUs)",
        "  per chain in PostgreSQL: " + ", ".join(
            f"{k} {v['xact_commit']} commits/{v['tup_inserted']} inserts/{v['tup_updated']} updates"
            for k, v in report["db_per_chain"].items()),
        "  consumers (events/s over the wall time): " + ", ".join(
            f"{k} {v['per_s']} ({v['events']})" for k, v in report["consumer_events_per_s"].items()),
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Split:
    per_chain_ms: float
    per_class_ms: float

    def at(self, class_size: int) -> float:
        return self.per_chain_ms + self.per_class_ms / class_size


def fit(samples: list[tuple[int, float]]) -> Split:
    """Least squares of cpu = per_chain + per_class / size over (class size, CPU ms per chain) samples."""
    if len({size for size, _ in samples}) < 2:
        raise ValueError("the split needs runs at two class sizes at least")
    xs = [1 / size for size, _ in samples]
    ys = [cpu for _, cpu in samples]
    n = len(samples)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return Split(per_chain_ms=mean_y - slope * mean_x, per_class_ms=slope)


def sweep_config(base: Config, size: int, in_flight: int) -> Config:
    """One sweep run: about `in_flight` chains in the platform, on `base.chains` rounded up to whole rounds."""
    parallel = max(1, in_flight // size)
    per_round = size * parallel
    return replace(base, chains=-(-base.chains // per_round) * per_round, class_size=size, parallel_classes=parallel,
                   rate=None)


def render_sweep(runs: list[dict[str, Any]], headline: int, cores: int) -> str:
    by_process: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for report in runs:
        size = report["config"]["class_size"]
        for process, cpu in report["cpu_ms_per_chain"].items():
            by_process[process].append((size, cpu))
        by_process["total"].append((size, sum(report["cpu_ms_per_chain"].values())))
    lines = [f"{'process':32} {'ms per chain':>12} {'ms per class':>12} {f'at {headline}/class':>14}"]
    for process, samples in by_process.items():
        split = fit(samples)
        lines.append(f"{process:32} {split.per_chain_ms:12.2f} {split.per_class_ms:12.1f} {split.at(headline):14.2f}")
    lines.append("")
    for report in runs:
        total = sum(report["cpu_ms_per_chain"].values())
        used = report["chains_per_s"] * total / 1000
        lines.append(f"class size {report['config']['class_size']:3}: {report['chains_per_s']:6.1f} chains/s, "
                     f"{total:5.1f} ms CPU per chain, {used:4.2f} of {cores} cores busy ({100 * used / cores:.0f} %)")
    budget = 1000 * cores / TARGET_CHAINS_PER_S
    lines.append(f"{TARGET_CHAINS_PER_S:.0f} chains/s on {cores} cores needs <= {budget:.1f} ms CPU per chain "
                 f"at perfect utilisation")
    return "\n".join(lines)


async def sweep(base: Config, sizes: list[int], rounds: int, in_flight: int) -> list[dict[str, Any]]:
    runs = []
    for round_no in range(rounds):
        for size in sizes:
            report = await run(sweep_config(base, size, in_flight))
            print(f"round {round_no + 1}, class size {size}: {report['chains_per_s']:.1f} chains/s, "
                  f"CPU ms per chain {report['cpu_ms_per_chain']}", flush=True)
            runs.append(report)
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Pipeline benchmark of the whole loop")
    parser.add_argument("--chains", type=int, default=600)
    parser.add_argument("--class-size", type=int, default=20)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--parallel-classes", type=int, default=6)
    parser.add_argument("--clients", type=int, default=32, help="REST requests in flight at most")
    parser.add_argument("--rate", type=float, help="offered load in chains/s (open loop)")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--intake", choices=["bulk", "app"], default="bulk",
                        help="bulk: vouchers issued from a roster per class, enrolments and candidates from files "
                             "(what the county's staff and institutions do); app: every worker registers and "
                             "claims in the app, enrolled and registered one request each")
    parser.add_argument("--deadline", type=float, default=600)
    parser.add_argument("--json", help="write the report as JSON to this file")
    parser.add_argument("--keep-logs", help="service logs go to this folder")
    parser.add_argument("--py-spy", help="path of a py-spy binary: profile every service during the timed phase")
    parser.add_argument("--profile-dir", help="where py-spy writes <service>.txt (collapsed stacks)")
    parser.add_argument("--profile-self", help="cProfile this process (the load generator) over the timed phase "
                                               "and write the stats to this file (pstats); it inflates its CPU")
    parser.add_argument("--sweep", help="class sizes, comma-separated (e.g. 10,20,50): closed runs at each, and each "
                                        "process's CPU split into per class and per chain")
    parser.add_argument("--rounds", type=int, default=2, help="--sweep: rounds over the sizes")
    parser.add_argument("--in-flight", type=int, default=320, help="--sweep: chains kept in the platform at once")
    parser.add_argument("--headline", type=int, default=20, help="--sweep: the class size the table adds up for")
    args = parser.parse_args(argv)
    log_dir = Path(args.keep_logs) if args.keep_logs else None
    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    config = Config(chains=args.chains, class_size=args.class_size, days=args.days,
                    parallel_classes=args.parallel_classes, rate=args.rate, clients=args.clients, backend=args.backend,
                    deadline_s=args.deadline, log_dir=log_dir, py_spy=args.py_spy, intake=args.intake,
                    profile_dir=Path(args.profile_dir) if args.profile_dir else None,
                    profile_self=Path(args.profile_self) if args.profile_self else None)
    if args.sweep:
        runs = asyncio.run(sweep(config, [int(size) for size in args.sweep.split(",")], args.rounds, args.in_flight))
        if args.json:
            Path(args.json).write_text(json.dumps(runs, ensure_ascii=False, indent=2, default=str))
        print(render_sweep(runs, args.headline, runs[0]["machine"]["cpus"]))
        return
    report = asyncio.run(run(config))
    print(render(report, config))
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
