"""Issue 13 (policy fidelity, round 2) through the real consumer, PostgreSQL and the API: each test is named after
the rule it holds the service to."""

from __future__ import annotations

from decimal import Decimal

from tests.subsidy.builders import Clock, certificate, chain
from tests.subsidy.helpers import claims, feed

LA = "living_allowance:V1:main"


async def test_S4_waits_for_the_certificate_and_a_relaxing_table_records_who(ss):
    """The mission's chain by default; a version that relaxes it pays without the certificate and the claim's lines
    name the version and the bureau user who published it (P10)."""
    clock = Clock()
    await feed(ss, chain(days=4, e3=True, cert_type=None, clock=clock))
    allowance = (await claims(ss))[LA]
    assert (allowance.state, allowance.amount, allowance.missing[0]["code"]) == (
        "waiting", Decimal("60.00"), "certificate_missing")
    r = await ss.client.put("/v1/policy-tables/2023", json={"s4": {"requires_certificate": False},
                                                            "note": "S4 先行发放"},
                            headers=ss.headers("bureau", sub="bureau-wang"))
    assert r.status_code == 200, r.text
    allowance = (await claims(ss))[LA]
    assert (allowance.state, allowance.amount, allowance.table_version) == ("eligible", Decimal("60.00"), 2)
    assert [line["text"] for line in allowance.lines] == [
        "S4: 4 天 × 15 = 60.00", "S4: 2023 年政策表第 2 版（bureau-wang 发布）不要求证书"]


async def test_S4_default_chain_pays_once_the_certificate_arrives(ss):
    clock = Clock()
    await feed(ss, chain(days=4, e3=True, cert_type=None, clock=clock))
    await feed(ss, [certificate("P1", "CERT1", clock)])
    allowance = (await claims(ss))[LA]
    assert (allowance.state, allowance.amount, [line["text"] for line in allowance.lines]) == (
        "eligible", Decimal("60.00"), ["S4: 4 天 × 15 = 60.00"])
