"""A simulator of the province real-name training system (P1), for demos and tests.

    python -m testsupport.province_simulator --bootstrap 127.0.0.1:9092 --reject-share 0.1 --seed demo

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
Before the draw, a trainee line's identity is opened with the province's private key (`--private-key KID=KEY`,
the development key by default) and checked: a line without one, or whose box does not open, is rejected
`missing_field`; an ID number whose check digit (GB 11643, python-stdnum) is wrong, or whose name differs from
the population register the simulator was told (`--register`, a CSV of id_number,name), `identity_mismatch`; an
ID number it was told was trained elsewhere this year (`--trained-elsewhere`, one a line),
`trained_elsewhere_this_year`.
A class record without a valid institution credit code (GB 32100, python-stdnum), venue, teachers or planned
hours is rejected `missing_field`. Each answer names the version it answers; a re-send of a version gets the
same answer again (the verdicts are deterministic).
A sheet's own verdict is accepted when every line is; otherwise rejected, its detail saying how many lines were.
Sheet answers carry no enrolment id or person key of their own: those are on the lines. A trainee or completion
record sent alone (before sheets) is answered as one record, a trainee drawn on (seed, submission id).
Each poll's answers are sent together and awaited together before the poll is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from stdnum.cn import ric, uscc

from skillkit import sealed
from skillkit.bus import ensure_topics
from skillkit.settings import ServiceSettings
from skillkit.contracts.province import (
    LineVerdict,
    RealnameAnswered,
    RealnameNotified,
    RealnameSubmitted,
    TraineeLine,
    identity_aad,
)
from skillkit.contracts.vocab import RealnameNotice
from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, PROVINCE_OUTBOUND_TOPIC, PROVINCE_SOURCE
from skillkit.contracts.vocab import RealnameRejection, RealnameVerdict
from skillkit.events import InvalidEvent, build_event, parse_event
from training_service.config import DEV_PROVINCE_KEY_ID, DEV_PROVINCE_KEY_SEED

log = logging.getLogger("testsupport.province_simulator")

SOURCE = PROVINCE_SOURCE  # the province system's own source: consumers dead-letter any other (issue 16)
REJECTION_DETAIL = {
    RealnameRejection.IDENTITY_MISMATCH: "身份信息与公安人口库不一致",
    RealnameRejection.TRAINED_ELSEWHERE_THIS_YEAR: "该学员本年度已在其他县参加同类补贴培训",
}
CHECK_DIGIT_DETAIL = "身份证号码校验位错误"
NAME_DETAIL = "姓名与公安人口库登记的姓名不一致"
NO_IDENTITY_DETAIL = "缺少加密的身份信息，或无法解密"


@dataclass
class Province:
    """What the simulated province knows: its private keys by key id, the population register (ID number ->
    name) it was told, the verdict draw's seed and share."""

    reject_share: float = 0.0
    seed: str = "linxian"
    keys: dict[str, X25519PrivateKey] = field(
        default_factory=lambda: {DEV_PROVINCE_KEY_ID: sealed.private_key_from_seed(DEV_PROVINCE_KEY_SEED)})
    register: dict[str, str] = field(default_factory=dict)
    # ID numbers the province knows trained elsewhere this year (other counties' records)
    trained_elsewhere: set[str] = field(default_factory=set)


def identity_of(line: TraineeLine, keys: dict[str, X25519PrivateKey]) -> dict | None:
    """The line's identity opened with the province's key; None when absent or it does not open."""
    if line.identity is None:
        return None
    try:
        return json.loads(sealed.open_box(keys, line.identity.model_dump(),
                                          identity_aad(line.enrolment_id, line.person_key)))
    except (sealed.SealedBoxError, ValueError):
        return None


def _identity_verdict(line: TraineeLine, province: Province) -> dict | None:
    """The identity checks of a trainee line: a verdict when it fails, None when it passes."""
    identity = identity_of(line, province.keys)
    if identity is None:
        return dict(verdict=RealnameVerdict.REJECTED, reason=RealnameRejection.MISSING_FIELD, detail=NO_IDENTITY_DETAIL)
    number = str(identity.get("id_number", ""))
    if not ric.is_valid(number):
        return dict(verdict=RealnameVerdict.REJECTED, reason=RealnameRejection.IDENTITY_MISMATCH,
                    detail=CHECK_DIGIT_DETAIL)
    registered = province.register.get(number.upper())
    if registered is not None and registered != identity.get("name"):
        return dict(verdict=RealnameVerdict.REJECTED, reason=RealnameRejection.IDENTITY_MISMATCH, detail=NAME_DETAIL)
    if number.upper() in province.trained_elsewhere:
        reason = RealnameRejection.TRAINED_ELSEWHERE_THIS_YEAR
        return dict(verdict=RealnameVerdict.REJECTED, reason=reason, detail=REJECTION_DETAIL[reason])
    return None


def _class_missing(submission: RealnameSubmitted) -> list[str]:
    """What a class record lacks that the province needs (missing fields, an invalid credit code)."""
    missing = [name for name in ("venue", "teachers", "planned_hours") if not getattr(submission, name)]
    if submission.institution_credit_code is None or not uscc.is_valid(submission.institution_credit_code):
        missing.insert(0, "institution_credit_code")
    return missing


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


def answer(submission: RealnameSubmitted, reject_share: float | Province, seed: str = "linxian") -> RealnameAnswered:
    """The province's answer to one submission (a version of a record): a trainee sheet gets a verdict per line
    (the identity checks, then the draw on (seed, person key)), a completion or certificate sheet a verdict per
    line (accepted); a class record its field checks; anything else one verdict (a trainee record sent alone
    drawn on (seed, submission id)). A line sealed for the province is checked only when the line carries an
    identity or the record is versioned (records from before sealing are drawn as before)."""
    province = reject_share if isinstance(reject_share, Province) else Province(reject_share, seed)
    common = dict(submission_id=submission.submission_id, record_type=submission.record_type,
                  class_id=submission.class_id, version=submission.version or 1)
    sheet = next((lines for lines in (submission.trainees, submission.completions, submission.certificates)
                  if lines is not None), None)
    if sheet is not None:
        trainees = submission.trainees is not None
        lines = [LineVerdict(enrolment_id=line.enrolment_id, person_key=line.person_key,
                             **(_trainee_line_verdict(line, province, submission) if trainees
                                else dict(verdict=RealnameVerdict.ACCEPTED)))
                 for line in sheet]
        rejected = sum(line.verdict == RealnameVerdict.REJECTED for line in lines)
        if rejected:
            return RealnameAnswered(**common, verdict=RealnameVerdict.REJECTED, lines=lines,
                                    detail=f"共 {len(lines)} 条，驳回 {rejected} 条")
        return RealnameAnswered(**common, verdict=RealnameVerdict.ACCEPTED, lines=lines)
    common.update(enrolment_id=submission.enrolment_id, person_key=submission.person_key)
    if submission.record_type == "trainee":
        return RealnameAnswered(**common, **_trainee_verdict(province.seed, submission.submission_id,
                                                             province.reject_share))
    if submission.record_type == "class" and submission.version is not None and (missing := _class_missing(submission)):
        return RealnameAnswered(**common, verdict=RealnameVerdict.REJECTED, reason=RealnameRejection.MISSING_FIELD,
                                detail="缺少或无效：" + "、".join(missing))
    return RealnameAnswered(**common, verdict=RealnameVerdict.ACCEPTED)


def _trainee_line_verdict(line: TraineeLine, province: Province, submission: RealnameSubmitted) -> dict:
    if line.identity is not None or submission.version is not None:
        failed = _identity_verdict(line, province)
        if failed is not None:
            return failed
    return _trainee_verdict(province.seed, line.person_key, province.reject_share)


def notice(notice_kind: RealnameNotice | str, submission: RealnameSubmitted, enrolment_id: str,
           other_county_code: str | None = None, notice_id: str | None = None) -> RealnameNotified:
    """A message of the province's own about one line of a record it answered: the person was found trained
    elsewhere this year after the fact (with the other county), or the record was withdrawn."""
    sheet = submission.trainees or submission.completions or []
    [line] = [line for line in sheet if line.enrolment_id == enrolment_id]
    kind = RealnameNotice(notice_kind)
    elsewhere = kind == RealnameNotice.TRAINED_ELSEWHERE
    return RealnameNotified(
        notice_id=notice_id or str(uuid.uuid4()), notice=kind, submission_id=submission.submission_id,
        version=submission.version or 1, record_type=submission.record_type, class_id=submission.class_id,
        enrolment_id=line.enrolment_id, person_key=line.person_key,
        reason=RealnameRejection.TRAINED_ELSEWHERE_THIS_YEAR if elsewhere else None,
        detail=(f"事后核查：该学员本年度已在 {other_county_code or '其他县'} 参加同类补贴培训" if elsewhere
                else "省平台已撤回该记录，请更正后重新上报"),
        other_county_code=other_county_code if elsewhere else None)


async def send_notice(bootstrap: str, message: RealnameNotified, partition_key: str) -> None:
    """Sends a notice of the province's own on the inbound topic, keyed like the record it is about (the class)."""
    _, _, body = build_event(message, source=SOURCE, partition_key=partition_key, subject=message.submission_id)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(PROVINCE_INBOUND_TOPIC, value=body, key=partition_key.encode())
    finally:
        await producer.stop()


def load_register(path: str | Path) -> dict[str, str]:
    """A population register CSV (id_number,name) -> {normalised ID number: name}."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return {row["id_number"].strip().upper(): row["name"].strip() for row in csv.DictReader(handle)}


class ProvinceSimulator:
    def __init__(self, bootstrap: str, reject_share: float, seed: str = "linxian",
                 group: str = "province-realname-simulator", register: dict[str, str] | None = None,
                 keys: dict[str, X25519PrivateKey] | None = None, trained_elsewhere: set[str] | None = None) -> None:
        if not 0.0 <= reject_share <= 1.0:
            raise ValueError("reject share must be between 0 and 1")
        self.bootstrap = bootstrap
        self.province = Province(reject_share, seed, register=register or {},
                                 trained_elsewhere=trained_elsewhere or set())
        if keys:
            self.province.keys = keys
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
        verdict = answer(envelope.payload, self.province)
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
    parser.add_argument("--register", help="population register CSV (id_number,name): names are checked against it")
    parser.add_argument("--trained-elsewhere", help="a file of ID numbers (one a line) trained elsewhere this year")
    parser.add_argument("--private-key", action="append", default=[], metavar="KID=KEY",
                        help="a private key (X25519, base64url) by key id; default the development key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    keys = {kid: sealed.private_key_from_text(key) for kid, _, key in (k.partition("=") for k in args.private_key)}
    simulator = ProvinceSimulator(args.bootstrap, args.reject_share, args.seed, args.group,
                                  register=load_register(args.register) if args.register else None, keys=keys or None,
                                  trained_elsewhere=({line.strip().upper() for line in Path(args.trained_elsewhere)
                                                      .read_text(encoding="utf-8").splitlines() if line.strip()}
                                                     if args.trained_elsewhere else None))
    try:
        asyncio.run(simulator.run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
