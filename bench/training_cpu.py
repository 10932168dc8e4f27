"""In-process CPU and SQL statements of the training service per class, phase by phase, as the pipeline drives it
(not a test).

    SKILLS_TEST_DATABASE=postgres .venv/bin/python -m bench.training_cpu [-n 20] [--classes 10] [--profile PHASE]

Per class of N trainees, the pipeline's order: open the class; the bulk enrolment file sent before any voucher is
known (all rows `voucher_unknown`), twice; half of the `voucher.issued` events (one consumer batch); the file
again (half enrolled), once more with the rest still unknown; the other half issued; the last attempt (six
attempts, as the pipeline averages); nine `GET /v1/classes/{id}` polls; `voucher.bound` ×N (one batch); bulk
check-ins (N × 5 days), bulk completions, the class outcome; the province's answers to every submission (the
class record; the trainee sheet, the 5 attendance sheets and the completion sheet, trainee and completion sheets
answered with a verdict per line, as the province simulator does) as one consumer batch. The app runs in this process behind httpx's
ASGI transport, so the CPU (time.process_time) is the service's plus the client's; PostgreSQL's is not in it.
Statements are counted on the engine. Envelopes are built before the clock starts (parsing is the kit's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import uuid
from datetime import datetime, time, timedelta

from sqlalchemy import select

from bench.common import PhaseMeter
from skillkit.contracts.province import RealnameSubmitted
from skillkit.contracts.voucher import VoucherBound, VoucherIssued
from skillkit.county import COUNTY_TZ
from skillkit.db import utcnow
from skillkit.events import build_event, parse_event
from skillkit.testing.harness import running_service
from skillkit.testing.infra import create_pg_database, drop_pg_database

from training_service.adapters.catalogue import import_occupations
from training_service.adapters.models import kit_tables
from training_service.config import TrainingSettings
from training_service.consumers import PROVINCE_CONSUMER, VOUCHER_CONSUMER
from training_service.main import create
from training_service.province_simulator import answer

from tests.training.support import World, at_local, pk_of, resident_id, today, voucher_code

NAMES = ["张三", "李四", "王五", "赵六", "孙七", "周八", "吴九", "郑十"]
DAYS = 5


def envelope(payload, key: str):
    _, _, body = build_event(payload, source="/bench", partition_key=key)
    return parse_event(body)


def csv_file(name: str, header: str, rows: list[str]) -> dict:
    return {"file": (name, (header + "\n" + "".join(r + "\n" for r in rows)).encode(), "text/csv")}


async def one_class(ts, w: World, serial: int, n: int, meter: PhaseMeter) -> None:
    numbers = [resident_id(seq=i + 1, birth=(today() - timedelta(days=7000 + serial)).strftime("%Y%m%d"))
               for i in range(n)]
    vouchers = [{"voucher_id": str(uuid.uuid4()), "code": voucher_code(), "person_key": pk_of(x)} for x in numbers]
    now = utcnow()
    issued = [envelope(VoucherIssued(
        voucher_id=v["voucher_id"], code=v["code"], worker_id=str(uuid.uuid4()), person_key=v["person_key"],
        kind="inclusive", policy_year=now.year, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=90),
        channel="roster", categories=["rural_migrant"], living_allowance_eligible=False, issued_by="acct-1",
    ), v["person_key"]) for v in vouchers]
    state: dict = {}
    base = ""

    async def open_class() -> None:
        nonlocal base
        start = today()  # no back-dated training: the class starts today, its days are recorded on its last day
        c = await w.open_class(start_date=start.isoformat(), end_date=(start + timedelta(days=DAYS + 1)).isoformat(),
                               planned_days=DAYS, capacity=n)
        state["class"] = c
        base = f"/v1/classes/{c['id']}"

    async def attempt(which: list[int], applied: int) -> None:
        rows = [f"{vouchers[i]['code']},{NAMES[i % 8]},{numbers[i]}" for i in which]
        r = await ts.client.post(f"{base}/enrolments/bulk", files=csv_file("报名.csv", "券码,姓名,身份证号", rows),
                                 headers=w.org)
        assert r.status_code == 201 and r.json()["applied"] == applied, r.text
        for e in r.json()["enrolments"]:
            state.setdefault("enrolments", {})[e["voucher_id"]] = e["id"]

    half = n // 2

    async def unknown_attempts() -> None:
        await attempt(list(range(n)), 0)
        await attempt(list(range(n)), 0)

    async def enrol_attempts() -> None:
        await attempt(list(range(n)), half)
        await attempt(list(range(half, n)), 0)

    async def last_attempt() -> None:
        await attempt(list(range(half, n)), n - half)

    async def issue(part: slice):
        async def work() -> None:
            assert await ts.runtime.processors[VOUCHER_CONSUMER].apply_batch(issued[part]) == len(issued[part])
        return work

    async def polls() -> None:
        for _ in range(9):
            r = await ts.client.get(base, headers=w.org)
            assert r.status_code == 200 and sum(r.json()["enrolment_counts"].values()) == n, r.text

    bound: list = []

    async def bind() -> None:
        assert await ts.runtime.processors[VOUCHER_CONSUMER].apply_batch(bound) == n

    async def check_ins() -> None:
        start = today()
        rows = [f"{state['enrolments'][v['voucher_id']]},face,{at_local(start + timedelta(days=d))}"
                for v in vouchers for d in range(DAYS)]
        r = await ts.client.post(f"{base}/check-ins/bulk", files=csv_file("签到.csv", "enrolment_id,method,checked_at", rows),
                                 headers=w.org)
        assert r.status_code in (200, 201) and r.json()["applied"] == n * DAYS, r.text

    async def completions() -> None:
        rows = [f"{state['enrolments'][v['voucher_id']]},是,85,88" for v in vouchers]
        r = await ts.client.post(f"{base}/completions/bulk",
                                 files=csv_file("结业.csv", "enrolment_id,passed,theory_score,practical_score", rows),
                                 headers=w.org)
        assert r.status_code in (200, 201) and r.json()["applied"] == n, r.text

    async def outcome() -> None:
        r = await ts.client.post(f"{base}/outcome", headers=w.org)
        assert r.status_code in (200, 201), r.text

    answers: list = []

    async def answer() -> None:
        assert await ts.runtime.processors[PROVINCE_CONSUMER].apply_batch(answers) == len(answers)

    await meter.phase("open class", open_class)
    await meter.phase("enrol, all unknown ×2", unknown_attempts)
    await meter.phase("voucher.issued ×N/2", await issue(slice(0, half)))
    await meter.phase("enrol, half known ×2", enrol_attempts)
    await meter.phase("voucher.issued ×N/2", await issue(slice(half, n)))
    await meter.phase("enrol, last attempt", last_attempt)
    await meter.phase("GET class ×9", polls)
    bound.extend(envelope(VoucherBound(
        voucher_id=v["voucher_id"], person_key=v["person_key"], enrolment_id=state["enrolments"][v["voucher_id"]],
        class_id=state["class"]["id"], institution_id=w.institution_id, bound_at=utcnow()), v["person_key"])
        for v in vouchers)
    await meter.phase("voucher.bound ×N", bind)
    # the class's days are recorded on its last evening: the (test settings') clock is moved there, then back
    ts.app.state.clock.move_to(datetime.combine(today() + timedelta(days=DAYS), time(18), COUNTY_TZ))
    try:
        await meter.phase("check-ins bulk", check_ins)
        await meter.phase("completions bulk", completions)
    finally:
        ts.app.state.clock.reset()
    await meter.phase("outcome", outcome)
    answers.extend(await _answers(ts, state["class"]["id"]))
    await meter.phase("province answers", answer)


async def _answers(ts, class_id: str) -> list:
    async with ts.sessionmaker() as session:
        bodies = (await session.scalars(select(kit_tables.outbox.c.body).where(
            kit_tables.outbox.c.event_type == "province.realname.submitted.v1"))).all()
    out = []
    for body in bodies:
        data = json.loads(body)["data"]
        if data["class_id"] != class_id:
            continue
        # as the province simulator answers (every line accepted): a sheet once, with a verdict per line
        out.append(envelope(answer(RealnameSubmitted.model_validate(data), 0.0, "bench"), class_id))
    return out


async def main(n: int, classes: int, warmup: int, profile: str | None) -> None:
    url = await create_pg_database("cpu")
    try:
        settings = TrainingSettings(environment="test", database_url=url, run_relay=False, run_consumers=False,
                                    movable_clock=True)
        async with running_service(create, settings, "training_service.migrations") as ts:
            async with ts.sessionmaker() as session:
                await import_occupations(session)
                await session.commit()
            meter = PhaseMeter(ts.runtime.engine, profile)
            w = await World(ts).setup()
            for serial in range(warmup):
                meter.run = serial
                await one_class(ts, w, serial, n, meter)
            meter.reset()
            for serial in range(warmup, warmup + classes):
                meter.run = serial
                await one_class(ts, w, serial, n, meter)
    finally:
        await drop_pg_database(url)
    # medians per class: the machine is shared, a mean takes every stall of a neighbour in
    print(f"{n} trainees per class, median of {classes} classes after {warmup} warm-up (statements: mean)")
    print(f"{'phase':<24}{'CPU ms':>9}{'statements':>12}")
    for name, runs in meter.cpu.items():
        print(f"{name:<24}{statistics.median(runs.values()) * 1000:>9.1f}{meter.counts[name] / classes:>12.1f}")
    per_class = [sum(runs[serial] for runs in meter.cpu.values()) for serial in range(warmup, warmup + classes)]
    cpu = statistics.median(per_class) * 1000
    print(f"{'total per class':<24}{cpu:>9.1f}{sum(meter.counts.values()) / classes:>12.1f}")
    print(f"{'per chain':<24}{cpu / n:>9.1f}")
    meter.print_profile("cumulative")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--profile")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.classes, args.warmup, args.profile))
