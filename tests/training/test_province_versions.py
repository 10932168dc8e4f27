"""P1: corrections as versions of a record (answered per version, the newest deciding, history kept), re-sends
after a timeout and escalation after the last attempt (pipeline health, the class's view), and the province's
own notices (trained elsewhere after the fact, withdrawn)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from skillkit.contracts.province import RealnameSubmitted
from skillkit.county import county_time
from skillkit.db import utcnow
from sqlalchemy import select

from training_service.adapters.models import Enrolment, RealnameNotice, RealnameSubmission, audit_log
from training_service.handlers.province import UnknownSubmission
from training_service.jobs.province_resend import resend_overdue
from testsupport.province_simulator import Province, answer, notice

from tests.training.support import World, count, feed_province, outbox_payloads, resident_id
from tests.training.test_province import MISMATCH, _sheet_answer, open_identity

ORG_USER = "org-user-1"


async def _sheets(ts, record_type: str = "trainee") -> list[dict]:
    return [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == record_type]


async def _two_trainees_one_rejected(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainees(c["id"], [1, 2])
    [sheet] = await _sheets(ts)
    now = utcnow()
    assert await feed_province(ts, _sheet_answer(sheet, {e2["id"]: ("identity_mismatch", MISMATCH)}), c["id"], now)
    return w, c, e1, e2, sheet, now


async def _enrolment(ts, w, e) -> tuple:
    body = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()
    return body["trainee_name"], body["province_status"], body["province_reason"], body["province_detail"]


async def test_P1_a_rejected_line_corrected_is_the_record_s_next_version_and_its_answer_decides(ts):
    w, c, e1, e2, sheet, then = await _two_trainees_one_rejected(ts)
    url = f"/v1/enrolments/{e2['id']}/realname/resubmissions"
    r = await ts.client.post(url, json={"record_type": "trainee", "trainee_name": "张叁", "note": "姓名录入错误"},
                             headers={**w.org, "Idempotency-Key": "fix-1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["submission_id"], body["version"], body["record_type_label"], body["lines"], body["status"],
            body["status_label"], body["attempts"], body["corrected_by"], body["note"]) == (
        sheet["submission_id"], 2, "学员", 1, "submitted", "已上报", 1, ORG_USER, "姓名录入错误")
    assert await _enrolment(ts, w, e2) == ("张叁", "submitted", None, None)
    # the same Idempotency-Key replays the answer and sends nothing more
    again = await ts.client.post(url, json={"record_type": "trainee", "trainee_name": "张叁", "note": "姓名录入错误"},
                                 headers={**w.org, "Idempotency-Key": "fix-1"})
    assert (again.status_code, again.json()["version"]) == (201, 2)
    first, second = await _sheets(ts)
    assert (second["submission_id"], second["version"], second["correction_note"]) == (
        sheet["submission_id"], 2, "姓名录入错误")
    [line] = second["trainees"]  # only the corrected line, sealed anew with the corrected name
    assert (line["enrolment_id"], open_identity(line)) == (e2["id"], {"name": "张叁", "id_number": resident_id(2)})
    # the province answers version 2: it decides the line
    v2 = answer(RealnameSubmitted.model_validate(second), Province(reject_share=0.0))
    assert (v2.submission_id, v2.version, [(l.enrolment_id, l.verdict) for l in v2.lines]) == (
        sheet["submission_id"], 2, [(e2["id"], "accepted")])
    assert await feed_province(ts, v2, c["id"], then + timedelta(minutes=1))
    assert await _enrolment(ts, w, e2) == ("张叁", "accepted", None, None)
    # version 1 answered again later (a duplicate from the province) no longer marks the corrected line ...
    late = _sheet_answer(first, {e2["id"]: ("identity_mismatch", MISMATCH), e1["id"]: ("identity_mismatch", "x")})
    assert await feed_province(ts, late, c["id"], then + timedelta(minutes=2))
    assert (await _enrolment(ts, w, e2))[1:] == ("accepted", None, None)
    assert (await _enrolment(ts, w, e1))[1:] == ("rejected", "identity_mismatch", "x")  # ... the others it does
    # history: the trainee's line in each version, with the line's own answer
    r = await ts.client.get(f"/v1/enrolments/{e2['id']}/realname", headers=w.bureau)
    assert [(v["version"], v["status"], v["reason"], v["detail"], v["corrected_by"], v["note"])
            for v in r.json()["versions"]] == [
        (1, "rejected", "identity_mismatch", MISMATCH, None, None), (2, "accepted", None, None, ORG_USER, "姓名录入错误")]
    async with ts.sessionmaker() as session:  # P10: who corrected what, names masked
        [entry] = (await session.execute(select(audit_log).where(audit_log.c.action == "realname.resubmit_trainee"))).all()
    assert (entry.actor, entry.entity_id, entry.before, entry.after, entry.reason) == (
        ORG_USER, e2["id"], {"status": "rejected", "reason": "identity_mismatch", "trainee_name": "张*"},
        {"status": "submitted", "submission_id": sheet["submission_id"], "version": 2, "trainee_name": "张*"},
        "姓名录入错误")
    r = await ts.client.get(f"/v1/classes/{c['id']}/realname", headers=w.org)
    records = {rec["record_type"]: rec for rec in r.json()["records"]}
    assert [(v["version"], v["lines"], v["status"]) for v in records["trainee"]["versions"]] == [
        (1, 2, "rejected"), (2, 1, "accepted")]
    assert records["trainee"]["submission_id"] == sheet["submission_id"]


async def test_P1_only_a_rejected_or_withdrawn_line_is_corrected(ts):
    w, c, e1, e2, sheet, _ = await _two_trainees_one_rejected(ts)
    r = await ts.client.post(f"/v1/enrolments/{e1['id']}/realname/resubmissions", headers=w.org,
                             json={"record_type": "trainee", "note": "重报"})
    assert (r.status_code, r.json()["code"]) == (409, "realname_not_correctable")
    r = await ts.client.post(f"/v1/enrolments/{e2['id']}/realname/resubmissions", headers=w.org,
                             json={"record_type": "completion", "note": "重报"})  # its completion was never sent
    assert (r.status_code, r.json()["code"]) == (409, "realname_not_correctable")
    r = await ts.client.post(f"/v1/enrolments/{e2['id']}/realname/resubmissions", headers=w.org,
                             json={"record_type": "completion", "trainee_name": "张叁", "note": "重报"})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    other = await World(ts).setup(credit_code="91141124MA0K000009", name="另一机构")
    r = await ts.client.post(f"/v1/enrolments/{e2['id']}/realname/resubmissions", headers=other.org,
                             json={"record_type": "trainee", "note": "重报"})
    assert (r.status_code, r.json()["code"]) == (404, "enrolment_not_found")
    assert await count(ts, RealnameSubmission, RealnameSubmission.version > 1) == 0
    # an answer to a version never sent is not ours
    with pytest.raises(UnknownSubmission):
        await feed_province(ts, _sheet_answer(sheet).model_copy(update={"version": 2}), c["id"])


async def test_P1_an_unanswered_version_is_re_sent_unchanged_then_escalated(ts):
    """Timeout 1 h, 3 attempts: re-sent at +61 min and +122 min (the same record id, version and body, the
    identity still sealed as first sent), escalated at +183 min and not sent again; shown on the pipeline's
    health and the class's view. An answered version is never re-sent."""
    settings = ts.settings.model_copy(update={"province_answer_timeout_seconds": 3600, "province_max_attempts": 3})
    w = await World(ts).setup()
    c = await w.open_class()
    await w.active_trainees(c["id"], [1])
    [klass] = await _sheets(ts, "class")
    assert await feed_province(ts, answer(RealnameSubmitted.model_validate(klass), 0.0), c["id"])  # class answered
    [sheet] = await _sheets(ts)
    start = utcnow()
    assert await resend_overdue(ts.sessionmaker, settings, start + timedelta(minutes=59)) == (0, 0)
    assert await resend_overdue(ts.sessionmaker, settings, start + timedelta(minutes=61)) == (1, 0)
    assert await resend_overdue(ts.sessionmaker, settings, start + timedelta(minutes=62)) == (0, 0)
    assert await resend_overdue(ts.sessionmaker, settings, start + timedelta(minutes=122)) == (1, 0)
    assert await resend_overdue(ts.sessionmaker, settings, start + timedelta(minutes=183)) == (0, 1)
    assert await resend_overdue(ts.sessionmaker, settings, start + timedelta(minutes=400)) == (0, 0)
    sent = await _sheets(ts)
    assert len(sent) == 3 and all(s == sheet for s in sent)  # idempotent: the same record, version and body
    from prometheus_client import REGISTRY

    gauge = {state: REGISTRY.get_sample_value("province_realname_unanswered", {"record_type": "trainee", "state": state})
             for state in ("waiting", "overdue", "escalated")}
    assert gauge == {"waiting": 0.0, "overdue": 0.0, "escalated": 1.0}  # the dashboard's view after the last run
    assert len(await _sheets(ts, "class")) == 1
    async with ts.sessionmaker() as session:
        row = (await session.scalars(select_trainee_rows())).one()
    assert (row.attempts, row.last_sent_at, row.escalated_at) == (
        3, start + timedelta(minutes=122), start + timedelta(minutes=183))
    r = await ts.client.get("/v1/realname/health", headers=w.bureau)
    health = r.json()
    assert (health["unanswered"], health["overdue"], health["escalated"], health["max_attempts"]) == (1, 0, 1, 3)
    assert health["by_record_type"] == {"trainee": {"unanswered": 1, "overdue": 0, "escalated": 1}}
    [escalated] = health["escalated_records"]
    assert (escalated["submission_id"], escalated["version"], escalated["attempts"], escalated["class_id"],
            escalated["record_type_label"]) == (sheet["submission_id"], 1, 3, c["id"], "学员")
    view = (await ts.client.get(f"/v1/classes/{c['id']}/realname", headers=w.org)).json()
    assert (view["unanswered"], view["escalated"], view["rejected"]) == (1, 1, 0)
    assert (await ts.client.get("/v1/realname/health", headers=w.org)).status_code == 403
    # the answer finally arrives: nothing is unanswered any more
    assert await feed_province(ts, _sheet_answer(sheet), c["id"])
    health = (await ts.client.get("/v1/realname/health", headers=w.bureau)).json()
    assert (health["unanswered"], health["escalated"], health["escalated_records"]) == (0, 0, [])


def select_trainee_rows():
    from sqlalchemy import select

    return select(RealnameSubmission).where(RealnameSubmission.record_type == "trainee")


async def test_P1_health_counts_overdue_versions_before_they_are_re_sent(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    await w.active_trainees(c["id"], [1])
    async with ts.sessionmaker() as session:  # the trainee sheet was sent two days ago
        row = (await session.scalars(select_trainee_rows())).one()
        row.last_sent_at = utcnow() - timedelta(days=2)
        sent_at = row.last_sent_at
        await session.commit()
    health = (await ts.client.get("/v1/realname/health", headers=w.bureau)).json()
    assert (health["unanswered"], health["overdue"], health["escalated"]) == (2, 1, 0)  # the class record is not due
    assert health["by_record_type"] == {"class": {"unanswered": 1, "overdue": 0, "escalated": 0},
                                        "trainee": {"unanswered": 1, "overdue": 1, "escalated": 0}}
    assert health["oldest_unanswered_sent_at"] == county_time(sent_at)


async def test_P1_province_notices_mark_the_line_and_a_correction_answers_them(ts):
    """Withdrawn: the line is `withdrawn` (the institution corrects and resubmits); trained elsewhere after the
    fact: `rejected` with the reason. A notice delivered again is kept once; one about a line never sent is not
    ours; an answer to the same version arriving after a notice does not undo it."""
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainees(c["id"], [1, 2])
    [sheet] = await _sheets(ts)
    submitted = RealnameSubmitted.model_validate(sheet)
    now = utcnow()
    assert await feed_province(ts, _sheet_answer(sheet), c["id"], now)
    withdrawn = notice("withdrawn", submitted, e1["id"], notice_id="N-1")
    assert await feed_province(ts, withdrawn, c["id"], now + timedelta(minutes=1))
    assert await feed_province(ts, withdrawn, c["id"], now + timedelta(minutes=1))  # a new delivery, same notice
    elsewhere = notice("trained_elsewhere", submitted, e2["id"], other_county_code="141102", notice_id="N-2")
    assert await feed_province(ts, elsewhere, c["id"], now + timedelta(minutes=2))
    assert await _enrolment(ts, w, e1) == ("张三", "withdrawn", "withdrawn", "省平台已撤回该记录，请更正后重新上报")
    assert await _enrolment(ts, w, e2) == (
        "张三", "rejected", "trained_elsewhere_this_year", "事后核查：该学员本年度已在 141102 参加同类补贴培训")
    assert await count(ts, RealnameNotice) == 2
    # the version-1 answer delivered again after the notices does not undo them
    assert await feed_province(ts, _sheet_answer(sheet), c["id"], now + timedelta(minutes=3))
    assert [(await _enrolment(ts, w, e))[1] for e in (e1, e2)] == ["withdrawn", "rejected"]
    r = await ts.client.get(f"/v1/enrolments/{e2['id']}/realname", headers=w.org)
    assert [(n["notice_id"], n["notice_label"], n["version"], n["other_county_code"]) for n in r.json()["notices"]] == [
        ("N-2", "事后发现异地参训", 1, "141102")]
    # the institution corrects the withdrawn line: version 2, answered accepted
    r = await ts.client.post(f"/v1/enrolments/{e1['id']}/realname/resubmissions", headers=w.org,
                             json={"record_type": "trainee", "note": "补充材料后重报"})
    assert (r.status_code, r.json()["version"]) == (201, 2)
    v2 = answer(RealnameSubmitted.model_validate((await _sheets(ts))[-1]), 0.0)
    assert await feed_province(ts, v2, c["id"], now + timedelta(minutes=4))
    assert (await _enrolment(ts, w, e1))[1:] == ("accepted", None, None)
    # a notice about a line the county never sent is not ours
    stranger = withdrawn.model_copy(update={"notice_id": "N-3", "enrolment_id": str(uuid.uuid4())})
    with pytest.raises(UnknownSubmission):
        await feed_province(ts, stranger, c["id"])
    assert await count(ts, RealnameNotice) == 2
    async with ts.sessionmaker() as session:
        assert (await session.get(Enrolment, uuid.UUID(e2["id"]))).province_status == "rejected"


async def test_P1_a_rejected_completion_line_is_corrected_as_the_completion_sheet_s_next_version(ts):
    from tests.training.test_province import _two_completed_with_both_sheets

    w, c, e1, e2, _, completions = await _two_completed_with_both_sheets(ts)
    assert await feed_province(ts, _sheet_answer(completions, {e1["id"]: ("missing_field", "缺少结业考核成绩")}), c["id"])
    r = await ts.client.post(f"/v1/enrolments/{e1['id']}/realname/resubmissions", headers=w.org,
                             json={"record_type": "completion", "note": "补录考核成绩"})
    assert (r.status_code, r.json()["submission_id"], r.json()["version"], r.json()["record_type_label"]) == (
        201, completions["submission_id"], 2, "结业")
    sent = (await _sheets(ts, "completion"))[-1]
    assert (sent["version"], sent["correction_note"], sent["completions"]) == (
        2, "补录考核成绩", [{"enrolment_id": e1["id"], "person_key": completions["completions"][0]["person_key"],
                         "attended_days": 0, "passed": False}])
    body = (await ts.client.get(f"/v1/enrolments/{e1['id']}", headers=w.org)).json()
    assert (body["completion_province_status"], body["completion_province_reason"]) == ("submitted", None)
    assert await feed_province(ts, answer(RealnameSubmitted.model_validate(sent), 0.0), c["id"])
    body = (await ts.client.get(f"/v1/enrolments/{e1['id']}", headers=w.org)).json()
    assert (body["completion_province_status"], body["province_status"]) == ("accepted", "submitted")
