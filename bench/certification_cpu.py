"""In-process CPU and SQL statements of one evaluation of N candidates, phase by phase (not a test).

    SKILLS_TEST_DATABASE=postgres .venv/bin/python -m bench.certification_cpu [--candidates single|upload]

Per evaluation: the consumer applies the N candidates' `worker.registered.v1` as one batch, the
evaluation institution registers the N candidates (N single calls or one upload), uploads the results
and issues the batch's certificates. The app runs in this process behind httpx's ASGI transport, so
the CPU measured (time.process_time) is the service's plus the client's; PostgreSQL's own CPU is not
included. Statements are counted on the engine (every round trip to the database, BEGIN/COMMIT aside).
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import date, timedelta


from bench.common import PhaseMeter
from certification_service.config import CertificationSettings
from certification_service.consumers import CONSUMER_GROUP
from certification_service.main import create
from skillkit.contracts.voucher import WorkerRegistered
from skillkit.testing.harness import running_service
from skillkit.testing.infra import create_pg_database, drop_pg_database

from tests.certification.helpers import envelope, key_of, new_evaluation, new_institution, org, resident_id

NAMES = ["张三", "李四", "王五", "赵六", "孙七", "周八", "吴九", "郑十"]


async def one_evaluation(cs, institution_id: str, serial: int, n: int, mode: str, meter: PhaseMeter) -> None:
    birth = (date(2004, 1, 1) + timedelta(days=serial)).strftime("%Y%m%d")  # new persons in every evaluation
    numbers = [resident_id(birth=birth, seq=f"{i:03d}") for i in range(n)]
    evaluation_id = await new_evaluation(cs, institution_id)
    headers = org(cs, institution_id)
    base = f"/v1/evaluations/{evaluation_id}"

    async def consume() -> None:
        events = [
            envelope(
                WorkerRegistered(worker_id=str(uuid.uuid4()), person_key=key_of(cs, number), account_subject=None,
                                 masked_name="张*", township="临泉镇", categories=["rural_migrant"], on_behalf=True,
                                 registered_by="staff-1"),
                key_of(cs, number),
            )
            for number in numbers
        ]
        assert await cs.runtime.processors[CONSUMER_GROUP].apply_batch(events) == n

    async def candidates() -> None:
        if mode == "single":
            for i, number in enumerate(numbers):
                r = await cs.client.post(f"{base}/candidates", json={"name": NAMES[i % 8], "id_number": number},
                                         headers=headers)
                assert r.status_code == 201, r.text
        else:
            roster = "姓名,身份证号\n" + "".join(f"{NAMES[i % 8]},{x}\n" for i, x in enumerate(numbers))
            r = await cs.client.post(f"{base}/candidates/upload", files={"file": ("c.csv", roster.encode(), "text/csv")},
                                     headers=headers)
            assert r.status_code == 201 and r.json()["applied"] == n, r.text

    async def results() -> None:
        sheet = "身份证号,理论成绩,实操成绩\n" + "".join(f"{x},80,75.5\n" for x in numbers)
        r = await cs.client.post(f"{base}/results/upload", files={"file": ("r.csv", sheet.encode(), "text/csv")},
                                 headers=headers)
        assert r.status_code == 200 and r.json()["applied"] == n, r.text

    async def certificates() -> None:
        r = await cs.client.post(f"{base}/certificates", headers=headers)
        assert r.status_code == 200 and r.json()["issued"] == n, r.text

    await meter.phase("consumer", consume)
    await meter.phase("candidates", candidates)
    await meter.phase("results", results)
    await meter.phase("certificates", certificates)


async def main(mode: str, n: int, evaluations: int, warmup: int, profile: str | None) -> None:
    url = await create_pg_database("cpu")
    try:
        settings = CertificationSettings(environment="test", database_url=url, run_relay=False, run_consumers=False)
        async with running_service(create, settings, "certification_service.migrations") as cs:
            meter = PhaseMeter(cs.runtime.engine, profile)
            institution_id = await new_institution(cs)
            for serial in range(warmup):
                meter.run = serial
                await one_evaluation(cs, institution_id, serial, n, mode, meter)
            meter.reset()
            for serial in range(warmup, warmup + evaluations):
                meter.run = serial
                await one_evaluation(cs, institution_id, serial, n, mode, meter)
    finally:
        await drop_pg_database(url)
    print(f"candidates={mode}, {n} candidates per evaluation, mean of {evaluations} evaluations after {warmup} warm-up")
    print(f"{'phase':<14}{'CPU ms':>9}{'statements':>12}")
    for name, runs in meter.cpu.items():
        print(f"{name:<14}{sum(runs.values()) / evaluations * 1000:>9.1f}{meter.counts[name] / evaluations:>12.1f}")
    cpu = sum(sum(runs.values()) for runs in meter.cpu.values()) / evaluations * 1000
    print(f"{'total':<14}{cpu:>9.1f}{sum(meter.counts.values()) / evaluations:>12.1f}")
    meter.print_profile("tottime")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", choices=("single", "upload"), default="upload")
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--evaluations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--profile", choices=("consumer", "candidates", "results", "certificates"))
    args = parser.parse_args()
    asyncio.run(main(args.candidates, args.n, args.evaluations, args.warmup, args.profile))
