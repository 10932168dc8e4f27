"""Publishing a policy table version (P10: who changed it and when), then re-evaluating the claims it
governs that are not yet fixed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import audit
from skillkit.auth import Principal
from skillkit.db import utcnow
from skillkit.problems import Problem

from subsidy_service.adapters import locks, policy_tables
from subsidy_service.adapters.models import Claim, PolicyTableRow
from subsidy_service.domain.chain import FROZEN, ClaimState
from subsidy_service.domain.policy import PolicyTable, PolicyTableChange, default_table, overlay
from subsidy_service.handlers.reevaluation import reevaluate


async def put_table(
    session: AsyncSession, principal: Principal, year: int, body: PolicyTableChange
) -> tuple[PolicyTableRow, bool]:
    effective_from = body.effective_from or date(year, 1, 1)
    effective_to = body.effective_to or date(year + 1, 3, 31)
    # What the body does not name carries over from the table in force for the year (its newest version, or the
    # latest earlier year's carried forward), never silently back to RULES.md's values.
    in_force = (await policy_tables.policies(await session.connection())).for_year(year) or default_table(year)
    try:
        table = PolicyTable.model_validate({
            **overlay(in_force.rule_values(), body),
            "policy_year": year, "version": 1, "effective_from": effective_from, "effective_to": effective_to,
        })
    except ValueError as exc:
        raise Problem(422, "policy_table_invalid", str(exc)) from exc
    if effective_from.year != year:
        raise Problem(422, "policy_table_invalid", f"effective_from {effective_from} is not in policy year {year}")
    # Two concurrent PUTs on one year compute the same version: the primary key refuses the second.
    current = await session.scalar(select(func.max(PolicyTableRow.version)).where(PolicyTableRow.policy_year == year))
    row = PolicyTableRow(
        policy_year=year,
        version=(current or 0) + 1,
        effective_from=effective_from,
        effective_to=effective_to,
        body=table.rule_values(),
        changed_by=principal.subject,
        changed_at=utcnow(),
        note=body.note,
    )
    session.add(row)
    await session.flush()
    # Claims of this year and of later years inheriting it, not yet fixed (an eligible claim keeps the
    # version it was computed with), are re-evaluated; earlier years are never touched.
    persons = sorted(set(await session.scalars(
        select(Claim.person_key).where(
            Claim.policy_year >= year, Claim.state.not_in((ClaimState.ELIGIBLE, *FROZEN))
        ).distinct()
    )))
    await locks.lock_persons(session, persons)
    await reevaluate(session, persons)
    before = in_force.rule_values() if current is not None or in_force.policy_year != year else None
    await audit.record(session, principal, "policy_table.publish", "policy_table", f"{year}v{row.version}",
                       before=before, after=row.body, reason=body.note)
    return row, current is None
