"""P1, the contract a province could run on: identity sealed for the province only, what a class record and an
attendance sheet carry, the simulator's checks (ID check digit, name against the register, GB 32100 credit code)."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from skillkit import sealed
from skillkit.contracts.province import RealnameSubmitted, TraineeLine, identity_aad
from training_service.config import DEV_PROVINCE_KEY_ID, DEV_PROVINCE_KEY_SEED, TrainingSettings
from testsupport.province_simulator import (
    CHECK_DIGIT_DETAIL,
    NAME_DETAIL,
    NO_IDENTITY_DETAIL,
    Province,
    answer,
    identity_of,
)

from tests.training.support import World, outbox_payloads, resident_id
from tests.training.test_bulk import csv_file

KEYS = {DEV_PROVINCE_KEY_ID: sealed.private_key_from_seed(DEV_PROVINCE_KEY_SEED)}


def _sealed_line(name: str, number: str, enrolment_id: str = "e-1", person_key: str = "pk-1") -> TraineeLine:
    settings = TrainingSettings()
    plaintext = json.dumps({"name": name, "id_number": number}, ensure_ascii=False).encode()
    box = sealed.seal(settings.province_public_key, settings.province_key_id, plaintext,
                      identity_aad(enrolment_id, person_key))
    return TraineeLine(enrolment_id=enrolment_id, person_key=person_key, identity=box)


def _trainee_sheet(*lines: TraineeLine) -> RealnameSubmitted:
    return RealnameSubmitted(submission_id=str(uuid.uuid4()), version=1, record_type="trainee", county_code="141124",
                             class_id="c-1", policy_year=2026, trainees=list(lines))


def test_P1_identity_opens_only_with_the_province_key_and_only_on_its_own_line():
    line = _sealed_line("张三", resident_id(1))
    assert identity_of(line, KEYS) == {"name": "张三", "id_number": resident_id(1)}
    assert line.identity.alg == "X25519-HKDF-SHA256-A256GCM" and line.identity.kid == "dev-province-1"
    # the same identity sealed twice gives two boxes (a fresh ephemeral key each time)
    assert _sealed_line("张三", resident_id(1)).identity.ct != line.identity.ct
    moved = line.model_copy(update={"enrolment_id": "e-2"})  # a box copied onto another line
    assert identity_of(moved, KEYS) is None
    other_key = {DEV_PROVINCE_KEY_ID: sealed.private_key_from_seed("another province")}
    assert identity_of(line, other_key) is None
    assert identity_of(line, {"rotated-2": KEYS[DEV_PROVINCE_KEY_ID]}) is None  # the key id travels with the box
    with pytest.raises(sealed.SealedBoxError, match="no private key for key id 'dev-province-1'"):
        sealed.open_box({}, line.identity.model_dump(), identity_aad("e-1", "pk-1"))
    tampered = line.identity.model_dump() | {"ct": line.identity.ct[:-2] + ("AA" if line.identity.ct[-2:] != "AA" else "BB")}
    with pytest.raises(sealed.SealedBoxError):
        sealed.open_box(KEYS, tampered, identity_aad("e-1", "pk-1"))


def test_P1_simulator_checks_the_check_digit_the_register_and_a_missing_identity():
    good = resident_id(1)
    bad_digit = good[:-1] + ("0" if good[-1] != "0" else "1")
    register = {good: "张三", resident_id(2): "李四"}
    province = Province(reject_share=0.0, register=register, trained_elsewhere={resident_id(6)})
    lines = [_sealed_line("张三", good, "e-1", "pk-1"), _sealed_line("张三", bad_digit, "e-2", "pk-2"),
             _sealed_line("张叁", resident_id(2), "e-3", "pk-3"), TraineeLine(enrolment_id="e-4", person_key="pk-4"),
             _sealed_line("王五", resident_id(5), "e-5", "pk-5"),  # not in the register: the digit alone is checked
             _sealed_line("赵六", resident_id(6), "e-6", "pk-6")]  # the province knows them trained elsewhere
    verdict = answer(_trainee_sheet(*lines), province)
    assert [(line.enrolment_id, line.verdict, line.reason, line.detail) for line in verdict.lines] == [
        ("e-1", "accepted", None, None),
        ("e-2", "rejected", "identity_mismatch", CHECK_DIGIT_DETAIL),
        ("e-3", "rejected", "identity_mismatch", NAME_DETAIL),
        ("e-4", "rejected", "missing_field", NO_IDENTITY_DETAIL),
        ("e-5", "accepted", None, None),
        ("e-6", "rejected", "trained_elsewhere_this_year", "该学员本年度已在其他县参加同类补贴培训"),
    ]
    assert (verdict.verdict, verdict.detail, verdict.version) == ("rejected", "共 6 条，驳回 4 条", 1)


def test_P1_simulator_refuses_a_class_record_without_a_valid_credit_code():
    klass = RealnameSubmitted(submission_id=str(uuid.uuid4()), version=2, record_type="class", county_code="141124",
                              class_id="c-1", policy_year=2026, institution_credit_code="12141124MB00000100",
                              venue="实训楼", teachers=["李老师"], planned_hours=40)
    verdict = answer(klass, 0.0)
    assert (verdict.verdict, verdict.reason, verdict.detail, verdict.version) == (
        "rejected", "missing_field", "缺少或无效：institution_credit_code", 2)
    fixed = klass.model_copy(update={"institution_credit_code": None})
    assert answer(fixed.model_copy(update={"teachers": []}), 0.0).detail == "缺少或无效：institution_credit_code、teachers"


async def test_P1_real_records_carry_what_the_province_checks_and_pass_it(ts):
    """The class record, the trainee sheet (sealed identity of the enrolled name and number), the attendance sheet
    (method and P8 evidence per line) as the service sends them pass the simulator's checks."""
    w = await World(ts).setup()
    c = await w.open_class()
    trainees = await w.active_trainees(c["id"], [1, 2])
    start = date.fromisoformat(c["start_date"])
    rows = [f"{e['id']},人脸,{start} 08:30,FACE-{n}" for n, (e, _) in enumerate(trainees)]
    r = await ts.client.post(f"/v1/classes/{c['id']}/check-ins/bulk", headers=w.org,
                             files=csv_file("\n".join(["学员编号,签到方式,签到时间,证据编号"] + rows)))
    assert r.json()["applied"] == 2
    sent = {s["record_type"]: s for s in await outbox_payloads(ts, "province.realname.submitted.v1")}
    assert [(line["method"], line["evidence_ref"]) for line in sent["attendance"]["attendance"]] == [
        ("face", "FACE-0"), ("face", "FACE-1")]
    province = Province(reject_share=0.0, register={resident_id(1): "张三", resident_id(2): "张三"})
    for record_type in ("class", "trainee", "attendance"):
        verdict = answer(RealnameSubmitted.model_validate(sent[record_type]), province)
        assert (record_type, verdict.verdict, verdict.version) == (record_type, "accepted", 1)
    told_otherwise = Province(reject_share=0.0, register={resident_id(2): "李四"})
    verdict = answer(RealnameSubmitted.model_validate(sent["trainee"]), told_otherwise)
    assert [(line.enrolment_id, line.verdict, line.detail) for line in verdict.lines] == [
        (trainees[0][0]["id"], "accepted", None), (trainees[1][0]["id"], "rejected", NAME_DETAIL)]


async def test_P1_a_certificate_issued_is_reported_on_its_class_s_record_with_the_evaluator(ts):
    """`certificate.issued` for a trainee of a class in that occupation: a certificate record of the class, one
    line (number, type, occupation, level, the evaluation institution's name and credit code from its filing),
    answered per line. One for a person without such an enrolment is not reported."""
    from datetime import timedelta

    from skillkit.contracts.certification import CertificateIssued, EvaluationInstitutionFiled
    from training_service.consumers import CERTIFICATION_CONSUMER

    from tests.training.support import credit_code, feed

    w = await World(ts).setup()
    c = await w.open_class()
    [(e, v)] = await w.active_trainees(c["id"], [1])
    evaluator = str(uuid.uuid4())
    start = date.fromisoformat(c["start_date"])
    assert await feed(ts, EvaluationInstitutionFiled(
        institution_id=evaluator, name="吕梁市职业技能鉴定中心", credit_code=credit_code("12141100MB000009"),
        status="approved", filings=[]), evaluator, CERTIFICATION_CONSUMER)
    issued = dict(certificate_id=str(uuid.uuid4()), certificate_no="S000014112426000123", certificate_type="skill_level",
                  occupation_code=c["occupation_code"], level=5, issued_on=start + timedelta(days=6),
                  institution_id=evaluator, evaluation_id=str(uuid.uuid4()))
    assert await feed(ts, CertificateIssued(person_key=v["person_key"], **issued), v["person_key"], CERTIFICATION_CONSUMER)
    assert await feed(ts, CertificateIssued(person_key="pk-stranger", **{**issued, "certificate_id": str(uuid.uuid4())}),
                      "pk-stranger", CERTIFICATION_CONSUMER)
    [record] = [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == "certificate"]
    assert (record["class_id"], record["version"]) == (c["id"], 1)
    assert record["certificates"] == [{
        "enrolment_id": e["id"], "person_key": v["person_key"], "certificate_no": "S000014112426000123",
        "certificate_type": "skill_level", "occupation_code": c["occupation_code"], "level": 5,
        "issued_on": (start + timedelta(days=6)).isoformat(), "evaluation_institution_id": evaluator,
        "evaluation_institution_name": "吕梁市职业技能鉴定中心",
        "evaluation_institution_credit_code": credit_code("12141100MB000009")}]
    verdict = answer(RealnameSubmitted.model_validate(record), 0.0)
    assert [(line.enrolment_id, line.verdict) for line in verdict.lines] == [(e["id"], "accepted")]
    from tests.training.support import feed_province

    assert await feed_province(ts, verdict, c["id"])
    history = (await ts.client.get(f"/v1/enrolments/{e['id']}/realname", headers=w.org)).json()
    assert [(h["record_type"], h["record_type_label"], h["status"]) for h in history["versions"]] == [
        ("trainee", "学员", "submitted"), ("certificate", "证书", "accepted")]
