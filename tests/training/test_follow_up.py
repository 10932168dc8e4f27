"""Follow-up within six months and the class outcome (S2 employment rate, S6 pass and licence rates)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from training_service.adapters.models import Enrolment, TrainingClass
from training_service.domain.rules import add_months, may_pass, rate

from tests.training.support import ECOMMERCE, World, credit_code, outbox_payloads, resident_id, today
from tests.training.test_classes import ORDER

EMPLOYER = "太原市康养服务有限公司"


async def _attend(w, c, e, days: int) -> None:
    start = date.fromisoformat(c["start_date"])
    for i in range(days):
        assert (await w.check_in(c["id"], e["id"], start + timedelta(days=i))).status_code == 201


async def _complete(w, c, e, passed: bool) -> None:
    r = await w.ts.client.post(f"/v1/classes/{c['id']}/completions", json={"enrolment_id": e["id"], "passed": passed},
                               headers=w.org)
    assert r.status_code == 201, r.text


async def _employ(w, e, **overrides):
    body = {"employer": EMPLOYER, "employed_on": today().isoformat(), "contract_months": 12, **overrides}
    return await w.ts.client.post(f"/v1/enrolments/{e['id']}/employment", json=body, headers=w.org)


async def test_S2_order_class_outcome_rates(ts):
    w = await World(ts).setup()
    c = await w.open_class(kind="order", order=ORDER)
    async with w.at_class_start(c["id"]):  # approved before the class's first day (no back-dated training)
        await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True}, headers=w.bureau)
    trainees = [await w.active_trainee(c["id"], seq=i, kind="order") for i in range(5)]
    (e1, _), (e2, _), (e3, _), (e4, _), (e5, _) = trainees
    for e in (e1, e2, e3):
        await _attend(w, c, e, 4)
        await _complete(w, c, e, passed=True)
    await _attend(w, c, e4, 1)
    await _complete(w, c, e4, passed=False)
    await ts.client.post(f"/v1/enrolments/{e5['id']}/drop", json={"reason": "外出务工"}, headers=w.org)
    r = await _employ(w, e1, employer_credit_code=ORDER["credit_code"])
    assert r.status_code == 200 and r.json()["employer"] == EMPLOYER
    assert (await _employ(w, e2)).status_code == 200
    r = await _employ(w, e2)
    assert (r.status_code, r.json()["code"]) == (409, "employment_already_recorded")
    r = await _employ(w, e5)
    assert (r.status_code, r.json()["code"]) == (409, "enrolment_not_completed")
    [first, _] = await outbox_payloads(ts, "training.employment_recorded.v1")
    assert (first["enrolment_id"], first["employer_credit_code"], first["contract_months"]) == (
        e1["id"], ORDER["credit_code"], 12)
    async with ts.sessionmaker() as session:  # P10: the S2 rate counts it, so who recorded it is kept
        assert (await session.get(Enrolment, uuid.UUID(e1["id"]))).employment_recorded_by == "org-user-1"

    r = await ts.client.post(f"/v1/classes/{c['id']}/outcome", headers=w.org)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    [event] = await outbox_payloads(ts, "class.outcome_reported.v1")
    assert event == {
        "class_id": c["id"], "institution_id": w.institution_id, "kind": "order",
        "trainees_completed": 4, "trainees_attended": 4, "employed": 2, "passed": 3,
        "licensed_within_six_months": 0,
        "employment_rate": "0.5000",  # employed 2 / completed 4
        "pass_rate": "0.7500",  # passed 3 / attended at least one day 4
        "licence_rate": "0.0000",  # licensed 0 / passed 3
        "follow_up_open": False, "follow_up_closes_on": None,  # S2: the report closes the window
    }
    assert r.json()["outcome"]["employment_rate"] == "0.5000"
    # the window is closed
    r = await _employ(w, e3)
    assert (r.status_code, r.json()["code"]) == (409, "follow_up_closed")
    r = await ts.client.post(f"/v1/classes/{c['id']}/outcome", headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "class_closed")
    number = resident_id(50)
    v = await w.voucher(number, "order")
    r = await w.enrol(c["id"], number, v)
    assert (r.status_code, r.json()["code"]) == (409, "class_closed")


async def test_S6_entrepreneurship_pass_and_licence_rates(ts):
    w = await World(ts).setup()
    c = await w.open_class(kind="entrepreneurship", course="SYB", occupation_code=ECOMMERCE, level=None)
    trainees = [await w.active_trainee(c["id"], seq=i, kind="entrepreneurship") for i in range(3)]
    for e, _ in trainees:
        await _attend(w, c, e, 4)
        await _complete(w, c, e, passed=True)
    licence = {"credit_code": credit_code("92141124MA0000001"), "licensed_on": today().isoformat()}
    r = await ts.client.post(f"/v1/enrolments/{trainees[0][0]['id']}/business-licence", json=licence, headers=w.org)
    assert r.status_code == 200 and r.json()["licence_credit_code"] == licence["credit_code"]
    r = await ts.client.post(f"/v1/enrolments/{trainees[0][0]['id']}/business-licence", json=licence, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "licence_already_recorded")
    bad = {**licence, "credit_code": licence["credit_code"][:-1] + ("0" if licence["credit_code"][-1] != "0" else "1")}
    r = await ts.client.post(f"/v1/enrolments/{trainees[1][0]['id']}/business-licence", json=bad, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "credit_code_check_character")
    assert len(await outbox_payloads(ts, "training.business_licensed.v1")) == 1
    # S6: the pass rate is reported at once; the six-month licence window (from the class's completion) stays open
    r = await ts.client.post(f"/v1/classes/{c['id']}/outcome", headers=w.bureau)
    assert r.status_code == 200 and r.json()["status"] == "open"
    [event] = await outbox_payloads(ts, "class.outcome_reported.v1")
    assert (event["passed"], event["licensed_within_six_months"]) == (3, 1)
    assert (event["pass_rate"], event["licence_rate"], event["employment_rate"]) == ("1.0000", "0.3333", "0.0000")
    assert (event["follow_up_open"], event["follow_up_closes_on"]) == (True, add_months(today(), 6).isoformat())
    # a licence recorded inside the window reports the rates again at once
    r = await ts.client.post(f"/v1/enrolments/{trainees[1][0]['id']}/business-licence",
                             json={**licence, "credit_code": credit_code("92141124MA0000002")}, headers=w.org)
    assert r.status_code == 200, r.text
    [_, again] = await outbox_payloads(ts, "class.outcome_reported.v1")
    assert (again["licensed_within_six_months"], again["licence_rate"], again["follow_up_open"]) == (2, "0.6666", True)  # rounded down, like 0.3333
    async with ts.sessionmaker() as session:  # P10: who recorded what the S6 rates count; the class is still open
        licensed = await session.get(Enrolment, uuid.UUID(trainees[0][0]["id"]))
        still_open = await session.get(TrainingClass, uuid.UUID(c["id"]))
    assert (licensed.licence_recorded_by, licensed.employment_recorded_by, still_open.status, still_open.closed_by) == (
        "org-user-1", None, "open", None)


async def test_S6_window_closes_six_months_after_the_class_completion(ts):
    """The periodic job closes a window whose six months have passed (its final report), and nothing before."""
    from sqlalchemy import update

    from training_service.handlers.training import S6_WINDOW_CLOSER
    from training_service.jobs.s6_windows import close_due_s6_windows

    w = await World(ts).setup()
    c = await w.open_class(kind="entrepreneurship", course="SYB", occupation_code=ECOMMERCE, level=None)
    e, _ = await w.active_trainee(c["id"], kind="entrepreneurship")
    await _attend(w, c, e, 4)
    await _complete(w, c, e, passed=True)
    assert (await ts.client.post(f"/v1/classes/{c['id']}/outcome", headers=w.org)).status_code == 200
    assert await close_due_s6_windows(ts.sessionmaker, ts.settings) == 0
    # the class completed seven months ago: its window closed a month ago
    async with ts.sessionmaker() as session:
        seven_months_ago = add_months(today(), -7)
        row = await session.get(TrainingClass, uuid.UUID(c["id"]))
        row.outcome = {**row.outcome, "follow_up_closes_on": add_months(seven_months_ago, 6).isoformat()}
        (await session.get(Enrolment, uuid.UUID(e["id"]))).completed_on = seven_months_ago
        await session.commit()
    assert await close_due_s6_windows(ts.sessionmaker, ts.settings) == 1
    [_, final] = await outbox_payloads(ts, "class.outcome_reported.v1")
    assert (final["follow_up_open"], final["passed"], final["licensed_within_six_months"]) == (False, 1, 0)
    async with ts.sessionmaker() as session:
        closed = await session.get(TrainingClass, uuid.UUID(c["id"]))
    assert (closed.status, closed.closed_by) == ("closed", S6_WINDOW_CLOSER)
    assert await close_due_s6_windows(ts.sessionmaker, ts.settings) == 0
    r = await ts.client.post(f"/v1/enrolments/{e['id']}/business-licence",
                             json={"credit_code": credit_code("92141124MA0000001"), "licensed_on": today().isoformat()},
                             headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "follow_up_closed")


async def test_follow_up_bad_input_changes_nothing(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    e, _ = await w.active_trainee(c["id"])
    await _attend(w, c, e, 4)
    await _complete(w, c, e, passed=True)
    before = (date.fromisoformat(c["start_date"]) - timedelta(days=1)).isoformat()
    r = await _employ(w, e, employed_on=before)
    assert (r.status_code, r.json()["code"]) == (422, "follow_up_out_of_window")
    r = await _employ(w, e, employed_on=(today() + timedelta(days=3)).isoformat())
    assert (r.status_code, r.json()["code"]) == (422, "employment_in_future")
    r = await _employ(w, e, employer_credit_code="91140100MA00000X")
    assert (r.status_code, r.json()["code"]) == (422, "employer_credit_code_format")
    r = await ts.client.post(f"/v1/enrolments/{e['id']}/business-licence",
                             json={"credit_code": credit_code("92141124MA0000001"), "licensed_on": today().isoformat()},
                             headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "not_entrepreneurship_class")
    assert (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()["employed_on"] is None
    assert await outbox_payloads(ts, "training.employment_recorded.v1") == []


async def test_outcome_waits_for_unfinished_trainees(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    await w.active_trainee(c["id"])
    r = await ts.client.post(f"/v1/classes/{c['id']}/outcome", headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "class_has_unfinished_trainees")
    r = await ts.client.post(f"/v1/classes/{c['id']}/outcome", headers=ts.headers("auditor"))
    assert r.status_code == 403
    assert await outbox_payloads(ts, "class.outcome_reported.v1") == []


def test_rates_round_down_and_windows():
    assert rate(2, 3) == Decimal("0.6666")  # never overstated against a threshold
    assert rate(4, 5) == Decimal("0.8000")
    assert rate(1, 0) is None
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2026, 1, 15), 6) == date(2026, 7, 15)
    assert may_pass(4, 5, Decimal("0.8")) and not may_pass(3, 5, Decimal("0.8"))
