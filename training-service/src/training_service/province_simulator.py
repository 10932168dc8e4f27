"""A simulator of the province real-name training system (P1), for demos and tests.

    python -m training_service.province_simulator --bootstrap 127.0.0.1:9092 --reject-share 0.1 --seed demo

It consumes `province.realname.outbound.v1` and answers every submission on `province.realname.inbound.v1`.
Trainee records are rejected at the configured share, half with `identity_mismatch` and half with
`trained_elsewhere_this_year`; class, attendance and completion records are accepted. An attendance record is
a class's sheet of one day (its trainees are the sheet's lines): it is answered once, as one record, without an
enrolment or person key. The verdict on a submission depends only on the seed and the submission id, so a run
is reproducible.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from skillkit.bus import ensure_topics
from skillkit.settings import ServiceSettings
from skillkit.contracts.province import RealnameAnswered, RealnameSubmitted
from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, PROVINCE_OUTBOUND_TOPIC
from skillkit.contracts.vocab import RealnameRejection, RealnameVerdict
from skillkit.events import InvalidEvent, build_event, parse_event

log = logging.getLogger("training_service.province_simulator")

SOURCE = "/province/realname-simulator"
REJECTION_DETAIL = {
    RealnameRejection.IDENTITY_MISMATCH: "身份信息与公安人口库不一致",
    RealnameRejection.TRAINED_ELSEWHERE_THIS_YEAR: "该学员本年度已在其他县参加同类补贴培训",
}


def answer(submission: RealnameSubmitted, reject_share: float, seed: str) -> RealnameAnswered:
    """The province's verdict on one submission (for a sheet: on the whole sheet), deterministic in
    (seed, submission id)."""
    digest = hashlib.sha256(f"{seed}:{submission.submission_id}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    common = dict(
        submission_id=submission.submission_id,
        record_type=submission.record_type,
        class_id=submission.class_id,
        enrolment_id=submission.enrolment_id,
        person_key=submission.person_key,
    )
    if submission.record_type == "trainee" and draw < reject_share:
        reason = (RealnameRejection.IDENTITY_MISMATCH if digest[8] % 2 == 0
                  else RealnameRejection.TRAINED_ELSEWHERE_THIS_YEAR)
        return RealnameAnswered(**common, verdict=RealnameVerdict.REJECTED, reason=reason,
                                detail=REJECTION_DETAIL[reason])
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
                for records in batches.values():
                    for record in records:
                        await self._answer(producer, record.value)
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()
            await producer.stop()

    async def _answer(self, producer: AIOKafkaProducer, raw: bytes) -> None:
        try:
            envelope = parse_event(raw)
        except InvalidEvent as exc:
            log.warning("ignoring an invalid outbound record: %s", exc)
            return
        if not isinstance(envelope.payload, RealnameSubmitted):
            return
        verdict = answer(envelope.payload, self.reject_share, self.seed)
        _, _, body = build_event(verdict, source=SOURCE, partition_key=envelope.partition_key,
                                 subject=verdict.submission_id)
        await producer.send_and_wait(PROVINCE_INBOUND_TOPIC, value=body, key=envelope.partition_key.encode())
        self.answered += 1
        lines = len(envelope.payload.attendance or ())
        log.info("answered %s %s%s: %s", verdict.record_type, verdict.submission_id,
                 f" ({lines} lines)" if lines else "", verdict.verdict)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulate the province real-name training system (P1)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--reject-share", type=float, default=0.1, help="share of trainee records rejected (0..1)")
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
