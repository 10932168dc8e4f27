"""A simulator of the province real-name training system (P1), for demos and tests.

    python -m training_service.province_simulator --bootstrap 127.0.0.1:9092 --reject-share 0.1 --seed demo

It consumes `province.realname.outbound.v1` and answers every submission on `province.realname.inbound.v1`.
What the county sends and how it is answered:
- a class record: one record, accepted;
- a trainee sheet (the trainees a class bound together): one answer with a verdict per line. Each trainee line is
  rejected at the configured share, half with `identity_mismatch` and half with `trained_elsewhere_this_year`
  (the reason's Chinese text in `detail`); the draw depends only on the seed and the line's person key (the
  province judges a person, not an enrolment), so a trainee gets the same verdict whichever sheet or class it is
  on, and a run over the same workers (`make demo`) is reproducible;
- a completion sheet (the completions recorded together): one answer, a verdict per line, every line accepted;
- an attendance sheet (a class's sign-in sheet of one day): one answer as one record, without lines, accepted.
A sheet's own verdict is accepted when every line is; otherwise rejected, its detail saying how many lines were.
Sheet answers carry no enrolment id or person key of their own: those are on the lines. A trainee or completion
record sent alone (before sheets) is answered as one record, a trainee drawn on (seed, submission id).
Each poll's answers are sent together and awaited together before the poll is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from skillkit.bus import ensure_topics
from skillkit.settings import ServiceSettings
from skillkit.contracts.province import LineVerdict, RealnameAnswered, RealnameSubmitted
from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, PROVINCE_OUTBOUND_TOPIC
from skillkit.contracts.vocab import RealnameRejection, RealnameVerdict
from skillkit.events import InvalidEvent, build_event, parse_event

log = logging.getLogger("training_service.province_simulator")

SOURCE = "/province/realname-simulator"
REJECTION_DETAIL = {
    RealnameRejection.IDENTITY_MISMATCH: "身份信息与公安人口库不一致",
    RealnameRejection.TRAINED_ELSEWHERE_THIS_YEAR: "该学员本年度已在其他县参加同类补贴培训",
}


def _draw(seed: str, key: str) -> tuple[float, bytes]:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, digest


def _trainee_verdict(seed: str, key: str, reject_share: float) -> dict:
    """A trainee's verdict, deterministic in (seed, key)."""
    draw, digest = _draw(seed, key)
    if draw >= reject_share:
        return dict(verdict=RealnameVerdict.ACCEPTED)
    reason = RealnameRejection.IDENTITY_MISMATCH if digest[8] % 2 == 0 else RealnameRejection.TRAINED_ELSEWHERE_THIS_YEAR
    return dict(verdict=RealnameVerdict.REJECTED, reason=reason, detail=REJECTION_DETAIL[reason])


def answer(submission: RealnameSubmitted, reject_share: float, seed: str) -> RealnameAnswered:
    """The province's answer to one submission: a trainee or completion sheet gets a verdict per line (trainee
    lines drawn on (seed, person key)); anything else one verdict (a trainee record sent alone drawn on
    (seed, submission id))."""
    common = dict(submission_id=submission.submission_id, record_type=submission.record_type,
                  class_id=submission.class_id)
    sheet = submission.trainees if submission.trainees is not None else submission.completions
    if sheet is not None:
        trainees = submission.trainees is not None
        lines = [LineVerdict(enrolment_id=line.enrolment_id, person_key=line.person_key,
                             **(_trainee_verdict(seed, line.person_key, reject_share) if trainees
                                else dict(verdict=RealnameVerdict.ACCEPTED)))
                 for line in sheet]
        rejected = sum(line.verdict == RealnameVerdict.REJECTED for line in lines)
        if rejected:
            return RealnameAnswered(**common, verdict=RealnameVerdict.REJECTED, lines=lines,
                                    detail=f"共 {len(lines)} 条，驳回 {rejected} 条")
        return RealnameAnswered(**common, verdict=RealnameVerdict.ACCEPTED, lines=lines)
    common.update(enrolment_id=submission.enrolment_id, person_key=submission.person_key)
    if submission.record_type == "trainee":
        return RealnameAnswered(**common, **_trainee_verdict(seed, submission.submission_id, reject_share))
    return RealnameAnswered(**common, verdict=RealnameVerdict.ACCEPTED)


class ProvinceSimulator:
    def __init__(self, bootstrap: str, reject_share: float, seed: str = "linxian",
                 group: str = "province-realname-simulator") -> None:
        if not 0.0 <= reject_share <= 1.0:
            raise ValueError("reject share must be between 0 and 1")
        self.bootstrap = bootstrap
        self.reject_share = reject_share
        self.seed = seed
        self.group = group
        self.answered = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        await ensure_topics(self.bootstrap, [PROVINCE_OUTBOUND_TOPIC, PROVINCE_INBOUND_TOPIC], ServiceSettings().kafka_partitions)
        consumer = AIOKafkaConsumer(PROVINCE_OUTBOUND_TOPIC, bootstrap_servers=self.bootstrap, group_id=self.group,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    fetch_max_wait_ms=ServiceSettings().kafka_fetch_max_wait_ms)
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=False)
        await consumer.start()
        await producer.start()
        try:
            while stop is None or not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                # Queue the poll's answers, then await their deliveries together (not one round trip each); the
                # poll is committed only once every answer is delivered, so a crash re-answers, never loses one.
                sent = [delivery for records in batches.values() for record in records
                        if (delivery := await self._answer(producer, record.value)) is not None]
                await asyncio.gather(*sent)
                self.answered += len(sent)
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()
            await producer.stop()

    async def _answer(self, producer: AIOKafkaProducer, raw: bytes) -> asyncio.Future | None:
        """Queues the answer to one outbound record; returns its delivery (None for a record not to answer)."""
        try:
            envelope = parse_event(raw)
        except InvalidEvent as exc:
            log.warning("ignoring an invalid outbound record: %s", exc)
            return None
        if not isinstance(envelope.payload, RealnameSubmitted):
            return None
        verdict = answer(envelope.payload, self.reject_share, self.seed)
        _, _, body = build_event(verdict, source=SOURCE, partition_key=envelope.partition_key,
                                 subject=verdict.submission_id)
        delivery = await producer.send(PROVINCE_INBOUND_TOPIC, value=body, key=envelope.partition_key.encode())
        submission = envelope.payload
        lines = len(submission.attendance or submission.trainees or submission.completions or ())
        log.info("answered %s %s%s: %s", verdict.record_type, verdict.submission_id,
                 f" ({lines} lines)" if lines else "", verdict.verdict)
        return delivery


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulate the province real-name training system (P1)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--reject-share", type=float, default=0.1, help="share of trainee lines rejected (0..1)")
    parser.add_argument("--seed", default="linxian", help="verdicts are deterministic in the seed")
    parser.add_argument("--group", default="province-realname-simulator")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    simulator = ProvinceSimulator(args.bootstrap, args.reject_share, args.seed, args.group)
    try:
        asyncio.run(simulator.run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
