"""P3 培训一人，评价一人: the certification service learns of completions (training.enrolled / training.completed), an
evaluation lists the completed trainees of its occupation to register, and a report names, per training institution,
the completed trainees evaluated nowhere after N days."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from certification_service.adapters.models import Base, TrainingCompletion
from certification_service.config import CertificationSettings
from certification_service.main import create
from skillkit.contracts.training import TrainingCompleted, TrainingEnrolled
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.testing.harness import eventually, publish, running_service

from tests.certification.helpers import feed, key_of, new_candidate, new_evaluation, new_institution, resident_id, staff

CAREGIVER = "4-10-01-05"


def enrolled(key: str, enrolment: str, institution: str = "TI-1", occupation: str = CAREGIVER) -> TrainingEnrolled:
    return TrainingEnrolled(enrolment_id=enrolment, class_id="C-1", institution_id=institution, voucher_id=str(uuid.uuid4()),
                            person_key=key, kind="inclusive", occupation_code=occupation, level=5,
                            class_start=date(2026, 10, 1), class_end=date(2026, 10, 8))


def completed(key: str, enrolment: str, on: date) -> TrainingCompleted:
    return TrainingCompleted(enrolment_id=enrolment, voucher_id=str(uuid.uuid4()), class_id="C-1", person_key=key,
                             attended_days=5, passed=True, completed_on=on)


async def test_P3_completions_in_any_order_and_the_unevaluated_report(cs):
    today = local_date(utcnow())
    old, recent, evaluated = (key_of(cs, resident_id(seq=s)) for s in ("101", "102", "103"))
    # completion before enrolment for one, the other order for the rest, one delivered twice
    assert await feed(cs, completed(old, "E-old", today - timedelta(days=40)), old)
    assert await feed(cs, enrolled(old, "E-old"), old)
    for key, enrolment, days in ((recent, "E-recent", 10), (evaluated, "E-evaluated", 45)):
        assert await feed(cs, enrolled(key, enrolment, institution="TI-2"), key)
        assert await feed(cs, completed(key, enrolment, today - timedelta(days=days)), key)
    async with cs.sessionmaker() as session:
        row = await session.get(TrainingCompletion, "E-old")
    assert (row.institution_id, row.occupation_code, row.level, row.completed_on) == (
        "TI-1", CAREGIVER, 5, today - timedelta(days=40))
    institution = await new_institution(cs)
    evaluation = await new_evaluation(cs, institution)
    await new_candidate(cs, institution, evaluation, resident_id(seq="103"))
    r = await cs.client.get("/v1/reports/unevaluated", headers=staff(cs))  # default: 30 days
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["after_days"], body["total"]) == (30, 1)
    assert [(i["institution_id"], i["count"], [t["enrolment_id"] for t in i["trainees"]]) for i in body["institutions"]] == [
        ("TI-1", 1, ["E-old"])]
    assert body["institutions"][0]["trainees"][0]["days_since"] == 40
    r = await cs.client.get("/v1/reports/unevaluated", params={"after_days": 7}, headers=staff(cs))
    assert [(i["institution_id"], [t["enrolment_id"] for t in i["trainees"]]) for i in r.json()["institutions"]] == [
        ("TI-1", ["E-old"]), ("TI-2", ["E-recent"])]
    bad = await cs.client.get("/v1/reports/unevaluated", params={"after_days": -1}, headers=staff(cs))
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    worker = await cs.client.get("/v1/reports/unevaluated", headers=cs.headers("evaluation_org", org=institution))
    assert (worker.status_code, worker.json()["code"]) == (403, "role_forbidden")
    # the evaluation lists the completed trainees of its occupation, each with whether it is registered
    r = await cs.client.get(f"/v1/evaluations/{evaluation}/completed-trainees",
                            headers=cs.headers("evaluation_org", sub="evaluator-1", org=institution))
    assert r.status_code == 200, r.text
    assert [(t["enrolment_id"], t["training_institution_id"], t["registered"]) for t in r.json()] == [
        ("E-evaluated", "TI-2", True), ("E-old", "TI-1", False), ("E-recent", "TI-2", False)]


@pytest.mark.broker
async def test_P3_completion_crosses_the_broker(database_factory, broker):
    settings = CertificationSettings(environment="test", database_url=await database_factory("certification_p3", migrated="certification_service.migrations"),
                                     kafka_bootstrap=broker.bootstrap, kafka_partitions=1)
    async with running_service(create, settings, "certification_service.migrations") as svc:
        await svc.wipe(Base.metadata)
        key = key_of(svc, resident_id(seq="777"))
        await publish(broker.bootstrap, enrolled(key, "E-bus"), key)
        await publish(broker.bootstrap, completed(key, "E-bus", date(2026, 10, 8)), key)

        async def stored():
            async with svc.sessionmaker() as session:
                return (await session.execute(select(TrainingCompletion.occupation_code, TrainingCompletion.completed_on)
                                              .where(TrainingCompletion.enrolment_id == "E-bus"))).first()

        assert tuple(await eventually(lambda: _complete(stored), timeout=60)) == (CAREGIVER, date(2026, 10, 8))


async def _complete(stored):
    row = await stored()
    return row if row is not None and row[0] is not None and row[1] is not None else None
