"""Whole-loop chaos (issue 18): chains through the four services, two replicas each, while processes die.

    python -m bench.chaos [--chains 600] [--class-size 20] [--seed 1] [--seed 2] [--replicas 2]
                          [--kills-per-process 1] [--duplicate-share 0.05] [--json out.json] [--keep-logs DIR]

One run per seed, each on four fresh PostgreSQL databases (created here, dropped at the end) and its own Tansu:
1. Tansu, `--replicas` uvicorn processes per service (same consumer groups, one database per service) and the
   province real-name simulator are started; the driver (testsupport.loop, bulk intake, public REST APIs only)
   spreads its requests over the replicas and retries on another one when a request's connection breaks;
2. the county's classes run through the loop, `--parallel-classes` at a time. Some trainees fail their
   evaluation (no certificate: their chain must never pay), some are E3 workers (a living allowance, S4);
3. a controller, on the progress of the classes (≥ 20 %): kill -9's every service process `--kills-per-process`
   times, each restarted at once (never two replicas of a service down together), restarts the broker once
   (kill -9; Tansu's memory storage forgets every topic and offset) followed by the outbox replay of the last
   `--replay-window` seconds in every service, and meanwhile injects duplicated and reordered deliveries (a
   share of the records is published again, with a delay, after later records of the same key);
4. then: every chain that should pay has exactly one claim per subsidy with the exact amount, nothing
   ineligible is payable, the reconciliation (skillkit.reconcile) finds every outbox row applied by every
   subscribing group (gaps found are healed by replay and reported), the dead-letter topics are empty and no
   process logged a dead letter, and the totals per payee agree three ways to the fen: the plan (what the driver
   intended), an independent recomputation from what the voucher, training and certification services stored
   (bench/chaos_recompute.py: plain SQL, none of the subsidy chain's code) and the subsidy service's payable
   claims — S1 100 yuan a day to the institution (at most the planned days), S4 15 a day to the E3 worker whose
   category was confirmed, S8 400 per level-5 certificate to the evaluation institution (the default policy
   table's rates). It prints what was killed and when.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text

from bench.chaos_recompute import payable_from_databases, totals_per_payee
from testsupport.api import Api, Endpoints
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
from testsupport.processes import ProvinceProcess
from skillkit.contracts.topics import ALL_TOPICS, PROVINCE_OUTBOUND_TOPIC, dead_letter_topic
from skillkit.db import make_engine, utcnow
from skillkit.outbox import mark_for_replay
from skillkit.platform import SERVICES, Platform, ServiceProcess
from skillkit.reconcile import reconcile_and_heal, service_runtime

OCCUPATIONS = ("4-10-01-05", "4-10-01-06", "4-03-02-01", "4-03-02-02")
E3 = "poverty_alleviated_labour"
S1_PER_DAY, S4_PER_DAY, S8_LEVEL5 = Decimal("100.00"), Decimal("15.00"), Decimal("400.00")
PAYABLE = frozenset({"eligible", "declared", "verified", "approved", "paid"})


@dataclass(frozen=True)
class ChaosConfig:
    chains: int = 600
    class_size: int = 20
    seed: int = 1
    replicas: int = 2
    parallel_classes: int = 4
    kills_per_process: int = 1
    kill_from: float = 0.2  # progress (share of classes certified) of the first kill
    kill_to: float = 0.8
    broker_restart_at: float = 0.5
    replay_window_s: float = 120.0
    duplicate_share: float = 0.05
    fail_share: float = 0.05  # trainees who fail the evaluation: no certificate, never payable
    e3_share: float = 0.1
    deadline_s: float = 900.0
    log_dir: Path | None = None


# --- the county ------------------------------------------------------------------------------------------------


def build_county(config: ChaosConfig) -> County:
    rng = random.Random(config.seed)
    institutions = [
        Institution(f"i{n}", f"临县第{n + 1}职业培训学校", ("临泉镇", "白文镇", "城庄镇", "兔坂镇")[n % 4], ["inclusive"],
                    list(OCCUPATIONS), credit_code("school", 300 + n))
        for n in range(4)
    ]
    evaluator = EvaluationInstitution("临县职业技能等级认定评价中心", credit_code("public", 400),
                                      [{"occupation_code": o, "level": 5, "certificate_type": "skill_level"}
                                       for o in OCCUPATIONS])
    classes = []
    for c in range(-(-config.chains // config.class_size)):
        size = min(config.class_size, config.chains - c * config.class_size)
        planned = rng.choice((5, 6, 7))
        trainees = []
        for k in range(size):
            i = c * config.class_size + k + 1
            categories = [E3] if rng.random() < config.e3_share else ["rural_migrant"]
            trainees.append(Trainee(person_name(rng), resident_id(i), institutions[c % 4].township, categories,
                                    rng.randint(-(-planned * 4 // 5), planned), exam_passed=rng.random() >= config.fail_share,
                                    mobile=mobile(i)))
        classes.append(ClassPlan(institutions[c % 4], f"2026年第{c + 1}期普惠制培训班", "inclusive", OCCUPATIONS[c % 4],
                                 planned, trainees))
    return County(institutions, evaluator, classes)


def expected_payable(county: County) -> dict[str, tuple[Decimal, str]]:
    """Claim key -> (amount, payee id), recomputed from the plan alone with the default policy table's rates."""
    out: dict[str, tuple[Decimal, str]] = {}
    for plan in county.classes:
        for t in plan.trainees:
            if not t.exam_passed:
                continue  # no certificate: the chain is incomplete, nothing is payable
            days = min(t.attended_days, plan.planned_days)
            out[f"training:{t.voucher_id}:main"] = (S1_PER_DAY * days, plan.institution.id or "")
            if t.living_allowance:
                out[f"living_allowance:{t.voucher_id}:main"] = (S4_PER_DAY * days, t.worker_id or "")
            out[f"evaluation:{t.certificate_id}:main"] = (S8_LEVEL5, county.evaluation_institution.id or "")
    return out


# --- processes -------------------------------------------------------------------------------------------------


def _ports_free(ports: list[int]) -> bool:
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


class ReplicatedPlatform(Platform):
    """Tansu + `replicas` uvicorn processes per service (the second replica of voucher-service is
    `voucher-service#2`, on the port + 10); each service migrated once."""

    def __init__(self, database_urls: dict[str, str], replicas: int, log_dir: Path | None) -> None:
        rng = random.Random()
        for _ in range(200):
            offset = rng.randrange(2000, 24000, 100)
            services = tuple(ServiceProcess(s.name if r == 0 else f"{s.name}#{r + 1}", s.package, s.port + 10 * r)
                             for r in range(replicas) for s in SERVICES)
            if _ports_free([s.port + offset for s in services]):
                break
        urls = {s.name: database_urls[s.name.split("#")[0]] for s in services}
        super().__init__(urls, services=services, port_offset=offset, log_dir=log_dir,
                         extra_env={"SKILLS_LOG_LEVEL": "WARNING", "SKILLS_LEADER_CHECK_SECONDS": "1",
                                    # the training service's clock is moved to record a class's days (testsupport.loop)
                                    "SKILLS_MOVABLE_CLOCK": "true",
                                    # P1: the province's answers are on the broker only (no outbox of ours holds
                                    # them); those the broker lost come back through the resend job, run by the
                                    # training service's leader — here after 20 s instead of 6 h
                                    "SKILLS_PROVINCE_ANSWER_TIMEOUT_SECONDS": "20",
                                    "SKILLS_PROVINCE_RESEND_EVERY_SECONDS": "5",
                                    "SKILLS_PROVINCE_MAX_ATTEMPTS": "20"})
        self.replicas = replicas

    def start(self) -> None:
        assert self.broker is not None
        self.broker.start()
        for service in self.services:
            if "#" not in service.name:
                subprocess.run([sys.executable, "-m", f"{service.package}.migrate", "upgrade"],
                               env=self.env_for(service), check=True, stdout=subprocess.DEVNULL)
        for service in self.services:
            self.start_service(service)
        try:
            self.wait_healthy(180)
        except RuntimeError:
            self.print_log_tails()
            raise

    def print_log_tails(self, lines: int = 25) -> None:
        if self.log_dir is None:
            return
        for path in sorted(self.log_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            print(f"--- {path.name} (last {len(tail)} lines)\n" + "\n".join(t[:400] for t in tail), flush=True)

    def replica_urls(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for s in self.services:
            out[s.name.split("#")[0]].append(s.url)
        return out

    def endpoints(self) -> Endpoints:
        urls = {s.name: s.url for s in self.services if "#" not in s.name}
        return Endpoints(urls["voucher-service"], urls["training-service"], urls["certification-service"],
                         urls["subsidy-service"])

    def healthy(self, service: ServiceProcess) -> bool:
        try:
            with urllib.request.urlopen(f"{service.url}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False


# --- faults ----------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    at_s: float  # seconds since the first request
    progress: float  # share of classes certified when it happened
    action: str
    target: str
    detail: str = ""


class Echo:
    """Duplicated and reordered deliveries: a share of the records on the services' topics is published again
    (same bytes, same key, same headers plus `chaos: echo`) after a random delay of up to 2 s, so the copy
    arrives after records that followed the original. Restarts itself across the broker restart."""

    def __init__(self, bootstrap: str, share: float, seed: int) -> None:
        self.bootstrap, self.share = bootstrap, share
        self.rng = random.Random(seed)
        self.echoed = 0
        self.seen = 0
        self._task: asyncio.Task[Any] | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def _run(self) -> None:
        topics = [t for t in ALL_TOPICS if t != PROVINCE_OUTBOUND_TOPIC]
        while True:
            consumer = AIOKafkaConsumer(*topics, bootstrap_servers=self.bootstrap, group_id="chaos-echo",
                                        auto_offset_reset="latest", enable_auto_commit=True, fetch_max_wait_ms=50)
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=False)
            try:
                await consumer.start()
                await producer.start()
                while True:
                    batches = await consumer.getmany(timeout_ms=200)
                    for records in batches.values():
                        for r in records:
                            headers = list(r.headers or ())
                            if any(name == "chaos" for name, _ in headers):
                                continue
                            self.seen += 1
                            if self.rng.random() < self.share:
                                task = asyncio.create_task(self._again(producer, r.topic, r.key, r.value, headers,
                                                                       self.rng.uniform(0.05, 2.0)))
                                self._pending.add(task)
                                task.add_done_callback(self._pending.discard)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1)
            finally:
                for closing in (consumer.stop(), producer.stop()):
                    try:
                        await asyncio.wait_for(closing, 5)
                    except BaseException:
                        pass

    async def _again(self, producer: AIOKafkaProducer, topic: str, key: bytes, value: bytes,
                     headers: list[tuple[str, bytes]], delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers + [("chaos", b"echo")])
            self.echoed += 1
        except Exception:
            pass  # the broker restarting: that copy is not delivered, the original was


class Controller:
    """Kills and restarts on progress thresholds, one action at a time."""

    def __init__(self, config: ChaosConfig, platform: ReplicatedPlatform, databases: dict[str, str],
                 province: ProvinceProcess | None = None) -> None:
        self.config, self.platform, self.databases, self.province = config, platform, databases, province
        self.faults: list[Fault] = []
        self.progress = 0.0
        self.started = time.monotonic()
        names = [s.name for s in platform.services]
        plan: list[tuple[float, str, str]] = []
        count = len(names) * config.kills_per_process
        rng = random.Random(config.seed)
        order = [n for _ in range(config.kills_per_process) for n in rng.sample(names, len(names))]
        for k, name in enumerate(order):
            plan.append((config.kill_from + (config.kill_to - config.kill_from) * k / max(1, count - 1), "kill -9",
                         name))
        plan.append((config.broker_restart_at, "broker restart", "tansu"))
        self.plan = sorted(plan)
        self.replayed = 0
        self.healed = 0
        self.healing: asyncio.Task[None] | None = None
        self.driver: LoopDriver | None = None
        self.runtimes = {name: service_runtime(name) for name in databases}  # tables for the replay, built now
        self._locks = defaultdict(asyncio.Lock)  # per service: one replica down at a time
        quiet_kafka_logs()

    def note(self, action: str, target: str, detail: str = "") -> None:
        fault = Fault(round(time.monotonic() - self.started, 2), round(self.progress, 3), action, target, detail)
        self.faults.append(fault)
        print(f"  chaos t={fault.at_s:7.2f}s progress={100 * fault.progress:5.1f}%  {action:<15} {target:<26} {detail}",
              flush=True)

    async def watch_province(self, done: asyncio.Event) -> None:
        """The province simulator (an outside system's stand-in) exits when its broker connection breaks; the real
        system would reconnect: restart it, noted."""
        while True:
            await asyncio.sleep(0.5)
            if self.province is not None and self.province.proc is not None and self.province.proc.poll() is not None:
                self.province.start()
                self.note("restart", "province-simulator", "it exited when the broker went away")

    async def run(self, done: asyncio.Event) -> None:
        """Each action starts when the progress passes its threshold, in its own task: kills of different services
        overlap, two replicas of one service are never down together (`kill_and_restart` waits for the other)."""
        started: list[asyncio.Task[None]] = []
        for threshold, action, target in self.plan:
            while self.progress < threshold and not done.is_set():
                await asyncio.sleep(0.1)
            if action == "kill -9":
                started.append(asyncio.create_task(self.kill_and_restart(target)))
            else:
                started.append(asyncio.create_task(self.restart_broker()))
            await asyncio.sleep(0.5)
        await asyncio.gather(*started)

    async def kill_and_restart(self, name: str) -> None:
        async with self._locks[name.split("#")[0]]:
            if name.startswith("training-service") and self.driver is not None:
                # a training process forgets its moved clock when it restarts: never while a class's days are
                # being recorded with it (the driver's calendar lock), and back up before they are again
                async with self.driver.calendar:
                    await self._kill_and_restart(name)
                    await self._wait_healthy(name)
            else:
                await self._kill_and_restart(name)

    async def _wait_healthy(self, name: str) -> None:
        service = next(s for s in self.platform.services if s.name == name)
        deadline = time.monotonic() + 120
        while not await asyncio.to_thread(self.platform.healthy, service):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become healthy after its restart")
            await asyncio.sleep(0.2)

    async def _kill_and_restart(self, name: str) -> None:
        service = next(s for s in self.platform.services if s.name == name)
        base = name.split("#")[0]
        # never two replicas of one service down together: wait until the others answer
        others = [s for s in self.platform.services if s.name.split("#")[0] == base and s.name != name]
        deadline = time.monotonic() + 120
        while not all([await asyncio.to_thread(self.platform.healthy, o) for o in others]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{base}: the other replicas did not become healthy")
            await asyncio.sleep(0.2)
        process = self.platform.processes[name]
        pid = process.pid
        process.kill()
        await asyncio.to_thread(process.wait)
        self.platform.start_service(service)
        self.note("kill -9", name, f"pid {pid} killed, restarted as pid {self.platform.processes[name].pid}")

    async def restart_broker(self) -> None:
        broker = self.platform.broker
        assert broker is not None and broker._proc is not None
        pid = broker._proc.pid
        broker._proc.kill()
        await asyncio.to_thread(broker._proc.wait)
        broker._proc = None
        killed_at = utcnow()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(broker.start)
        self.note("broker restart", "tansu", f"pid {pid} killed; restarted empty as pid {broker._proc.pid}")
        if self.province is not None:
            # The province's system is outside: it reconnects to the broker the way it does. The simulator's own
            # consumer (no rewind check) would keep a position beyond the recreated topic's end and skip the
            # re-sent records until they were escalated (found in a 2,000-chain run): it is restarted instead.
            self.province.stop()
            self.province.start()
            self.note("restart", "province-simulator", "reconnects after the broker restart")
        # The runbook's replay (deploy/runbooks/broker-outage.md): what may have been published but not consumed
        since = killed_at - timedelta(seconds=self.config.replay_window_s)
        marked = 0
        for name, url in self.databases.items():
            engine = make_engine(url)
            try:
                marked += await mark_for_replay(engine, self.runtimes[name].tables, since=since)
            finally:
                await engine.dispose()
        self.replayed = marked
        self.note("outbox replay", "all services", f"{marked} rows since {self.config.replay_window_s:.0f} s before")
        self.healing = asyncio.create_task(self._heal_every(20.0))

    async def _heal_every(self, seconds: float) -> None:
        """After the broker lost its data the operator runs the reconciliation as well (the runbook), here every
        `seconds` until the run ends."""
        while True:
            await asyncio.sleep(seconds)
            await self.heal("after the broker restart")

    async def stop(self) -> None:
        if self.healing is not None:
            self.healing.cancel()
            await asyncio.gather(self.healing, return_exceptions=True)

    async def heal(self, why: str, grace_seconds: float = 10.0) -> int:
        """The runbook's reconciliation (deploy/runbooks/reconciliation.md): the gaps' rows marked for republishing.
        After the broker lost its data, a consumer whose fetch position lay beyond the restarted topic's new end
        skips the records the replay wrote below it (no offset-out-of-range once the topic has grown past it):
        the replay alone is not enough, the reconciliation finds and heals exactly those."""
        first, marked, _ = await reconcile_and_heal(self.databases, grace_seconds=grace_seconds,
                                                    runtimes=self.runtimes)
        self.healed += marked
        by_group = {g.group: len(g.gaps) for g in first.groups if g.gaps}
        self.note("reconcile --heal", "all groups", f"{why}: {first.gaps} gaps {by_group}, {marked} rows replayed")
        return marked


def quiet_kafka_logs() -> None:
    """The echo's consumer reconnecting around the broker restart would fill the output (the services' create()
    configures logging again, hence called after it)."""
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


# --- the run ---------------------------------------------------------------------------------------------------


async def drive(config: ChaosConfig, platform: ReplicatedPlatform, databases: dict[str, str],
                province: ProvinceProcess | None = None) -> dict[str, Any]:
    county = build_county(config)
    report: dict[str, Any] = {"config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}}
    controller = Controller(config, platform, databases, province)
    echo = Echo(platform.kafka_bootstrap, config.duplicate_share, config.seed)
    async with Api(platform.endpoints(), concurrency=24, replicas={
            platform.endpoints().voucher: platform.replica_urls()["voucher-service"],
            platform.endpoints().training: platform.replica_urls()["training-service"],
            platform.endpoints().certification: platform.replica_urls()["certification-service"],
            platform.endpoints().subsidy: platform.replica_urls()["subsidy-service"]}) as api:
        driver = LoopDriver(api, deadline_s=300, bulk=True)
        controller.driver = driver
        await driver.setup(county)
        started = time.monotonic()
        controller.started = started
        done = asyncio.Event()
        echo.start()
        chaos = asyncio.create_task(controller.run(done))
        watching = asyncio.create_task(controller.watch_province(done))
        gate = asyncio.Semaphore(config.parallel_classes)
        finished = 0

        async def one(plan: ClassPlan) -> None:
            """Progress counts half a class when it is trained, the other half when it is certified."""
            nonlocal finished
            async with gate:
                await driver.train_class(plan)
                finished += 1
                controller.progress = finished / (2 * len(county.classes))
                await driver.evaluate_and_certify(plan, county.evaluation_institution)
                finished += 1
                controller.progress = finished / (2 * len(county.classes))

        try:
            await asyncio.gather(*(one(p) for p in county.classes))
            driven = time.monotonic() - started
            done.set()
            await chaos  # the actions still due run now (progress 100 %)
            expected = expected_payable(county)
            claims = await wait_payable(driver, expected, config.deadline_s, controller)
            settled = time.monotonic() - started
        finally:
            done.set()
            for task in (chaos, watching):
                task.cancel()
            await asyncio.gather(chaos, watching, return_exceptions=True)
            await controller.stop()
            await echo.stop()
        # A kill the cancelled controller had not yet followed by its restart leaves that process down: start it
        # (CI saw the subsidy primary's port refused right after the run).
        for service in platform.services:
            if platform.processes[service.name].poll() is not None:
                platform.start_service(service)
                controller.note("restart", service.name, "killed as the run ended, before its restart")
        await asyncio.to_thread(platform.wait_healthy, 180)
        await driver.wait_quiet(platform.endpoints().subsidy, 2.0)
        first, marked, last = await reconcile_and_heal(databases, grace_seconds=0, wait_seconds=180,
                                                       runtimes=controller.runtimes)
        if marked:  # what the heal applied may change claims: read them again
            await driver.wait_quiet(platform.endpoints().subsidy, 2.0)
        claims = {driver.claim_key(c): c for c in await driver.all_claims()}
        report.update(
            chains=config.chains, classes=len(county.classes), driven_s=round(driven, 1), settled_s=round(settled, 1),
            chains_per_s=round(config.chains / settled, 1),
            requests=api.requests, retried=api.retried, server_errors=api.server_errors,
            echoed=echo.echoed, echo_seen=echo.seen, replayed=controller.replayed, healed=controller.healed,
            faults=[asdict(f) for f in controller.faults],
            reconcile_before=first.as_dict(), reconcile_marked=marked, reconcile_after=last.as_dict(),
        )
    report["checks"] = await check(county, expected, claims, databases, platform, config, controller.runtimes)
    return report


async def wait_payable(driver: LoopDriver, expected: dict[str, tuple[Decimal, str]], deadline_s: float,
                       controller: Controller, stalled_s: float = 20.0) -> dict[str, dict[str, Any]]:
    """Until every expected claim is payable. When nothing moved for `stalled_s`, the operator's reconciliation
    runs (and is reported): what the faults lost is replayed from the outboxes."""
    deadline = time.monotonic() + deadline_s
    last_missing, since = -1, time.monotonic()
    while True:
        claims = {driver.claim_key(c): c for c in await driver.all_claims()}
        missing = [k for k in expected if k not in claims or claims[k]["state"] not in PAYABLE]
        if not missing:
            return claims
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} claims not payable after {deadline_s} s, e.g. "
                               f"{[(k, claims[k]['state'] if k in claims else 'absent') for k in missing[:5]]}")
        if len(missing) != last_missing:
            last_missing, since = len(missing), time.monotonic()
        elif time.monotonic() - since > stalled_s:
            await controller.heal(f"{len(missing)} claims stalled for {stalled_s:.0f} s")
            since = time.monotonic()
        await asyncio.sleep(1.0)


async def check(county: County, expected: dict[str, tuple[Decimal, str]], claims: dict[str, dict[str, Any]],
                databases: dict[str, str], platform: ReplicatedPlatform, config: ChaosConfig,
                runtimes: dict[str, Any]) -> dict[str, Any]:
    """Every check's failures (empty lists when all is well) and the counts behind them."""
    payable = {k: c for k, c in claims.items() if c["state"] in PAYABLE}
    wrong_amount = [(k, c["amount"], str(expected[k][0])) for k, c in payable.items()
                    if k in expected and Decimal(c["amount"]) != expected[k][0]]
    wrong_payee = [(k, c["payee_id"], expected[k][1]) for k, c in payable.items()
                   if k in expected and c["payee_id"] != expected[k][1]]
    unexpected = sorted(k for k in payable if k not in expected)  # ineligible, yet payable
    missing = sorted(k for k in expected if k not in payable)
    failed_ids = {t.voucher_id for t in county.trainees if not t.exam_passed}
    failed_payable = sorted(k for k, c in payable.items() if c.get("voucher_id") in failed_ids)
    # exactly one claim per subsidy and subject, straight from the subsidy database
    engine = make_engine(databases["subsidy-service"])
    try:
        async with engine.connect() as conn:
            doubles = (await conn.execute(text(
                "SELECT claim_type, subject_id, part, count(*) FROM claims GROUP BY claim_type, subject_id, part"
                " HAVING count(*) > 1"))).all()
            per_voucher = (await conn.execute(text(
                "SELECT claim_type, voucher_id, count(*) FROM claims WHERE claim_type <> 'evaluation'"
                " GROUP BY claim_type, voucher_id HAVING count(*) > 1"))).all()
            totals_db = {r.payee_id: Decimal(r.total) for r in (await conn.execute(text(
                "SELECT payee_id, sum(amount) AS total FROM claims WHERE state = ANY(:states) GROUP BY payee_id"),
                {"states": sorted(PAYABLE)})).all()}
    finally:
        await engine.dispose()
    # three ways, to the fen: the plan, the producers' databases (bench/chaos_recompute.py), the subsidy's claims
    produced = await payable_from_databases(databases)
    totals_plan, totals_produced = totals_per_payee(expected), totals_per_payee(produced)
    totals_diff = {p: (str(totals_db.get(p)), str(totals_plan.get(p))) for p in set(totals_db) | set(totals_plan)
                   if totals_db.get(p) != totals_plan.get(p)}
    produced_diff = {p: (str(totals_produced.get(p)), str(totals_plan.get(p)), str(totals_db.get(p)))
                     for p in set(totals_produced) | set(totals_plan) | set(totals_db)
                     if not totals_produced.get(p) == totals_plan.get(p) == totals_db.get(p)}
    dead_letters = await dead_letter_counts(platform.kafka_bootstrap, runtimes)
    logged = logged_dead_letters(config.log_dir)
    return {
        "payable_claims": len(payable), "expected_payable": len(expected),
        "payable_total": str(sum((Decimal(c["amount"]) for c in payable.values()), Decimal("0"))),
        "plan_total": str(sum((a for a, _ in expected.values()), Decimal("0"))),
        "databases_payable": len(produced),
        "databases_total": str(sum((a for a, _ in produced.values()), Decimal("0"))),
        "payees": len(totals_plan),
        "failures": {
            "missing": missing[:20], "wrong_amount": wrong_amount[:20], "wrong_payee": wrong_payee[:20],
            "ineligible_payable": unexpected[:20], "failed_evaluation_payable": failed_payable[:20],
            "duplicate_claims": [tuple(map(str, r)) for r in doubles][:20],
            "several_claims_per_voucher": [tuple(map(str, r)) for r in per_voucher][:20],
            "totals_per_payee": dict(list(totals_diff.items())[:20]),  # (subsidy, plan)
            # (producers' databases, plan, subsidy) wherever the three differ
            "totals_per_payee_from_databases": dict(list(produced_diff.items())[:20]),
            "dead_letter_records": {k: v for k, v in dead_letters.items() if v},
            "dead_letters_logged": logged[:20],
        },
    }


async def dead_letter_counts(bootstrap: str, runtimes: dict[str, Any]) -> dict[str, int]:
    topics = [dead_letter_topic(spec.name) for runtime in runtimes.values() for spec in runtime.consumer_specs]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        counts = {}
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()  # type: ignore[attr-defined]
                partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in partitions]
            if not tps:
                counts[topic] = 0
                continue
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            counts[topic] = sum(ends[tp] - starts[tp] for tp in tps)
        return counts
    finally:
        await consumer.stop()


def logged_dead_letters(log_dir: Path | None) -> list[str]:
    if log_dir is None:
        return []
    return [f"{path.name}: {line.strip()[:200]}" for path in sorted(log_dir.glob("*.log"))
            for line in path.read_text(errors="replace").splitlines() if "dead-lettered" in line]


def failures(report: dict[str, Any]) -> dict[str, Any]:
    """The checks that failed (empty when the run proved what it should)."""
    out = {k: v for k, v in report["checks"]["failures"].items() if v}
    if not report["reconcile_after"]["ok"]:
        out["reconcile_after"] = report["reconcile_after"]
    return out


async def run(config: ChaosConfig, database_urls: dict[str, str]) -> dict[str, Any]:
    platform = ReplicatedPlatform(database_urls, config.replicas, config.log_dir)
    province: ProvinceProcess | None = None
    try:
        await asyncio.to_thread(platform.start)
        province = ProvinceProcess(platform.kafka_bootstrap, 0.0, f"chaos-{config.seed}",
                                     (config.log_dir / "province-simulator.log") if config.log_dir else None)
        province.start()
        return await drive(config, platform, database_urls, province)
    except BaseException:
        traceback.print_exc()
        raise
    finally:
        if province is not None:
            province.stop()
        await asyncio.to_thread(platform.stop)


def render(report: dict[str, Any]) -> str:
    r = report
    lines = [f"seed {r['config']['seed']}: {r['chains']} chains in {r['classes']} classes, "
             f"{r['config']['replicas']} replicas per service; driven in {r['driven_s']} s, all payable after "
             f"{r['settled_s']} s ({r['chains_per_s']} chains/s)",
             f"  requests {r['requests']} (retried {r['retried']}, 5xx {r['server_errors']}); deliveries duplicated "
             f"{r['echoed']} of {r['echo_seen']}; rows replayed after the broker restart {r['replayed']}, "
             f"by the reconciliation while running {r['healed']}",
             "  faults:"]
    for f in r["faults"]:
        lines.append(f"    t={f['at_s']:7.2f}s at {100 * f['progress']:5.1f}%  {f['action']:<15} {f['target']:<26} "
                     f"{f['detail']}")
    c = r["checks"]
    lines.append(f"  payable claims {c['payable_claims']} (plan: {c['expected_payable']}, producers' databases: "
                 f"{c['databases_payable']}), total {c['payable_total']} (plan: {c['plan_total']}, databases: "
                 f"{c['databases_total']}) over {c['payees']} payees")
    before, after = r["reconcile_before"], r["reconcile_after"]
    lines.append(f"  reconciliation: {before['gaps']} gaps found, {r['reconcile_marked']} rows replayed, "
                 f"{after['gaps']} left; " + ", ".join(f"{g['group']} {g['applied']}/{g['expected']}"
                                                       for g in after["groups"]))
    failed = failures(r)
    lines.append("  RESULT: " + ("every check passed" if not failed else f"FAILED {json.dumps(failed, default=str)[:2000]}"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Whole-loop chaos run (issue 18)")
    parser.add_argument("--chains", type=int, default=600)
    parser.add_argument("--class-size", type=int, default=20)
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--parallel-classes", type=int, default=4)
    parser.add_argument("--kills-per-process", type=int, default=1)
    parser.add_argument("--duplicate-share", type=float, default=0.05)
    parser.add_argument("--deadline", type=float, default=900.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep-logs", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the echo's reconnects around the broker restart

    async def one(seed: int) -> dict[str, Any]:
        from bench.common import create_database, drop_database

        log_dir = args.keep_logs / f"seed-{seed}" if args.keep_logs else Path(tempfile.mkdtemp(prefix="chaos-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        config = ChaosConfig(chains=args.chains, class_size=args.class_size, seed=seed, replicas=args.replicas,
                             parallel_classes=args.parallel_classes, kills_per_process=args.kills_per_process,
                             duplicate_share=args.duplicate_share, deadline_s=args.deadline, log_dir=log_dir)
        dbs = {s.name: await create_database(f"chaos_{s.package.split('_')[0]}") for s in SERVICES}
        try:
            return await run(config, {name: db.sqlalchemy_url for name, db in dbs.items()})
        finally:
            for db in dbs.values():
                await drop_database(db)
            if not args.keep_logs:
                shutil.rmtree(log_dir, ignore_errors=True)

    reports = []
    for seed in args.seed or [1]:
        report = asyncio.run(one(seed))
        print(render(report), flush=True)
        reports.append(report)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, default=str))
    sys.exit(1 if any(failures(r) for r in reports) else 0)


if __name__ == "__main__":
    main()
