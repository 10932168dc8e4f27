"""Report endpoints behind the ops dashboard (issue 14): targets T1–T5, the funnel, money, funds, pipeline health.
Bureau, finance, auditors and admins read them; each number on the dashboard page comes from one of them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.consumer import DEAD_LETTERED

from subsidy_service.adapters.report_queries import Filters
from subsidy_service.adapters.report_refresh import refresh_stamp
from subsidy_service.api.report_schemas import FilterOptions, FundsOut, FunnelOut, MoneyOut, PipelineOut, TargetsOut
from subsidy_service.handlers import reports
from subsidy_service.metrics import observe_lag, observe_targets

router = APIRouter(prefix="/v1/reports", tags=["reports 报表"])
READERS = require_roles(Role.BUREAU, Role.FINANCE, Role.AUDITOR, Role.ADMIN)

Year = Annotated[int | None, Query(ge=2000, le=2100, description="policy year of the vouchers and claims")]
Quarter = Annotated[int | None, Query(ge=1, le=4, description="quarter of `year` (county time); needs `year`")]
Township = Annotated[str | None, Query(max_length=50, description="the worker's township (乡镇)")]
Institution = Annotated[str | None, Query(max_length=64, description="training institution id")]
ClassId = Annotated[str | None, Query(max_length=64, description="class id")]


class ReportCache:
    """Answers computed from the read models change only when the refresh job has run: each answer is kept with the
    refresh stamp it was computed under (one primary-key read per request) and reused until the stamp moves. Money,
    which reads the live claims, is kept the same way, so a page's numbers all belong to one refresh."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: dict[Any, tuple[Any, Any]] = {}

    async def get_or_compute(self, session: Any, key: Any, compute: Any) -> Any:
        stamp = await refresh_stamp(session)
        hit = self._items.get(key)
        if stamp is not None and hit is not None and hit[0] == stamp:
            return hit[1]
        value = await compute()
        if len(self._items) >= self.size:
            self._items.clear()
        if stamp is not None:
            self._items[key] = (stamp, value)
        return value


async def warm(sessionmaker: Any, cache: ReportCache, workforce: dict[str, int]) -> None:
    """Right after a refresh: computes what the dashboard opens with (the newest year, county-wide) into the cache,
    so its first visitor after a refresh does not pay for the aggregates (BENCHMARKS.md: ≈ 1.5 s for the targets
    at 1,000,000 vouchers, ≈ 11 ms from the cache)."""
    async with sessionmaker() as session:
        options = await cache.get_or_compute(session, ("filters",), lambda: reports.filter_options(session))
        if not options["years"]:
            return
        f = filters(options["years"][0], None)
        await cache.get_or_compute(session, ("targets", f), lambda: reports.targets(session, f, workforce))
        for by in (None, "month", "kind", "township"):
            await cache.get_or_compute(session, ("funnel", f, by), lambda: reports.funnel(session, f, by))
        await cache.get_or_compute(session, ("money", f, "rule"), lambda: reports.money(session, f, "rule"))
        await session.rollback()  # reads only


def filters(year: int | None, quarter: int | None, township: str | None = None, institution_id: str | None = None,
            class_id: str | None = None) -> Filters:
    return Filters(year=year, quarter=quarter if year is not None else None, township=township or None,
                   institution_id=institution_id or None, class_id=class_id or None)


@router.get("/targets", response_model=TargetsOut,
            summary="Targets T1–T5 against the plan: trained, caregivers, caregiver employment and certification, "
                    "holding rate per township, certified share per class with the classes below 50 % listed")
async def get_targets(request: Request, session: Session, _: Annotated[Principal, READERS], year: Year = None,
                      quarter: Quarter = None, township: Township = None,
                      institution_id: Institution = None) -> TargetsOut:
    f = filters(year, quarter, township, institution_id)
    body = await request.app.state.report_cache.get_or_compute(session, ("targets", f), lambda: reports.targets(
        session, f, request.app.state.settings.report_township_workforce))
    if township is None and institution_id is None and quarter is None:
        observe_targets(body)  # the county-wide numbers feed the Prometheus gauges as well
    return TargetsOut.model_validate(body)


@router.get("/funnel", response_model=FunnelOut,
            summary="Vouchers issued → bound → completed → evaluated → certified → eligible → paid, "
                    "by township, institution, voucher kind, month or class")
async def get_funnel(request: Request, session: Session, _: Annotated[Principal, READERS], year: Year = None, quarter: Quarter = None,
                     township: Township = None, institution_id: Institution = None, class_id: ClassId = None,
                     by: Literal["township", "institution", "kind", "month", "class"] | None = None) -> FunnelOut:
    f = filters(year, quarter, township, institution_id, class_id)
    return FunnelOut.model_validate(await request.app.state.report_cache.get_or_compute(
        session, ("funnel", f, by), lambda: reports.funnel(session, f, by)))


@router.get("/money", response_model=MoneyOut,
            summary="Claims' count and amount by leading rule, by payee or by state, each split by state "
                    "(`quarter` filters on the payment time)")
async def get_money(request: Request, session: Session, _: Annotated[Principal, READERS], year: Year = None, quarter: Quarter = None,
                    township: Township = None, institution_id: Institution = None,
                    by: Literal["rule", "payee", "state"] = "rule") -> MoneyOut:
    f = filters(year, quarter, township, institution_id)
    return MoneyOut.model_validate(await request.app.state.report_cache.get_or_compute(
        session, ("money", f, by), lambda: reports.money(session, f, by)))


@router.get("/funds", response_model=FundsOut, summary="Funds allocated, reserved, paid and available (P6)")
async def get_funds(session: Session, _: Annotated[Principal, READERS], year: Year = None) -> FundsOut:
    return FundsOut.model_validate(await reports.funds(session, year))


@router.get("/pipeline", response_model=PipelineOut,
            summary="Pipeline health: consumer lag per group and partition (Kafka admin), outbox backlog and its "
                    "oldest row's age, newest processed event per topic, dead letters")
async def get_pipeline(request: Request, session: Session, _: Annotated[Principal, READERS]) -> PipelineOut:
    lag = await request.app.state.lag_reader.read()
    observe_lag(lag)
    runtime = request.app.state.runtime
    return PipelineOut.model_validate(
        await reports.pipeline(session, runtime.tables, lag, dead_letter_counts()))


@router.get("/filters", response_model=FilterOptions, summary="Years, townships and institutions for the filters")
async def get_filters(request: Request, session: Session, _: Annotated[Principal, READERS]) -> FilterOptions:
    return FilterOptions.model_validate(await request.app.state.report_cache.get_or_compute(
        session, ("filters",), lambda: reports.filter_options(session)))


def dead_letter_counts() -> dict[str, int]:
    """The kit's `consumer_dead_lettered_total` counter of this process, summed per consumer."""
    counts: dict[str, int] = {}
    for metric in DEAD_LETTERED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                consumer = sample.labels.get("consumer", "")
                counts[consumer] = counts.get(consumer, 0) + int(sample.value)
    return counts
