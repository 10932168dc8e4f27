"""The dashboard and the public disclosure page in headless Chromium (issue 14): Debian's chromium driven by
Playwright for Python (`make test` installs chromium when it is missing; Playwright never downloads a browser).
The subsidy service runs under uvicorn on a real port, on the small county of `report_seed.py`. Each page must
load with no console error, render every chart, show exactly the report endpoints' numbers; a role without access
sees the refusal; the public page holds no unmasked ID number or mobile. Screenshots go to `test-artifacts/`
(`SKILLS_TEST_ARTIFACTS` to move them)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
import uvicorn
from playwright.async_api import Page, async_playwright

from skillkit.auth import mint_token
from skillkit.migrations import upgrade
from subsidy_service.adapters.report_refresh import refresh
from subsidy_service.config import SubsidySettings
from subsidy_service.main import create

from tests.subsidy import report_seed
from tests.subsidy.report_seed import WORKFORCE, YEAR

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("SKILLS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
RESIDENT_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def chromium_path() -> str:
    found = os.environ.get("SKILLS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is not installed: `make browser` (run by `make test`) installs it"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
async def served(database_factory) -> AsyncIterator[dict[str, Any]]:
    settings = SubsidySettings(environment="test", database_url=await database_factory("subsidy"), run_relay=False,
                               run_consumers=False, report_township_workforce=WORKFORCE)
    await asyncio.to_thread(upgrade, "subsidy_service.migrations", settings.database_url)
    app = create(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    async with app.state.runtime.sessionmaker() as session:
        await report_seed.seed(session)
        await refresh(session)
        await session.commit()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:
        yield {"base": base, "settings": settings, "client": client}
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        await browser.close()


async def open_page(browser, url: str) -> tuple[Page, list[str]]:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    return page, errors


async def ready(page: Page) -> None:
    await page.wait_for_selector("body[data-ready='true']", timeout=20000)


async def text(page: Page, testid: str) -> str:
    return (await page.get_by_test_id(testid).inner_text()).strip()


async def api(served, path: str, role: str = "bureau", **params) -> dict:
    token = mint_token(served["settings"], role)
    r = await served["client"].get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def yuan(value: str) -> str:
    return f"{float(value):,.2f}"


async def assert_charts_rendered(page: Page) -> int:
    charts = await page.eval_on_selector_all(
        "[data-chart]", "nodes => nodes.map(n => [n.id, n.dataset.rendered === 'true', !!n.querySelector('canvas')])")
    assert charts and all(rendered and canvas for _, rendered, canvas in charts), charts
    return len(charts)


async def login(page: Page, token: str) -> None:
    await page.fill("#token", token)
    await page.click("#login-button")


async def test_dashboard_refuses_without_a_token_and_for_a_role_without_access(served, browser):
    page, errors = await open_page(browser, served["base"] + "/dashboard")
    refusal = page.get_by_test_id("refusal")
    await refusal.wait_for(state="visible")
    assert "请先登录" in await refusal.inner_text()
    await login(page, mint_token(served["settings"], "training_org", org_id="I1"))
    await page.wait_for_function("document.getElementById('refusal').dataset.code === 'role_forbidden'")
    assert "无权访问" in await refusal.inner_text()
    assert await page.is_hidden("#content")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-refused.png"))
    # the refused report requests answered 401/403 (logged by the browser as failed loads); nothing else failed
    assert [e for e in errors if "401" not in e and "403" not in e] == []
    await page.close()


async def test_dashboard_shows_the_report_endpoints_numbers_and_drills_down(served, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, errors = await open_page(browser, served["base"] + "/dashboard")
    await login(page, mint_token(served["settings"], "bureau"))
    await ready(page)
    await page.select_option("#f-year", str(YEAR))
    await ready(page)
    assert await assert_charts_rendered(page) == 7

    targets = await api(served, "/v1/reports/targets", year=YEAR)
    assert await text(page, "kpi-t1-value") == str(targets["t1_trained"]["value"]) == "7"
    assert await text(page, "kpi-t2-value") == str(targets["t2_caregivers"]["value"]) == "3"
    assert await text(page, "kpi-t3e-value") == f"{targets['t3_employment']['rate_percent']}%" == "66.7%"
    assert await text(page, "kpi-t3c-value") == f"{targets['t3_certification']['rate_percent']}%"
    assert await text(page, "kpi-t4-value") == f"{targets['t4_county']['rate_percent']}%" == "35.7%"
    assert await text(page, "kpi-t5-value") == f"{targets['t5_classes_reached']}/{targets['t5_classes']}" == "1/2"
    assert await page.get_by_test_id("t5-C1").count() == 1

    funnel = await api(served, "/v1/reports/funnel", year=YEAR)
    shown = {s: int(await text(page, f"funnel-{s}-value")) for s in funnel["total"]}
    assert shown == funnel["total"] == {"issued": 9, "bound": 8, "completed": 7, "evaluated": 6, "certified": 4,
                                        "eligible": 4, "paid": 2}
    money = await api(served, "/v1/reports/money", year=YEAR, by="rule")
    for group in money["groups"]:
        assert await text(page, f"money-{group['key']}-amount") == yuan(group["amount"])
    assert await text(page, "money-S7-amount") == "1,600.00"
    funds = await api(served, "/v1/reports/funds", year=YEAR)
    for fund in funds["funds"]:
        for measure in ("allocated", "reserved", "paid", "available"):
            assert await text(page, f"fund-{fund['code']}-{measure}") == yuan(fund[measure])
    pipeline = await api(served, "/v1/reports/pipeline")
    assert await text(page, "pipe-backlog") == str(pipeline["outbox_backlog"])

    # drill-down: county -> 临泉镇 -> 临县技工学校 -> its classes, each level equal to the funnel endpoint
    async def drill_rows(expected: dict) -> None:
        for group in expected["groups"]:
            cells = await page.get_by_test_id(f"drill-{group['key']}").locator("td").all_inner_texts()
            assert cells == [group["label"], str(group["issued"]), str(group["completed"]), str(group["certified"]),
                             str(group["paid"])]

    await drill_rows(await api(served, "/v1/reports/funnel", year=YEAR, by="township"))
    await page.get_by_test_id("drill-临泉镇").click()
    await page.wait_for_selector("#chart-drill[data-level='institution']")
    await ready(page)
    by_institution = await api(served, "/v1/reports/funnel", year=YEAR, township="临泉镇", by="institution")
    assert [g["key"] for g in by_institution["groups"]] == ["I1", "I2", "未知"]
    await drill_rows(by_institution)
    await page.get_by_test_id("drill-I1").click()
    await page.wait_for_selector("#chart-drill[data-level='class']")
    await ready(page)
    by_class = await api(served, "/v1/reports/funnel", year=YEAR, township="临泉镇", institution_id="I1", by="class")
    assert [(g["key"], g["issued"], g["paid"]) for g in by_class["groups"]] == [("C1", 3, 1)]
    await drill_rows(by_class)
    assert await assert_charts_rendered(page) == 7

    # a filter: the first quarter's funnel
    await page.get_by_test_id("crumb-county").click()
    await ready(page)
    await page.select_option("#f-quarter", "1")
    await ready(page)
    q1 = await api(served, "/v1/reports/funnel", year=YEAR, quarter=1)
    assert {s: int(await text(page, f"funnel-{s}-value")) for s in q1["total"]} == q1["total"]
    assert q1["total"]["issued"] == 5
    await page.select_option("#f-quarter", "")
    await ready(page)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert errors == []
    await page.close()


async def test_disclosure_page_is_public_masked_and_equal_to_the_endpoint(served, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, errors = await open_page(browser, f"{served['base']}/disclosure?year={YEAR}")
    await ready(page)
    assert await assert_charts_rendered(page) == 2
    body = (await served["client"].get("/v1/public/disclosure", params={"year": YEAR})).json()
    for quarter in body["quarters"]:
        assert await text(page, f"quarter-{quarter['quarter']}-amount") == yuan(quarter["amount"])
    assert [await text(page, f"quarter-{q}-amount") for q in (1, 2, 3, 4)] == ["0.00", "900.00", "920.00", "0.00"]
    assert await text(page, "target-0-value") == f"{body['targets'][0]['value']} 人" == "7 人"
    assert await text(page, "audit-hash") == body["audit_head"]["head_hash"]
    row = page.get_by_test_id("payee-2-institution-I1")
    assert (await row.locator("td").all_inner_texts())[:4] == ["培训机构", "临县技工学校", "1", "500.00"]
    await row.get_by_role("button", name="名单").click()
    await page.wait_for_selector("[data-testid='person']")
    assert await page.get_by_test_id("person").locator("td").all_inner_texts() == ["张*三", "V1", "普惠制培训券", "500.00"]
    content = await page.inner_text("body")
    assert RESIDENT_ID.findall(content) == [] and MOBILE.findall(content) == []
    await page.screenshot(path=str(ARTIFACTS / "disclosure.png"), full_page=True)
    assert errors == []
    await page.close()
