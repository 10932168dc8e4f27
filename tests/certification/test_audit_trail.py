"""P10 audit trail in the certification service: filings, institution status, results, certificates issued and
revoked, and the T4 workforce figures are recorded with who, role, organisation and before -> after."""

from __future__ import annotations

import hashlib

from tests.certification.helpers import (
    FILINGS,
    certified,
    credit_code,
    new_candidate,
    new_evaluation,
    new_institution,
    org,
    passed_candidate,
    resident_id,
    staff,
)

ENTRY_KEYS = ("actor", "role", "org_id", "action", "entity_type", "entity_id", "before", "after", "reason")
SORTED_FILINGS = [FILINGS[2], FILINGS[1], FILINGS[0]]  # by occupation, certificate type, level


async def entries(cs, **filters) -> list[dict]:
    r = await cs.client.get("/v1/audit/entries", params=filters, headers=cs.headers("auditor"))
    assert r.status_code == 200, r.text
    return [{k: e[k] for k in ENTRY_KEYS} for e in r.json()["items"]]


async def verified(cs) -> dict:
    r = await cs.client.get("/v1/audit/verify", headers=cs.headers("admin"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_P10_filings_and_suspension_of_an_evaluation_institution_are_recorded(cs):
    institution_id = await new_institution(cs)
    r = await cs.client.put(f"/v1/evaluation-institutions/{institution_id}/filings", json={"filings": FILINGS[:1]},
                            headers=cs.headers("admin", sub="admin-1"))
    assert r.status_code == 200, r.text
    r = await cs.client.post(f"/v1/evaluation-institutions/{institution_id}/status",
                             json={"status": "suspended", "reason": "评价过程不规范"}, headers=staff(cs))
    assert r.status_code == 200, r.text

    bureau = {"actor": "staff-1", "role": "bureau", "org_id": None, "entity_type": "evaluation_institution",
              "entity_id": institution_id}
    assert await entries(cs, entity_id=institution_id) == [
        {**bureau, "action": "evaluation_institution.register", "before": None, "reason": None, "after": {
            "name": "临县职业技能评价中心", "credit_code": credit_code(1), "status": "approved",
            "filings": SORTED_FILINGS}},
        {**bureau, "actor": "admin-1", "role": "admin", "action": "evaluation_institution.filings", "reason": None,
         "before": {"filings": SORTED_FILINGS}, "after": {"filings": FILINGS[:1]}},
        {**bureau, "action": "evaluation_institution.suspend", "reason": "评价过程不规范",
         "before": {"status": "approved", "status_reason": None},
         "after": {"status": "suspended", "status_reason": "评价过程不规范"}},
    ]
    assert (await verified(cs))["ok"] is True


async def test_P10_result_issue_and_revocation_of_a_certificate_are_recorded(cs):
    institution_id, cert = await certified(cs, resident_id())
    r = await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": "fraud", "note": "冒名顶替"},
                             headers=staff(cs))
    assert r.status_code == 200, r.text
    again = await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": "error"}, headers=staff(cs))
    assert (again.status_code, again.json()["code"]) == (409, "certificate_already_revoked")

    evaluator = {"actor": "evaluator-1", "role": "evaluation_org", "org_id": institution_id, "before": None,
                 "reason": None}
    [_, scheduled, result, issued, revoked] = await entries(cs)
    assert scheduled == {**evaluator, "action": "evaluation.schedule", "entity_type": "evaluation",
                         "entity_id": cert["evaluation_id"], "after": {
                             "institution_id": institution_id, "occupation_code": "4-10-01-05", "level": 5,
                             "certificate_type": "skill_level", "scheduled_on": "2026-12-10"}}
    assert result == {**evaluator, "action": "candidate.result", "entity_type": "candidate",
                      "entity_id": cert["candidate_id"], "after": {
                          "evaluation_id": cert["evaluation_id"], "theory_score": "80.00", "practical_score": "75.50",
                          "passed": True}}
    assert issued == {**evaluator, "action": "certificate.issue", "entity_type": "certificate",
                      "entity_id": cert["id"], "after": {
                          "certificate_no": cert["certificate_no"], "candidate_id": cert["candidate_id"],
                          "evaluation_id": cert["evaluation_id"], "occupation_code": "4-10-01-05", "level": 5,
                          "status": "valid"}}
    assert revoked == {"actor": "staff-1", "role": "bureau", "org_id": None, "action": "certificate.revoke",
                       "entity_type": "certificate", "entity_id": cert["id"], "before": {"status": "valid"},
                       "after": {"status": "revoked", "revoked_reason": "fraud", "revoked_note": "冒名顶替"},
                       "reason": "fraud"}
    result = await verified(cs)
    assert (result["ok"], result["entries"], result["first_broken_id"]) == (True, 5, None)


async def test_P10_a_batch_issue_is_one_entry_naming_each_certificate(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    first = await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq="201"))
    second = await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq="202"), name="李四")
    r = await cs.client.post(f"/v1/evaluations/{evaluation_id}/certificates", headers=org(cs, institution_id))
    assert (r.status_code, r.json()["issued"]) == (200, 2), r.text
    by_candidate = {c["candidate_id"]: c for c in r.json()["certificates"]}
    [batch] = await entries(cs, action="certificate.issue_batch")
    assert batch["entity_id"] == evaluation_id and batch["org_id"] == institution_id
    assert batch["after"]["issued"] == 2 and batch["after"]["refused"] == 0
    assert sorted(batch["after"]["certificates"], key=lambda c: c["certificate_no"]) == sorted((
        {"id": c["id"], "certificate_no": c["certificate_no"], "candidate_id": c["candidate_id"],
         "evaluation_id": evaluation_id, "occupation_code": "4-10-01-05", "level": 5, "status": "valid"}
        for c in (by_candidate[first["id"]], by_candidate[second["id"]])), key=lambda c: c["certificate_no"])
    assert (await verified(cs))["ok"] is True


async def test_P10_workforce_figures_are_recorded_before_to_after(cs):
    for size in (52000, 51800):
        r = await cs.client.put("/v1/workforce/临泉镇", json={"workforce_size": size}, headers=staff(cs))
        assert r.status_code == 200, r.text
    assert [(e["action"], e["entity_id"], e["before"], e["after"]) for e in await entries(cs)] == [
        ("workforce.set", "临泉镇", {"workforce_size": None}, {"workforce_size": 52000}),
        ("workforce.set", "临泉镇", {"workforce_size": 52000}, {"workforce_size": 51800}),
    ]


async def test_P10_institutions_and_workers_may_not_verify(cs):
    institution_id = await new_institution(cs)
    for headers in (org(cs, institution_id), cs.headers("worker"), staff(cs)):
        r = await cs.client.get("/v1/audit/verify", headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await cs.client.get("/v1/audit/entries", headers=org(cs, institution_id))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")


async def test_P10_a_results_upload_is_one_entry_with_the_files_digest(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    number = resident_id(seq="301")
    await new_candidate(cs, institution_id, evaluation_id, number)
    content = f"身份证号,理论成绩,实操成绩\n{number},85,90.5\n{resident_id(seq='302')},70,70\n".encode()
    r = await cs.client.post(f"/v1/evaluations/{evaluation_id}/results/upload",
                             files={"file": ("results.csv", content, "text/csv")}, headers=org(cs, institution_id))
    assert r.status_code == 200, r.text
    assert await entries(cs, action="evaluation.results_upload") == [{
        "actor": "evaluator-1", "role": "evaluation_org", "org_id": institution_id,
        "action": "evaluation.results_upload", "entity_type": "evaluation", "entity_id": evaluation_id,
        "before": None, "reason": None,
        "after": {"file": "results.csv", "file_sha256": hashlib.sha256(content).hexdigest(), "applied": 1,
                  "rejected": 1}}]
