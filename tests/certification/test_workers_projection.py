from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, select

from certification_service.adapters.models import Base, Candidate, KnownWorker
from certification_service.config import CertificationSettings
from certification_service.main import create
from skillkit.contracts.topics import CERTIFICATION_TOPIC
from skillkit.contracts.voucher import WorkerAccountLinked, WorkerRegistered
from skillkit.testing.harness import TopicProbe, eventually, publish, running_service

from tests.certification.helpers import (
    account_linked,
    credit_code,
    envelope,
    feed,
    key_of,
    known_worker,
    new_candidate,
    new_evaluation,
    new_institution,
    resident_id,
)


async def worker_row(cs, key: str) -> KnownWorker | None:
    async with cs.sessionmaker() as session:
        return await session.get(KnownWorker, key)


def registered(key: str, township: str = "临泉镇", categories=("vocational_student",)) -> WorkerRegistered:
    return WorkerRegistered(
        worker_id=str(uuid.uuid4()),
        person_key=key,
        account_subject=None,
        masked_name="张*丰",
        township=township,
        categories=list(categories),
        on_behalf=True,
        registered_by="staff-1",
    )


async def test_worker_registered_fills_the_projection(cs):
    key = await known_worker(cs, resident_id(), township="白文镇", categories=["vocational_student", "rural_migrant"])
    row = await worker_row(cs, key)
    assert (row.township, row.categories, row.registered) == ("白文镇", ["rural_migrant", "vocational_student"], True)


async def test_account_linked_before_registered_is_completed_later(cs):
    key = key_of(cs, resident_id())
    assert await feed(cs, account_linked(key), key)
    row = await worker_row(cs, key)
    assert (row.registered, row.township, row.account_subject) == (False, None, "acct-1")
    assert await feed(cs, registered(key), key)
    row = await worker_row(cs, key)
    assert (row.registered, row.township, row.account_subject) == (True, "临泉镇", "acct-1")
    assert row.categories == ["vocational_student"]


async def test_redelivered_event_is_applied_once(cs):
    key = key_of(cs, resident_id())
    event = envelope(registered(key), key)
    processor = cs.runtime.processors["certification-service"]
    assert await processor.apply(event) is True
    assert await processor.apply(event) is False


async def test_a_batch_is_applied_in_event_order_with_few_statements(cs):
    """One consumer batch: upserts grouped by runs of one type (a person coming again starts a new one), the same
    end state as one event at a time, and the unknown-person flag cleared for the registered persons only."""
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    linked_first, twice, linked_after, only_linked, plain = (resident_id(seq=f"{i:03d}") for i in range(5))
    for number in (linked_first, only_linked, plain):
        await new_candidate(cs, institution_id, evaluation_id, number)
    k = {n: key_of(cs, n) for n in (linked_first, twice, linked_after, only_linked, plain)}
    relinked = WorkerAccountLinked(worker_id=str(uuid.uuid4()), person_key=k[linked_after], account_subject="acct-2")
    events = [
        account_linked(k[linked_first]),  # acct-1, then registered: the account stays
        registered(k[linked_first], township="白文镇"),
        registered(k[twice], township="临泉镇"),
        registered(k[twice], township="城庄镇"),  # the later one wins
        registered(k[linked_after], township="兔坂镇"),
        relinked,  # registered, then its account linked
        account_linked(k[only_linked]),
        registered(k[plain], categories=("rural_migrant",)),
    ]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(cs.runtime.engine.sync_engine, "before_cursor_execute", listener)
    try:
        applied = await cs.runtime.processors["certification-service"].apply_batch(
            [envelope(e, e.person_key) for e in events]
        )
    finally:
        event.remove(cs.runtime.engine.sync_engine, "before_cursor_execute", listener)
    assert applied == 8
    upserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO KNOWN_WORKERS")]
    # [linked] [registered linked_first, twice] [registered twice again, linked_after] [linked x2] [registered]
    assert len(upserts) == 5
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE CANDIDATES")]) == 1
    rows = {k_: await worker_row(cs, k_) for k_ in k.values()}
    assert (rows[k[linked_first]].registered, rows[k[linked_first]].township, rows[k[linked_first]].account_subject) == (
        True, "白文镇", "acct-1"
    )
    assert rows[k[twice]].township == "城庄镇"
    assert (rows[k[linked_after]].registered, rows[k[linked_after]].township, rows[k[linked_after]].account_subject) == (
        True, "兔坂镇", "acct-2"
    )
    assert (rows[k[only_linked]].registered, rows[k[only_linked]].township) == (False, None)
    assert rows[k[plain]].categories == ["rural_migrant"]
    async with cs.sessionmaker() as session:
        flags = dict((await session.execute(select(Candidate.person_key, Candidate.unknown_person))).all())
    assert flags == {k[linked_first]: False, k[only_linked]: True, k[plain]: False}


@pytest.mark.broker
async def test_round_trip_consumes_workers_and_publishes_certificate_events(database_factory, broker):
    """One end-to-end run on the real broker: voucher events in, certification events out."""
    settings = CertificationSettings(
        environment="test",
        database_url=await database_factory("certification_bus", migrated="certification_service.migrations"),
        kafka_bootstrap=broker.bootstrap,
        kafka_partitions=1,
    )
    async with running_service(create, settings, "certification_service.migrations") as svc:
        await svc.wipe(Base.metadata)
        number = resident_id(seq="321")
        key = key_of(svc, number)
        await publish(broker.bootstrap, registered(key, township="城庄镇"), key)

        async def projected():
            async with svc.sessionmaker() as session:
                return await session.scalar(select(KnownWorker.township).where(KnownWorker.person_key == key))

        assert await eventually(projected, timeout=60) == "城庄镇"
        staff = svc.headers("bureau", sub="staff-1")
        r = await svc.client.post(
            "/v1/evaluation-institutions",
            json={
                "name": "临县职业技能评价中心",
                "credit_code": credit_code(42),
                "filings": [{"occupation_code": "4-10-01-05", "level": 5, "certificate_type": "skill_level"}],
            },
            headers=staff,
        )
        institution_id = r.json()["id"]
        org = svc.headers("evaluation_org", sub="e-1", org=institution_id)
        r = await svc.client.post(
            "/v1/evaluations",
            json={"occupation_code": "4-10-01-05", "level": 5, "certificate_type": "skill_level",
                  "scheduled_on": "2026-12-10"},
            headers=org,
        )
        evaluation_id = r.json()["id"]
        r = await svc.client.post(
            f"/v1/evaluations/{evaluation_id}/candidates",
            json={"name": "张三丰", "id_number": number, "free_student_evaluation": True,
                  "graduation_year": int(r.json()["scheduled_on"][:4])},
            headers=org,
        )
        assert r.status_code == 201 and r.json()["unknown_person"] is False
        candidate_id = r.json()["id"]
        await svc.client.put(
            f"/v1/evaluations/{evaluation_id}/candidates/{candidate_id}/result",
            json={"theory_score": "88", "practical_score": "91"},
            headers=org,
        )
        r = await svc.client.post("/v1/certificates", json={"candidate_id": candidate_id}, headers=org)
        assert r.status_code == 201
        cert = r.json()
        async with TopicProbe(broker.bootstrap, CERTIFICATION_TOPIC) as probe:
            issued = await probe.wait_for(
                lambda e: e.type == "certificate.issued.v1" and e.payload.certificate_id == cert["id"], timeout=60
            )
            assert issued.partition_key == key
            assert issued.payload.free_student_evaluation is True
            for event_type, subject_key in (
                ("evaluation_institution.filed.v1", institution_id),
                ("evaluation.scheduled.v1", evaluation_id),
                ("evaluation.result_recorded.v1", key),
            ):
                found = await probe.wait_for(
                    lambda e, t=event_type, k=subject_key: e.type == t and e.partition_key == k, timeout=60
                )
                assert found.source == "/linxian/certification-service"
