"""The subsidy REST API: chains, claims, the worker's and the institution's views, reviews, policy tables."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from skillkit.testing import plugin
from subsidy_service.adapters.models import Claim, PolicyTableRow

from tests.subsidy.builders import Clock, certificate, chain, registered, suspended
from tests.subsidy.helpers import claims, feed
from tests.subsidy.settlement_support import pay_workers_allowances


async def worker_with_chain(ss, **kw):
    clock = Clock()
    facts = [registered("P1", "acct-1", clock)] + chain(clock=clock, **kw)
    await feed(ss, facts)
    return facts


async def test_worker_sees_own_chain_with_links_and_event_ids(ss):
    facts = await worker_with_chain(ss, realname=None, e3=True)
    r = await ss.client.get("/v1/chains/V1", headers=ss.headers("worker", sub="acct-1"))
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["status_label"], body["kind_label"]) == ("waiting", "待补全", "普惠制培训券")
    links = {link["name"]: link for link in body["links"]}
    assert list(links) == ["voucher", "binding", "enrolment", "realname", "completion", "certificate",
                           "class_outcome", "allowance_category", "limits"]
    assert links["voucher"]["event_ids"] == [facts[1].event_id]
    assert (links["realname"]["status"], links["realname"]["zh"], links["realname"]["en"]) == (
        "missing", "尚待省培训实名制系统确认", "awaiting the province real-name system's verdict (P1)")
    assert [p["code"] for p in body["problems"]] == ["realname_missing"]
    by_type = {c["claim_type"]: c for c in body["claims"]}
    assert (by_type["training"]["state"], by_type["training"]["amount"]) == ("waiting", "500.00")
    assert by_type["living_allowance"]["amount"] == "75.00"


async def test_chain_access_is_scoped(ss):
    await worker_with_chain(ss)
    assert (await ss.client.get("/v1/chains/V1", headers=ss.headers("bureau"))).status_code == 200
    assert (await ss.client.get("/v1/chains/V1", headers=ss.headers("auditor"))).status_code == 200
    assert (await ss.client.get("/v1/chains/V1", headers=ss.headers("training_org", org="I1"))).status_code == 200
    other_org = await ss.client.get("/v1/chains/V1", headers=ss.headers("training_org", org="I2"))
    assert (other_org.status_code, other_org.json()["code"]) == (404, "chain_not_found")
    await feed(ss, [registered("P2", "acct-2", Clock())])
    other_worker = await ss.client.get("/v1/chains/V1", headers=ss.headers("worker", sub="acct-2"))
    assert (other_worker.status_code, other_worker.json()["code"]) == (404, "chain_not_found")
    unknown = await ss.client.get("/v1/chains/V1", headers=ss.headers("worker", sub="acct-unknown"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "worker_not_known")
    evaluator = await ss.client.get("/v1/chains/V1", headers=ss.headers("evaluation_org", org="EV1"))
    assert (evaluator.status_code, evaluator.json()["code"]) == (403, "role_forbidden")
    anonymous = await ss.client.get("/v1/chains/V1")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "token_missing")
    missing = await ss.client.get("/v1/chains/NOPE", headers=ss.headers("bureau"))
    assert (missing.status_code, missing.json()["code"]) == (404, "chain_not_found")


async def test_claims_list_filters_and_cursor_paging(ss):
    await worker_with_chain(ss, e3=True)
    staff = ss.headers("bureau")
    r = await ss.client.get("/v1/claims", params={"limit": 2}, headers=staff)
    assert r.status_code == 200 and len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    r2 = await ss.client.get("/v1/claims", params={"limit": 2, "cursor": r.json()["next_cursor"]}, headers=staff)
    assert len(r2.json()["items"]) == 1 and r2.json()["next_cursor"] is None
    ids = {c["id"] for c in r.json()["items"] + r2.json()["items"]}
    assert len(ids) == 3
    r = await ss.client.get("/v1/claims", params={"claim_type": "living_allowance"}, headers=staff)
    [allowance] = r.json()["items"]
    assert (allowance["amount"], allowance["payee_type"], allowance["payee_id"], allowance["lines"][0]["text"]) == (
        "75.00", "worker", "W-P1", "S4: 5 天 × 15 = 75.00")
    r = await ss.client.get("/v1/claims", params={"state": "eligible", "policy_year": 2023}, headers=staff)
    assert len(r.json()["items"]) == 3
    bad = await ss.client.get("/v1/claims", params={"state": "lost"}, headers=staff)
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    bad = await ss.client.get("/v1/claims", params={"cursor": "garbage"}, headers=staff)
    assert (bad.status_code, bad.json()["code"]) == (400, "cursor_invalid")


async def test_institution_sees_only_its_trainees_claims_and_totals(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock, days=5, e3=True))
    await feed(ss, chain(person="P2", voucher="V2", enrolment="E2", klass="C2", institution="I2", certificate="CERT2",
                         days=7, clock=clock))
    mine = await ss.client.get("/v1/claims", headers=ss.headers("training_org", org="I1"))
    assert {(c["voucher_id"], c["claim_type"]) for c in mine.json()["items"]} == {
        ("V1", "training"), ("V1", "living_allowance"), ("V1", "evaluation")}
    summary = await ss.client.get("/v1/claims/summary", headers=ss.headers("training_org", org="I1"))
    totals = {(t["claim_type"], t["state"]): (t["count"], t["amount"]) for t in summary.json()["totals"]}
    assert totals[("training", "eligible")] == (1, "500.00")
    assert totals[("living_allowance", "eligible")] == (1, "75.00")
    assert summary.json()["scope"] == "I1"
    evaluator = await ss.client.get("/v1/claims", headers=ss.headers("evaluation_org", org="EV1"))
    assert {c["certificate_id"] for c in evaluator.json()["items"]} == {"CERT1", "CERT2"}
    other = (await claims(ss))["training:V2:main"]
    r = await ss.client.get(f"/v1/claims/{other.id}", headers=ss.headers("training_org", org="I1"))
    assert (r.status_code, r.json()["code"]) == (404, "claim_not_found")
    r = await ss.client.get(f"/v1/claims/{other.id}", headers=ss.headers("finance"))
    assert r.json()["amount"] == "700.00"


async def test_I3_review_of_a_held_claim(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock) + [suspended("I1", clock)])
    held = (await claims(ss))["training:V1:main"]
    assert (held.state, held.reason_code) == ("held", "institution_suspended")
    no_reason = await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": False},
                                     headers=ss.headers("bureau"))
    assert (no_reason.status_code, no_reason.json()["code"]) == (422, "review_reason_required")
    assert (await claims(ss))["training:V1:main"].state == "held"
    r = await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": True}, headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["state"], r.json()["amount"]) == (200, "eligible", "500.00")
    again = await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": True}, headers=ss.headers("bureau"))
    assert (again.status_code, again.json()["code"]) == (409, "claim_not_held")
    org = await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": True},
                               headers=ss.headers("training_org", org="I1"))
    assert org.status_code == 403


async def test_the_interim_mark_paid_endpoint_is_gone(ss):
    await worker_with_chain(ss)
    claim = (await claims(ss))["training:V1:main"]
    r = await ss.client.post(f"/v1/claims/{claim.id}/mark-paid", headers=ss.headers("finance"))
    assert r.status_code == 404
    assert (await claims(ss))["training:V1:main"].state == "eligible"


async def test_worker_views_vouchers_certificates_allowances(ss):
    await worker_with_chain(ss, e3=True, days=8)
    worker = ss.headers("worker", sub="acct-1")
    vouchers = (await ss.client.get("/v1/me/vouchers", headers=worker)).json()
    assert [(v["voucher_id"], v["status"]) for v in vouchers] == [("V1", "complete")]
    certs = (await ss.client.get("/v1/me/certificates", headers=worker)).json()
    assert [(c["certificate_id"], c["revoked"], c["evaluation_claim"]["amount"]) for c in certs] == [
        ("CERT1", False, "400.00")]
    allowance = (await ss.client.get("/v1/me/allowances", headers=worker)).json()
    assert (allowance["awaited"], allowance["paid"]) == ("120.00", "0.00")
    await pay_workers_allowances(ss)
    allowance = (await ss.client.get("/v1/me/allowances", headers=worker)).json()
    assert (allowance["awaited"], allowance["paid"]) == ("0.00", "120.00")
    r = await ss.client.get("/v1/me/vouchers", headers=ss.headers("bureau"))
    assert r.status_code == 403


async def test_policy_table_2023_is_shipped(ss):
    r = await ss.client.get("/v1/policy-tables/2023", headers=ss.headers("bureau"))
    assert r.status_code == 200
    body = r.json()
    assert (body["version"], body["changed_by"], body["effective_from"], body["effective_to"]) == (
        1, "system:RULES.md", "2023-01-01", "2024-03-31")
    rules = body["rules"]
    assert (rules["s1"]["rule_id"], rules["s1"]["daily_rate"], rules["s1"]["cap"]) == ("S1", "100", "1000")
    assert (rules["s2"]["first_rate"], rules["s2"]["later_rate"], rules["s2"]["cap"]) == ("150", "100", "4000")
    assert rules["s8"]["levels"] == {"5": "400", "4": "600", "3": "800", "2": None, "1": None}
    assert rules["realname_required"] is True
    r = await ss.client.get("/v1/policy-tables/2031", headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (404, "policy_table_not_found")


async def test_put_on_a_later_year_never_changes_earlier_claims(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock, days=5))
    await feed(ss, chain(voucher="V2", enrolment="E2", klass="C2", certificate="CERT2", days=5, year=2024,
                         realname=None, clock=clock, start=date(2024, 6, 1), completed_on=date(2024, 6, 15),
                         cert_on=date(2024, 6, 20), bound_at=datetime(2024, 5, 20, tzinfo=timezone.utc)))
    before = await claims(ss)
    assert (before["training:V2:main"].state, before["training:V2:main"].table_year) == ("waiting", 2023)
    body = {"s1": {"daily_rate": "120", "cap": "1200"}, "note": "2024 rates"}
    r = await ss.client.put("/v1/policy-tables/2024", json=body, headers=ss.headers("bureau", sub="staff-9"))
    assert r.status_code == 201
    assert (r.json()["version"], r.json()["changed_by"], r.json()["rules"]["s1"]["daily_rate"]) == (1, "staff-9", "120")
    after = await claims(ss)
    assert (after["training:V1:main"].amount, after["training:V1:main"].table_year) == (Decimal("500.00"), 2023)
    assert after["training:V1:main"].updated_at == before["training:V1:main"].updated_at
    assert (after["training:V2:main"].amount, after["training:V2:main"].table_year, after["training:V2:main"].table_version) == (
        Decimal("600.00"), 2024, 1)
    # A second version of 2024: the waiting claim follows it.
    r = await ss.client.put("/v1/policy-tables/2024", json={"s1": {"daily_rate": "110", "cap": "1100"}},
                            headers=ss.headers("admin"))
    assert (r.status_code, r.json()["version"]) == (200, 2)
    assert (await claims(ss))["training:V2:main"].amount == Decimal("550.00")


async def test_eligible_claim_keeps_the_table_version_it_was_computed_with(ss):
    await feed(ss, chain(days=5))
    r = await ss.client.put("/v1/policy-tables/2023", json={"s1": {"daily_rate": "90", "cap": "900"}},
                            headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["version"]) == (200, 2)
    await feed(ss, [certificate("P1", "CERT5", Clock(), level=4)])  # any later event re-evaluates the person
    training = (await claims(ss))["training:V1:main"]
    assert (training.amount, training.table_version) == (Decimal("500.00"), 1)


async def test_a_new_version_changes_only_what_it_names(ss):
    """A version that names S1 keeps the S7 and S3 values an earlier version set (they do not fall back to RULES.md);
    a mapping it names (S3 projects) is replaced whole; a year without a table starts from the one carried forward."""
    staff = ss.headers("bureau")
    r = await ss.client.put("/v1/policy-tables/2023", headers=staff, json={
        "s7": {"daily_rate": "120", "cap": "1500"},
        "s3": {"projects": {"P-1": {"daily_rate": "130", "cap": "1300"}, "P-2": {"daily_rate": "90", "cap": "900"}}},
    })
    assert (r.status_code, r.json()["version"]) == (200, 2)
    r = await ss.client.put("/v1/policy-tables/2023", headers=staff, json={
        "s1": {"daily_rate": "110"}, "s3": {"projects": {"P-1": {"daily_rate": "140", "cap": "1400"}}},
    })
    assert (r.status_code, r.json()["version"]) == (200, 3)
    rules = r.json()["rules"]
    assert (rules["s1"]["daily_rate"], rules["s1"]["cap"]) == ("110", "1000")  # S1's cap was not named: kept
    assert (rules["s7"]["daily_rate"], rules["s7"]["cap"]) == ("120", "1500")  # version 2's, not RULES.md's
    assert rules["s3"]["projects"] == {"P-1": {"daily_rate": "140", "cap": "1400"}}
    assert rules["s3"]["default"] == {"daily_rate": "100", "cap": "1000"}
    assert (rules["s2"]["first_rate"], rules["s8"]["levels"]["5"]) == ("150", "400")
    r = await ss.client.put("/v1/policy-tables/2024", headers=staff, json={"note": "2024: as 2023 for now"})
    assert (r.status_code, r.json()["version"], r.json()["effective_from"]) == (201, 1, "2024-01-01")
    assert r.json()["rules"] == rules


async def test_put_policy_table_bad_input_changes_nothing(ss):
    async def count():
        async with ss.sessionmaker() as session:
            return await session.scalar(select(func.count()).select_from(PolicyTableRow))

    staff = ss.headers("bureau")
    r = await ss.client.put("/v1/policy-tables/2024", json={"s1": {"daily_rate": "-1", "cap": "1000"}}, headers=staff)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await ss.client.put("/v1/policy-tables/2024", json={"effective_from": "2023-05-01"}, headers=staff)
    assert (r.status_code, r.json()["code"]) == (422, "policy_table_invalid")
    r = await ss.client.put("/v1/policy-tables/2024", json={"s8": {"levels": {"7": "100"}}}, headers=staff)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await ss.client.put("/v1/policy-tables/2024", json={"s2": {"day_limits": {"4-10-01/5": 12}}}, headers=staff)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert "s2.day_limits" in r.json()["detail"]
    r = await ss.client.put("/v1/policy-tables/2024", json={"bogus": 1}, headers=staff)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await ss.client.put("/v1/policy-tables/1999", json={}, headers=staff)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await ss.client.put("/v1/policy-tables/2024", json={}, headers=ss.headers("training_org", org="I1"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    assert await count() == 1


async def test_put_policy_table_is_idempotent_with_a_key(ss):
    staff = ss.headers("bureau", **{"Idempotency-Key": "k-1"})
    first = await ss.client.put("/v1/policy-tables/2025", json={"note": "a"}, headers=staff)
    second = await ss.client.put("/v1/policy-tables/2025", json={"note": "a"}, headers=staff)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    listed = (await ss.client.get("/v1/policy-tables", headers=ss.headers("auditor"))).json()
    assert [(t["policy_year"], t["version"]) for t in listed] == [(2023, 1), (2025, 1)]
    async with ss.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Claim)) == 0


async def test_claim_commands_refuse_bad_input_precisely(ss):
    import uuid

    unknown = uuid.uuid4()
    r = await ss.client.post(f"/v1/claims/{unknown}/review", json={"approved": True}, headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (404, "claim_not_found")
    r = await ss.client.post("/v1/claims/not-a-uuid/review", json={"approved": True}, headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    await feed(ss, chain() + [suspended("I1", Clock())])
    held = (await claims(ss))["training:V1:main"]
    r = await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": True, "extra": 1},
                             headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await ss.client.post(f"/v1/claims/{held.id}/review", content=b"{not json", headers={
        **ss.headers("bureau"), "Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, "malformed_json")
    after = (await claims(ss))["training:V1:main"]
    assert (after.state, after.updated_at) == ("held", held.updated_at)


async def test_refused_review_rejects_with_the_reason_and_records_who(ss):
    await feed(ss, chain() + [suspended("I1", Clock())])
    held = (await claims(ss))["training:V1:main"]
    r = await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": False, "reason": "虚假培训"},
                             headers=ss.headers("bureau", sub="bureau-7"))
    assert (r.status_code, r.json()["state"], r.json()["reason"]["code"]) == (200, "rejected", "review_rejected")
    assert r.json()["reason"]["zh"] == "局方复核不予兑现（虚假培训）"
    from subsidy_service.adapters.models import FactRow

    async with ss.sessionmaker() as session:
        review = await session.scalar(select(FactRow).where(FactRow.kind == "review"))
    assert (review.data["reviewed_by"], review.data["approved"], review.person_key) == ("bureau-7", False, "P1")


async def test_chains_list_by_status_scoped_and_paged(ss):
    clock = Clock()
    await feed(ss, chain(clock=clock))
    await feed(ss, chain(person="P2", voucher="V2", enrolment="E2", klass="C2", certificate="CERT2", realname=None,
                         clock=clock))
    await feed(ss, chain(person="P3", voucher="V3", enrolment="E3", klass="C3", institution="I3",
                         certificate="CERT3", clock=clock))
    staff = ss.headers("bureau")
    waiting = (await ss.client.get("/v1/chains", params={"status": "waiting"}, headers=staff)).json()
    assert [(c["voucher_id"], [p["code"] for p in c["problems"]]) for c in waiting["items"]] == [
        ("V2", ["realname_missing"])]
    first = (await ss.client.get("/v1/chains", params={"limit": 2}, headers=staff)).json()
    rest = (await ss.client.get("/v1/chains", params={"limit": 2, "cursor": first["next_cursor"]}, headers=staff)).json()
    assert sorted(c["voucher_id"] for c in first["items"] + rest["items"]) == ["V1", "V2", "V3"]
    mine = (await ss.client.get("/v1/chains", headers=ss.headers("training_org", org="I1"))).json()
    assert sorted(c["voucher_id"] for c in mine["items"]) == ["V1", "V2"]
    bad = await ss.client.get("/v1/chains", params={"status": "lost"}, headers=staff)
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    worker = await ss.client.get("/v1/chains", headers=ss.headers("worker"))
    assert (worker.status_code, worker.json()["code"]) == (403, "role_forbidden")


async def test_nul_character_in_query_or_path_is_a_400_problem_not_a_500(ss):
    """Found by tests/subsidy/test_api_fuzz.py: PostgreSQL refused the NUL in the query and the API answered 500."""
    staff = ss.headers("bureau")
    query = await ss.client.get("/v1/claims", params={"institution_id": "\x00"}, headers=staff)
    assert (query.status_code, query.headers["content-type"], query.json()["code"]) == (
        400, "application/problem+json", "nul_character")
    assert query.json()["detail"] == "query parameter institution_id contains a NUL character (%00)"
    path = await ss.client.get("/v1/chains/V%001", headers=staff)
    assert (path.status_code, path.json()["detail"]) == (400, "the path contains a NUL character (%00)")


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="SQLite text holds a NUL; PostgreSQL's refuses it")
async def test_nul_character_in_a_json_body_is_a_400_problem_and_changes_nothing(ss):
    staff = ss.headers("bureau")
    r = await ss.client.put("/v1/policy-tables/2024", json={"note": "2024\u0000rates"}, headers=staff)
    assert (r.status_code, r.headers["content-type"], r.json()["code"]) == (400, "application/problem+json", "nul_character")
    assert r.json()["detail"] == "a text value contains a NUL character (\\u0000), which cannot be stored"
    listed = (await ss.client.get("/v1/policy-tables", headers=staff)).json()
    assert [(t["policy_year"], t["version"]) for t in listed] == [(2023, 1)]


async def test_policy_table_version_beyond_the_column_is_a_422_not_a_500(ss):
    """Found by tests/subsidy/test_api_fuzz.py: version=2147483648 overflowed PostgreSQL's integer and answered 500."""
    r = await ss.client.get("/v1/policy-tables/2023", params={"version": 2**31}, headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert "query.version" in r.json()["detail"]
