"""P1, the contract as a document: every AsyncAPI example of the province boundary validates against the document's
own schemas, and the province simulator, run as a separate process (`python -m testsupport.province_simulator`)
on its own Tansu broker, answers records built to the contract with answers that validate against the schemas:
versions answered as such, a re-send answered again the same, the identity checked against its register."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema_rs
import pytest

from skillkit import sealed
from skillkit.contracts.province import RealnameSubmitted, TraineeLine, identity_aad
from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC
from skillkit.tansu import TansuBroker
from skillkit.testing.harness import TopicProbe, publish
from training_service.config import TrainingSettings
from testsupport.province_simulator import NAME_DETAIL

from tests.training.support import credit_code, resident_id

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
PROVINCE_MESSAGES = ("province_realname_submitted_v1", "province_realname_answered_v1", "province_realname_notified_v1")


def validator(message: str):
    """The message's CloudEvent schema, its $refs resolved within the document."""
    return jsonschema_rs.validator_for({"components": DOCUMENT["components"],
                                        **DOCUMENT["components"]["messages"][message]["payload"]})


def test_P1_the_asyncapi_document_shows_both_directions_with_examples_that_validate():
    channels = DOCUMENT["channels"]
    assert set(channels["province_realname_outbound_v1"]["messages"]) == {"province_realname_submitted_v1"}
    assert set(channels["province_realname_inbound_v1"]["messages"]) == {
        "province_realname_answered_v1", "province_realname_notified_v1"}
    names = {}
    for message in PROVINCE_MESSAGES:
        check = validator(message)
        examples = DOCUMENT["components"]["messages"][message]["examples"]
        for example in examples:
            check.validate(example["payload"])
        names[message] = [e["name"] for e in examples]
    assert names == {
        "province_realname_submitted_v1": ["class", "trainee_sheet", "trainee_correction", "attendance_sheet",
                                           "completion_sheet", "certificate"],
        "province_realname_answered_v1": ["trainee_sheet_answer", "correction_answer"],
        "province_realname_notified_v1": ["trained_elsewhere", "withdrawn"],
    }
    bad = DOCUMENT["components"]["messages"]["province_realname_submitted_v1"]["examples"][1]["payload"]
    bad = {**bad, "data": {**bad["data"], "version": "two"}}
    assert not validator("province_realname_submitted_v1").is_valid(bad)


def _line(name: str, number: str, enrolment_id: str) -> TraineeLine:
    settings = TrainingSettings()
    person = f"pk-{enrolment_id}"
    box = sealed.seal(settings.province_public_key, settings.province_key_id,
                      json.dumps({"name": name, "id_number": number}, ensure_ascii=False).encode(),
                      identity_aad(enrolment_id, person))
    return TraineeLine(enrolment_id=enrolment_id, person_key=person, identity=box)


def _record(record_type: str, submission_id: str, version: int, **fields) -> RealnameSubmitted:
    return RealnameSubmitted(submission_id=submission_id, version=version, record_type=record_type,
                             county_code="141124", class_id="class-1", policy_year=2026, **fields)


@pytest.mark.broker
async def test_P1_the_simulator_process_answers_records_built_to_the_contract(tmp_path):
    register = tmp_path / "register.csv"
    register.write_text(f"id_number,name\n{resident_id(1)},张三\n{resident_id(2)},李四\n", encoding="utf-8")
    broker = TansuBroker()
    broker.start()
    simulator = subprocess.Popen(
        [sys.executable, "-m", "testsupport.province_simulator", "--bootstrap", broker.bootstrap,
         "--reject-share", "0", "--register", str(register)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sheet = str(uuid.uuid4())
        klass = _record("class", str(uuid.uuid4()), 1, institution_credit_code=credit_code(), venue="实训楼301",
                        teachers=["李老师"], planned_hours=40, standard_hours=40)
        bad_class = _record("class", str(uuid.uuid4()), 1, institution_credit_code="12141124MB00000100",
                            venue="实训楼301", teachers=["李老师"], planned_hours=40)
        v1 = _record("trainee", sheet, 1, trainees=[_line("张三", resident_id(1), "e-1"),
                                                   _line("李叁", resident_id(2), "e-2")])
        v2 = _record("trainee", sheet, 2, trainees=[_line("李四", resident_id(2), "e-2")],
                     correction_note="姓名录入错误")
        for record in (klass, bad_class, v1, v1, v2):  # v1 twice: a re-send after a timeout, unchanged
            await publish(broker.bootstrap, record, "class-1", source="/linxian/training-service")
        check = validator("province_realname_answered_v1")
        async with TopicProbe(broker.bootstrap, PROVINCE_INBOUND_TOPIC) as probe:
            await probe.wait_for(lambda _: len(probe.events) >= 5, timeout=60)
            for raw in probe.raw:
                check.validate(json.loads(raw))  # every answer as the document says
            answers = [(e.data.submission_id, e.data.version, e.data.record_type, str(e.data.verdict),
                        e.data.reason and str(e.data.reason), e.data.detail,
                        [(l.enrolment_id, str(l.verdict), l.detail) for l in e.data.lines or ()],
                        e.partition_key, e.source) for e in probe.events]
        assert answers == [
            (klass.submission_id, 1, "class", "accepted", None, None, [], "class-1", "/province/realname"),
            (bad_class.submission_id, 1, "class", "rejected", "missing_field", "缺少或无效：institution_credit_code", [],
             "class-1", "/province/realname"),
            *[(sheet, 1, "trainee", "rejected", None, "共 2 条，驳回 1 条",
               [("e-1", "accepted", None), ("e-2", "rejected", NAME_DETAIL)], "class-1",
               "/province/realname")] * 2,  # the re-send answered again, the same
            (sheet, 2, "trainee", "accepted", None, None, [("e-2", "accepted", None)], "class-1",
             "/province/realname"),
        ]
    finally:
        simulator.send_signal(signal.SIGINT)
        try:
            simulator.wait(10)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()
        broker.stop()


@pytest.mark.broker
async def test_P1_correction_and_notice_round_trip_over_the_broker(training_service_on_broker, broker):
    """Over the real broker with the service's relay and consumers and the simulator: the province's register says
    the trainee is 李四, the institution enrolled 张三 — the line is rejected (identity_mismatch); the institution
    corrects the name, version 2 goes out through the outbox and is accepted; then the province withdraws the
    record of its own accord and the line is `withdrawn`."""
    import random

    from skillkit.contracts.voucher import VoucherBound
    from skillkit.db import utcnow
    from skillkit.testing.harness import eventually
    from testsupport.province_simulator import ProvinceSimulator, notice, send_notice

    from tests.training.test_broker import _issue_over_broker, _world

    ts = training_service_on_broker
    w = await _world(ts)
    c = await w.open_class()
    number = resident_id(random.randrange(1000))
    v = await _issue_over_broker(ts, broker.bootstrap, number)
    e = (await w.enrol(c["id"], number, {"code": v["code"]})).json()
    await publish(broker.bootstrap, VoucherBound(
        voucher_id=v["voucher_id"], person_key=v["person_key"], enrolment_id=e["id"], class_id=c["id"],
        institution_id=w.institution_id, bound_at=utcnow()), v["person_key"])
    stop = asyncio.Event()
    simulator = ProvinceSimulator(broker.bootstrap, reject_share=0.0, group=f"province-sim-{uuid.uuid4().hex[:8]}",
                                  register={number: "李四"})
    task = asyncio.create_task(simulator.run(stop))

    async def province(expected: tuple) -> bool:
        body = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()
        return (body["province_status"], body["province_reason"], body["province_detail"]) == expected

    try:
        await eventually(lambda: province(("rejected", "identity_mismatch", NAME_DETAIL)), timeout=30)
        r = await ts.client.post(f"/v1/enrolments/{e['id']}/realname/resubmissions", headers=w.org,
                                 json={"record_type": "trainee", "trainee_name": "李四", "note": "按户籍更正姓名"})
        assert (r.status_code, r.json()["version"]) == (201, 2)
        await eventually(lambda: province(("accepted", None, None)), timeout=30)
        history = (await ts.client.get(f"/v1/enrolments/{e['id']}/realname", headers=w.org)).json()
        assert [(h["version"], h["status"]) for h in history["versions"]] == [(1, "rejected"), (2, "accepted")]
        sheet = RealnameSubmitted(submission_id=history["versions"][0]["submission_id"], version=2,
                                  record_type="trainee", county_code="141124", class_id=c["id"], policy_year=2026,
                                  trainees=[TraineeLine(enrolment_id=e["id"], person_key=v["person_key"])])
        await send_notice(broker.bootstrap, notice("withdrawn", sheet, e["id"]), c["id"])
        await eventually(lambda: province(("withdrawn", "withdrawn", "省平台已撤回该记录，请更正后重新上报")), timeout=30)
    finally:
        stop.set()
        await task
