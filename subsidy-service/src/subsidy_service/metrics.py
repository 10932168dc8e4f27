"""Business gauges behind the dashboard, on the service's /metrics (Prometheus), beside the kit's technical ones.

They are set from the same report functions as the dashboard (the county-wide targets, the funnel totals, money
per claim state, fund balances), by a periodic job (`report_metrics_seconds`) and whenever the targets report is
read county-wide: a scrape never runs a query. The consumer lag per group and partition is set the same way, from
the broker (`adapters/kafka_lag.py`), by the job and by each pipeline report. Grafana's "Targets" panels read them (deploy/grafana)."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.county import local_date
from skillkit.db import utcnow

log = logging.getLogger("subsidy_service.metrics")

TARGET_VALUE = Gauge("subsidy_target_value", "Progress of a plan target: a count (T1, T2) or a rate in % (T3, T4)",
                     ["rule", "target"])
TARGET_GOAL = Gauge("subsidy_target_goal", "The plan's goal of a target: a count (T1, T2) or a rate in % (T3, T4)",
                    ["rule", "target"])
T5_CLASSES_BELOW = Gauge("subsidy_t5_classes_below", "Order and inclusive classes below 50 % certified (T5)", [])
FUNNEL = Gauge("subsidy_funnel_vouchers", "Vouchers of the current policy year that reached a funnel stage",
               ["stage"])
CLAIM_AMOUNT = Gauge("subsidy_claims_amount_yuan", "Amount of the current year's claims per state (yuan)", ["state"])
CLAIM_COUNT = Gauge("subsidy_claims", "Number of the current year's claims per state", ["state"])
FUND = Gauge("subsidy_fund_yuan", "Fund balances of the current year (yuan)", ["fund", "measure"])
# Every consumer group of the platform, read from the broker by the subsidy service (adapters/kafka_lag.py).
CONSUMER_LAG = Gauge("subsidy_consumer_lag", "Records a consumer group has not committed yet, per partition",
                     ["group", "topic", "partition"])


def observe_lag(answer: dict[str, Any]) -> None:
    if not answer.get("available"):
        return
    CONSUMER_LAG.clear()  # groups and partitions that are gone must not linger at their last value
    for group in answer["groups"]:
        for p in group["partitions"]:
            if p["lag"] is not None:
                CONSUMER_LAG.labels(group["group"], p["topic"], str(p["partition"])).set(p["lag"])


def observe_targets(body: dict[str, Any]) -> None:
    for key in ("t1_trained", "t2_caregivers"):
        t = body[key]
        TARGET_VALUE.labels(t["rule_id"], key).set(t["value"])
        TARGET_GOAL.labels(t["rule_id"], key).set(t["target"])
    for key in ("t3_employment", "t3_certification", "t4_county"):
        t = body[key]
        if t["rate_percent"] is not None:
            TARGET_VALUE.labels(t["rule_id"], key).set(float(t["rate_percent"]))
        TARGET_GOAL.labels(t["rule_id"], key).set(float(t["threshold_percent"]))
    T5_CLASSES_BELOW.set(body["t5_below_total"])


async def refresh(session: AsyncSession, workforce: dict[str, int], year: int) -> None:
    from subsidy_service.adapters.report_queries import Filters
    from subsidy_service.handlers import reports

    f = Filters(year=year)
    observe_targets(await reports.targets(session, f, workforce))
    funnel = await reports.funnel(session, f, None)
    for stage, value in funnel["total"].items():
        FUNNEL.labels(stage).set(value)
    money = await reports.money(session, f, "state")
    for group in money["groups"]:
        CLAIM_AMOUNT.labels(group["key"]).set(float(group["amount"]))
        CLAIM_COUNT.labels(group["key"]).set(group["count"])
    for fund in (await reports.funds(session, year))["funds"]:
        for measure in ("allocated", "reserved", "paid", "available"):
            FUND.labels(fund["code"], measure).set(float(fund[measure]))


def metrics_job(workforce: dict[str, int], lag_reader: Any) -> Any:
    async def run(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with sessionmaker() as session:
            await refresh(session, workforce, local_date(utcnow()).year)
            await session.rollback()  # reads only
        observe_lag(await lag_reader.read())
    return run
