"""Subsidy consumer cost on PostgreSQL: complete chains' events fed straight into the EventProcessor, one per
transaction and in partition batches, against a baseline in the same run (the kit's inbox alone, with a
handler that does nothing). `python -m bench.subsidy_consumer --chains 200`

The event mix follows the pipeline's contracts: per class (20 trainees, `--days` days) the class filing, the
province's answer on the class record, ONE attendance answer per class and day (no enrolment, no person:
the subsidy service ignores it), and the province's answers to the class's trainee sheet and completion sheet
(P1: one answer per sheet with a verdict per line, each line a realname fact of its trainee); per trainee
registration, voucher, enrolment, binding, training.started (not consumed), completion and the certificate.
(`--single-answers`: the trainee and completion records answered one by one, as before the sheets.)

`--mixed` (what the pipeline produces, measured by default): the classes' event streams run 8 classes at a
time, interleaved in random runs of 1–10 events (a busy topic mixes every type of many persons and classes),
and are cut into polls of 20–200 records (the kit applies a whole poll in one transaction); a trainee is
re-evaluated in several consecutive polls as the chain fills up. Seeded, so before/after see the same polls.

The stable figures are CPU per event and per chain of this process (time.process_time) and SQL statements per
event; events/s is wall time on a shared machine and only indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import event, select

from skillkit.consumer import EventProcessor
from skillkit.contracts.province import RealnameAnswered
from skillkit.contracts.training import TrainingStarted
from skillkit.testing.harness import running_service
from skillkit.testing.infra import create_pg_database, drop_pg_database
from subsidy_service.adapters import fact_store
from subsidy_service.adapters.models import Claim, kit_tables
from subsidy_service.config import SubsidySettings
from subsidy_service.consumers import CONSUMER_GROUP
from subsidy_service.main import create

from tests.subsidy.builders import Clock, chain, envelope, fact, line, registered, sheet_answer

CLASS_SIZE = 20
PARALLEL_CLASSES = 8  # as bench/pipeline.py runs them


SHEETS = True  # P1: trainee and completion records answered per class sheet (False: --single-answers)


def chain_events(chains: int, prefix: str, days: int) -> list:
    return [e for klass in class_streams(chains, prefix, days) for e in klass]


def mixed_polls(chains: int, prefix: str, days: int, seed: int = 7) -> list[list]:
    """The classes' streams, PARALLEL_CLASSES at a time, interleaved in random runs of 1–10 events (each
    class's own order kept), cut into polls of 20–200 records."""
    rng = random.Random(seed)
    waiting = class_streams(chains, prefix, days)
    running: list[list] = []
    merged = []
    while waiting or running:
        while waiting and len(running) < PARALLEL_CLASSES:
            running.append(waiting.pop(0))
        stream = rng.choice(running)
        run = rng.randint(1, 10)
        merged += stream[:run]
        del stream[:run]
        if not stream:
            running.remove(stream)
    polls = []
    while merged:
        size = round(20 * 10 ** rng.random())  # log-uniform: small polls (a consumer keeping up) are frequent
        polls.append(merged[:size])
        del merged[:size]
    return polls


def class_streams(chains: int, prefix: str, days: int) -> list[list]:
    """Per class, in the order the phases happen: filing and enrolments, province answers, attendance,
    completions and certificates (so a batch mixes many persons, as a busy partition would)."""
    classes = []
    clock = Clock()
    for first in range(0, chains, CLASS_SIZE):
        klass = f"{prefix}-C{first // CLASS_SIZE}"
        people = range(first, min(first + CLASS_SIZE, chains))
        facts = {n: chain(person=f"{prefix}-P{n}", voucher=f"{prefix}-V{n}", enrolment=f"{prefix}-E{n}",
                          klass=klass, institution="I1", days=days, certificate=f"{prefix}-CERT{n}", clock=clock,
                          realname=None, confirmed=False)
                 for n in people}
        # chain(realname=None, confirmed=False): issued, class.opened, enrolled, bound, completed, certificate (an
        # inclusive class rests on no category review, issue 13: the mix measured before it stays comparable)
        opening, enrolling, started, completions, certificates = [], [], [], [], []
        trainee_answers, completion_answers = [], []
        for n, (issued, opened, enrolled, bound, completed, cert) in facts.items():
            person = f"{prefix}-P{n}"
            opening = [opened]
            enrolling += [registered(person, f"acct-{prefix}-{n}", clock), issued, enrolled, bound]
            started.append(fact(TrainingStarted(
                enrolment_id=enrolled.key, voucher_id=issued.key, class_id=klass, person_key=person,
                first_day=date(2023, 6, 1), checked_at=datetime(2023, 6, 1, 1, tzinfo=timezone.utc)), clock))
            completions.append(completed)
            certificates.append(cert)
            if not SHEETS:
                trainee_answers.append(_answer(f"S-{enrolled.key}", "trainee", klass, clock,
                                               enrolment=enrolled.key, person=person))
                completion_answers.append(_answer(f"S-done-{enrolled.key}", "completion", klass, clock,
                                                  enrolment=enrolled.key, person=person))
        if SHEETS:  # P1: the class's trainee sheet and completion sheet, each answered once, a verdict per line
            lines = [line(f"{prefix}-E{n}", f"{prefix}-P{n}") for n in people]
            trainee_answers = [sheet_answer(f"S-trainees-{klass}", "trainee", klass, lines, clock)]
            completion_answers = [sheet_answer(f"S-done-{klass}", "completion", klass, lines, clock)]
        class_answer = [_answer(f"S-class-{klass}", "class", klass, clock)]
        attendance = [_answer(f"S-att-{klass}-{d}", "attendance", klass, clock) for d in range(days)]
        # in the order the phases happen (single answers: each trainee's right after its own record, as before)
        answers = trainee_answers + started if SHEETS else [e for pair in zip(trainee_answers, started) for e in pair]
        completing = (completions + completion_answers + certificates if SHEETS else
                      [e for triple in zip(completions, completion_answers, certificates) for e in triple])
        classes.append([envelope(f) for f in opening + enrolling + class_answer + answers + attendance + completing])
    return classes


def _answer(submission: str, record_type: str, klass: str, clock: Clock, *, enrolment: str | None = None,
            person: str | None = None):
    return fact(RealnameAnswered(submission_id=submission, record_type=record_type, class_id=klass,
                                 enrolment_id=enrolment, person_key=person, verdict="accepted"), clock)


@dataclass
class Run:
    label: str
    events: int
    consumed: int
    wall: float
    cpu: float
    statements: int
    reevaluated: int  # persons re-evaluated (a person once per batch that changes one of its facts)


class Statements:
    """Counts the SQL statements the engine executes (an executemany counts once) and the persons re-evaluated
    (the keys each re-evaluation reads the facts of): two figures the shared machine's noise does not move."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.persons = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)
        person_facts = fact_store.person_facts

        async def counted(conn, person_keys):
            self.persons += len(person_keys)
            return await person_facts(conn, person_keys)

        fact_store.person_facts = counted  # reevaluation calls it through the module

    def _seen(self, *args) -> None:
        self.count += 1


async def timed(label: str, processor: EventProcessor, events: list, batch: int, statements: Statements) -> Run:
    return await timed_polls(label, processor, [events[s : s + batch] for s in range(0, len(events), batch)],
                             statements)


async def timed_polls(label: str, processor: EventProcessor, polls: list[list], statements: Statements) -> Run:
    events = [e for poll in polls for e in poll]
    consumed = sum(1 for e in events if e.type in processor.handlers)
    before_statements, before_persons = statements.count, statements.persons
    started, cpu_started = time.perf_counter(), time.process_time()
    for poll in polls:
        await processor.apply_batch(poll)
    run = Run(label, len(events), consumed, time.perf_counter() - started, time.process_time() - cpu_started,
              statements.count - before_statements, statements.persons - before_persons)
    print(f"  {label:<40} {run.cpu / run.consumed * 1000:6.2f} ms CPU/event {run.statements / run.consumed:6.2f} "
          f"statements/event {run.consumed / run.wall:6.0f} events/s (wall)")
    return run


async def main(chains: int, batch: int, days: int, mixed_only: bool) -> None:
    url = await create_pg_database("benchsubsidy")
    try:
        settings = SubsidySettings(environment="test", database_url=url, run_relay=False, run_consumers=False,
                                   run_periodic=False, log_level="WARNING")
        async with running_service(create, settings, "subsidy_service.migrations") as service:
            processor = service.runtime.processors[CONSUMER_GROUP]
            statements = Statements(service.runtime.engine)

            async def nothing(session, envelope) -> None:
                return None

            noop = EventProcessor("bench-noop", {t: nothing for t in processor.handlers}, service.sessionmaker,
                                  kit_tables)
            sample = chain_events(CLASS_SIZE, "x", days)
            polls = mixed_polls(chains, "m", days)
            print(f"subsidy consumer, {chains} chains, {len(sample) / CLASS_SIZE:.2f} events per chain "
                  f"({sum(e.type in processor.handlers for e in sample) / CLASS_SIZE:.2f} consumed), "
                  f"PostgreSQL, one process; mixed: {len(polls)} polls of 20–200")
            base = await timed_polls("baseline: inbox only, mixed polls", noop, mixed_polls(chains, "a", days),
                                     statements)
            mixed = await timed_polls("subsidy: mixed polls", processor, polls, statements)
            runs = {"m": mixed}
            if not mixed_only:
                runs["b"] = await timed("subsidy: one event per transaction", processor,
                                        chain_events(chains, "b", days), 1, statements)
                runs["c"] = await timed("subsidy: batches of 10", processor, chain_events(chains, "c", days), 10,
                                        statements)
                runs["d"] = await timed(f"subsidy: batches of {batch}", processor, chain_events(chains, "d", days),
                                        batch, statements)
            async with service.sessionmaker() as session:
                eligible = Counter(subject[0] for subject in await session.scalars(
                    select(Claim.subject_id).where(Claim.claim_type == "training", Claim.state == "eligible")))
            assert eligible == {prefix: chains for prefix in runs}, f"eligible training claims per run: {eligible}"
            print("  CPU per chain: " + ", ".join(f"{run.label.removeprefix('subsidy: ')} "
                                                   f"{run.cpu / chains * 1000:.1f} ms" for run in runs.values())
                  + f" (baseline inbox only, mixed polls {base.cpu / chains * 1000:.1f} ms)")
            print("  statements / re-evaluated persons per chain: " + ", ".join(
                f"{run.label.removeprefix('subsidy: ')} {run.statements / chains:.2f} / {run.reevaluated / chains:.2f}"
                for run in runs.values()))
    finally:
        await drop_pg_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--mixed-only", action="store_true", help="only the mixed polls (and their baseline)")
    parser.add_argument("--single-answers", action="store_true",
                        help="trainee and completion records answered one by one (the contract before sheets)")
    args = parser.parse_args()
    SHEETS = not args.single_answers
    asyncio.run(main(args.chains, args.batch, args.days, args.mixed_only))
