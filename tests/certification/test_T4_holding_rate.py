from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from certification_service.adapters.models import Candidate, Certificate, KnownWorker, TownshipWorkforce
from certification_service.handlers.reports import _meets
from skillkit.db import utcnow

from tests.certification.helpers import (
    count,
    issue,
    known_worker,
    new_evaluation,
    new_institution,
    passed_candidate,
    resident_id,
    staff,
)


async def put_workforce(cs, township, size, headers=None):
    return await cs.client.put(f"/v1/workforce/{township}", json={"workforce_size": size}, headers=headers or staff(cs))


async def test_T4_holders_per_township_against_workforce_and_32_percent_target(cs):
    institution_id = await new_institution(cs)
    level5 = await new_evaluation(cs, institution_id, level=5)
    level4 = await new_evaluation(cs, institution_id, level=4)
    people = {
        "a": (resident_id(seq="001"), "临泉镇"),
        "b": (resident_id(seq="002"), "临泉镇"),
        "c": (resident_id(seq="003"), "白文镇"),
        "d": (resident_id(seq="004"), None),  # not known to the voucher service
        "e": (resident_id(seq="005"), "白文镇"),  # certificate revoked: not a holder
    }
    for number, township in people.values():
        if township:
            await known_worker(cs, number, township=township)
    certificates = {}
    for name, (number, _) in people.items():
        candidate = await passed_candidate(cs, institution_id, level5, number)
        certificates[name] = (await issue(cs, institution_id, candidate["id"])).json()
    # a second certificate of the same person counts once
    second = await passed_candidate(cs, institution_id, level4, people["a"][0])
    assert (await issue(cs, institution_id, second["id"])).status_code == 201
    await cs.client.post(f"/v1/certificates/{certificates['e']['id']}/revoke", json={"reason": "fraud"}, headers=staff(cs))
    assert (await put_workforce(cs, "临泉镇", 6)).status_code == 200
    assert (await put_workforce(cs, "白文镇", 4)).status_code == 200
    assert (await put_workforce(cs, "城庄镇", 10)).status_code == 200
    r = await cs.client.get("/v1/reports/holding-rate", headers=cs.headers("auditor"))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["target"] == "0.32"
    assert sorted(t["township"] for t in data["townships"]) == sorted(["城庄镇", "白文镇", "临泉镇"])
    by_township = {t["township"]: t for t in data["townships"]}
    assert by_township["临泉镇"] == {
        "township": "临泉镇", "holders": 2, "workforce_size": 6, "holding_rate": "0.3333", "meets_target": True
    }
    assert by_township["白文镇"] == {
        "township": "白文镇", "holders": 1, "workforce_size": 4, "holding_rate": "0.2500", "meets_target": False
    }
    assert by_township["城庄镇"] == {
        "township": "城庄镇", "holders": 0, "workforce_size": 10, "holding_rate": "0.0000", "meets_target": False
    }
    assert data["holders_without_township"] == 1
    assert (data["county_holders"], data["county_workforce"]) == (4, 20)
    assert Decimal(data["county_holding_rate"]) == Decimal("0.2000")
    assert data["county_meets_target"] is False


async def test_T4_township_without_workforce_has_no_rate(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    number = resident_id()
    await known_worker(cs, number, township="安业乡")
    candidate = await passed_candidate(cs, institution_id, evaluation_id, number)
    await issue(cs, institution_id, candidate["id"])
    data = (await cs.client.get("/v1/reports/holding-rate", headers=staff(cs))).json()
    assert data["townships"] == [
        {"township": "安业乡", "holders": 1, "workforce_size": None, "holding_rate": None, "meets_target": None}
    ]
    assert (data["county_workforce"], data["county_holding_rate"], data["county_meets_target"]) == (0, None, None)


async def test_T4_workforce_is_set_by_bureau_only_and_validated(cs):
    r = await put_workforce(cs, "临泉镇", 0)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await put_workforce(cs, "临泉镇", 100, headers=cs.headers("evaluation_org", org="x"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    assert await count(cs, TownshipWorkforce) == 0
    assert (await put_workforce(cs, "临泉镇", 100)).json()["workforce_size"] == 100
    assert (await put_workforce(cs, "临泉镇", 120)).json()["workforce_size"] == 120
    assert await count(cs, TownshipWorkforce) == 1
    r = await cs.client.get("/v1/reports/holding-rate", headers=cs.headers("evaluation_org", org="x"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")


def test_T4_target_is_met_on_the_exact_fraction_not_the_rounded_rate():
    target = Decimal("0.32")
    assert _meets(3000, 9376, target) is False  # 0.319966, shown as 0.3200
    assert _meets(3000, 9375, target) is True  # exactly 32 %
    assert _meets(1, None, target) is None


async def add_holders(cs, evaluation_id: str, institution_id: str, township: str, n: int, start: int = 0) -> None:
    """n persons of the township holding one valid certificate each, written directly (hundreds are needed)."""
    now = utcnow()
    async with cs.sessionmaker() as session:
        for i in range(start, start + n):
            key = f"holder-{i:05d}"
            candidate_id = uuid.uuid4()
            session.add(KnownWorker(person_key=key, worker_id=str(uuid.uuid4()), township=township, categories=[],
                                    account_subject=None, registered=True, updated_at=now))
            session.add(Candidate(id=candidate_id, evaluation_id=uuid.UUID(evaluation_id), name="张三丰",
                                  id_number_encrypted="x", id_blind_index=key, person_key=key, unknown_person=False,
                                  free_student_evaluation=False, passed=True, registered_by="x", created_at=now))
            await session.flush()
            session.add(Certificate(certificate_no=f"T4-{i:05d}", candidate_id=candidate_id,
                                    evaluation_id=uuid.UUID(evaluation_id), institution_id=uuid.UUID(institution_id),
                                    person_key=key, holder_name="张三丰", certificate_type="skill_level",
                                    occupation_code="4-10-01-05", level=5, level_slot=5, active_slot="active",
                                    issued_on=date(2026, 11, 26), issued_by="x", free_student_evaluation=False,
                                    status="valid", created_at=now))
        await session.commit()


async def test_T4_target_boundary_uses_the_exact_rate(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    # 263 / 822 = 0.319951...: shown as 0.3200 but below the 32 % target
    await add_holders(cs, evaluation_id, institution_id, "临泉镇", 263)
    await put_workforce(cs, "临泉镇", 822)
    data = (await cs.client.get("/v1/reports/holding-rate", headers=staff(cs))).json()
    [township] = data["townships"]
    assert (township["holders"], township["holding_rate"], township["meets_target"]) == (263, "0.3200", False)
    assert (data["county_holding_rate"], data["county_meets_target"]) == ("0.3200", False)
    # 264 / 825 = 0.32 exactly: meets the target
    await add_holders(cs, evaluation_id, institution_id, "临泉镇", 1, start=263)
    await put_workforce(cs, "临泉镇", 825)
    data = (await cs.client.get("/v1/reports/holding-rate", headers=staff(cs))).json()
    [township] = data["townships"]
    assert (township["holders"], township["holding_rate"], township["meets_target"]) == (264, "0.3200", True)
    assert (data["county_holding_rate"], data["county_meets_target"]) == ("0.3200", True)
