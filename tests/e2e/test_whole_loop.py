"""The whole loop, end to end: 发券 → 培训 → 持证 → 兑现 across four separate service processes.

One platform start for the module (Tansu + four uvicorn processes + the province real-name simulator, on
PostgreSQL when the suite runs on it, SQLite files otherwise). The loop is driven only through the public REST
APIs (`testsupport.loop`), as the mobile app, the institutions, the evaluation institution and bureau staff would.
Waits are polls with a deadline; nothing asserts a duration.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from testsupport.api import Api, Endpoints
from testsupport.county import ClassPlan, County, EvaluationInstitution, Institution, Trainee, credit_code, resident_id
from testsupport.loop import LoopDriver
from testsupport.processes import platform_running, sqlite_urls
from skillkit.testing.plugin import test_backend as chosen_backend

pytestmark = pytest.mark.e2e

CAREGIVER = "4-10-01-05"  # 养老护理员
COOK = "4-03-02-01"  # 中式烹调师


def _county() -> County:
    school = Institution("school", "临县技工学校", "临泉镇", ["inclusive", "order"], [CAREGIVER, COOK],
                         credit_code("school", 1))
    evaluator = EvaluationInstitution("临县职业技能评价中心", credit_code("public", 2), [
        {"occupation_code": CAREGIVER, "level": 5, "certificate_type": "skill_level"},
        {"occupation_code": COOK, "level": 5, "certificate_type": "skill_level"},
    ])

    def trainee(i: int, name: str, township: str, categories: list[str], days: int, **kw: Any) -> Trainee:
        return Trainee(name, resident_id(i), township, categories, days, mobile=f"1391000{i:04d}", **kw)

    inclusive = ClassPlan(school, "2026年第9期养老护理员普惠制培训班", "inclusive", CAREGIVER, planned_days=7, trainees=[
        trainee(1, "张秀英", "白文镇", ["rural_migrant"], 7),  # S1: 7 天 × 100 = 700.00
        trainee(2, "刘建国", "城庄镇", ["poverty_alleviated_labour"], 6),  # S1 600.00 + S4 6 天 × 15 = 90.00
    ])
    # S2: 5 trainees, 4 employed = exactly 80 % (the gate is inclusive); the first attends all 12 days.
    order = ClassPlan(
        school, "2026年第3期中式烹调师订单班", "order", COOK, planned_days=12,
        employer={"employer": "太原市晋味餐饮管理有限公司", "credit_code": credit_code("company", 3), "positions_promised": 5},
        trainees=[
            trainee(3, "王海燕", "兔坂镇", ["urban_unemployed"], 12, employed=True),
            trainee(4, "李明", "安业乡", ["rural_migrant"], 11, employed=True),
            trainee(5, "陈丽", "临泉镇", ["school_leaver"], 10, employed=True),
            trainee(6, "赵强", "白文镇", ["rural_migrant"], 12, employed=True),
            trainee(7, "孙磊", "城庄镇", ["employment_difficulty"], 10, employed=False),
        ],
    )
    return County([school], evaluator, [inclusive, order])


@pytest.fixture(scope="module")
async def loop_run(database_factory, tmp_path_factory) -> AsyncIterator[tuple[County, dict[str, dict], dict[str, dict]]]:
    """Starts the platform once, drives the county through the loop, keeps every claim and chain."""
    logs: Path = tmp_path_factory.mktemp("e2e-logs")
    if chosen_backend() == "postgres":
        urls = {name: await database_factory(name.split("-")[0]) for name in
                ("voucher-service", "training-service", "certification-service", "subsidy-service")}
    else:
        urls = sqlite_urls(tmp_path_factory.mktemp("e2e-db"))
    county = _county()
    with platform_running(urls, log_dir=logs) as platform:
        async with Api(Endpoints.of(platform), concurrency=8) as api:
            driver = LoopDriver(api, deadline_s=120)
            await driver.setup(county)
            # SQLite (off CI): certify after training, see BENCHMARKS.md "SQLite under concurrent writers"
            await driver.run_county(county, certify_after_training=chosen_backend() != "postgres")
            claims = await driver.wait_for_claims(county, settled=frozenset({"eligible"}), deadline_s=120)
            chains = {t.voucher_id: await driver.chain(t.voucher_id) for t in county.trainees}
    yield county, claims, chains


def _trainee(county: County, name: str) -> Trainee:
    return next(t for t in county.trainees if t.name == name)


def _claim(claims: dict[str, dict], kind: str, subject: str | None, part: str = "main") -> dict:
    return claims[f"{kind}:{subject}:{part}"]


async def test_S1_inclusive_trainee_seven_days_is_700(loop_run) -> None:
    county, claims, _ = loop_run
    t = _trainee(county, "张秀英")
    claim = _claim(claims, "training", t.voucher_id)
    school = county.institutions[0]
    assert claim["state"] == "eligible"
    assert Decimal(claim["amount"]) == Decimal("700.00")
    assert claim["rule_ids"] == ["S1"]
    assert [(line["rule_id"], line["text"], Decimal(line["amount"])) for line in claim["lines"]] == [
        ("S1", "S1: 7 天 × 100 = 700.00", Decimal("700.00"))
    ]
    assert claim["payee_type"] == "institution" and claim["payee_id"] == school.id
    assert claim["kind"] == "inclusive" and claim["eligible_at"] is not None
    # no living allowance for a worker outside E3
    assert f"living_allowance:{t.voucher_id}:main" not in claims


async def test_S8_evaluation_subsidy_paid_to_the_evaluation_institution(loop_run) -> None:
    county, claims, _ = loop_run
    t = _trainee(county, "张秀英")
    claim = _claim(claims, "evaluation", t.certificate_id)
    assert claim["state"] == "eligible"
    assert Decimal(claim["amount"]) == Decimal("400.00")  # S8: 初级工 400
    assert claim["rule_ids"] == ["S8"]
    assert claim["payee_id"] == county.evaluation_institution.id


async def test_S2_order_trainee_at_exactly_80_percent_employment(loop_run) -> None:
    county, claims, chains = loop_run
    t = _trainee(county, "王海燕")
    claim = _claim(claims, "training", t.voucher_id)
    assert claim["state"] == "eligible"
    assert Decimal(claim["amount"]) == Decimal("1700.00")
    assert claim["rule_ids"] == ["S2"]
    assert [(line["rule_id"], line["text"], Decimal(line["amount"])) for line in claim["lines"]] == [
        ("S2", "S2: 10 天 × 150 + 2 天 × 100 = 1700.00", Decimal("1700.00"))
    ]
    order = county.classes[1]
    assert order.outcome is not None and order.outcome["employed"] == 4 and order.outcome["trainees_completed"] == 5
    # every trainee of the order class is paid at the S2 rates, exact to the fen
    expected = {"王海燕": "1700.00", "李明": "1600.00", "陈丽": "1500.00", "赵强": "1700.00", "孙磊": "1500.00"}
    assert {x.name: _claim(claims, "training", x.voucher_id)["amount"] for x in order.trainees} == expected
    outcome_link = next(link for link in chains[t.voucher_id]["links"] if link["name"] == "class_outcome")
    assert outcome_link["status"] == "ok" and "80.0 %" in (outcome_link["note"] or "")


async def test_S4_living_allowance_for_a_poverty_alleviated_worker(loop_run) -> None:
    county, claims, _ = loop_run
    t = _trainee(county, "刘建国")
    training = _claim(claims, "training", t.voucher_id)
    living = _claim(claims, "living_allowance", t.voucher_id)
    assert (training["state"], Decimal(training["amount"]), training["rule_ids"]) == ("eligible", Decimal("600.00"), ["S1"])
    assert living["state"] == "eligible"
    assert Decimal(living["amount"]) == Decimal("90.00")  # S4: 6 天 × 15
    assert living["rule_ids"] == ["S4"]
    assert [line["text"] for line in living["lines"]] == ["S4: 6 天 × 15 = 90.00"]
    assert living["payee_type"] == "worker" and living["payee_id"] == t.worker_id


async def test_chain_shows_every_link_with_its_events(loop_run) -> None:
    county, _, chains = loop_run
    for t in (_trainee(county, "张秀英"), _trainee(county, "王海燕")):
        chain = chains[t.voucher_id]
        assert chain["status"] == "complete"
        assert chain["enrolment_id"] == t.enrolment_id and chain["certificate_id"] == t.certificate_id
        links = {link["name"]: link for link in chain["links"]}
        # issue 13: an order class's training rests on a category, confirmed by township staff in the loop (E1)
        gate = ["category"] if chain["kind"] == "order" else []
        assert list(links) == ["voucher", "binding", "enrolment", "realname", "completion", "certificate",
                               "class_outcome", *gate, "limits"]
        if gate:
            assert links["category"]["note"] == f"已核实：城镇登记失业人员（{t.evidence_reference}）"
        for name in ("voucher", "binding", "enrolment", "realname", "completion", "certificate", *gate):
            assert links[name]["status"] == "ok", links[name]
            assert links[name]["event_ids"], name
        assert links["completion"]["note"] == f"实际培训 {t.attended_days} 天"
        assert links["class_outcome"]["status"] == ("ok" if chain["kind"] == "order" else "not_required")
        assert chain["problems"] == []
        assert [c["state"] for c in chain["claims"]] == ["eligible"]
