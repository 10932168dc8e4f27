"""`python -m subsidy_service.report [--year 2026] [--state eligible]`: what is payable to whom and why.

Prints the claims of a state (default: eligible) grouped by payee, each with the rule lines that show the
arithmetic, and the totals. Reads the service's database (SKILLS_DATABASE_URL); changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import make_engine, make_sessionmaker

from subsidy_service.adapters.models import Claim
from subsidy_service.api.views import CLAIM_TYPE_LABELS, STATE_LABELS
from subsidy_service.config import SubsidySettings
from subsidy_service.domain.chain import ClaimState

PAYEE_LABELS = {"institution": "培训机构", "worker": "劳动者", "evaluation_institution": "评价机构", "enterprise": "企业"}


async def payable_report(session: AsyncSession, *, state: str = ClaimState.ELIGIBLE, year: int | None = None) -> str:
    stmt = select(Claim).where(Claim.state == state).order_by(Claim.payee_type, Claim.payee_id, Claim.created_at)
    if year is not None:
        stmt = stmt.where(Claim.policy_year == year)
    claims = list(await session.scalars(stmt))
    by_payee: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for claim in claims:
        by_payee[(claim.payee_type, claim.payee_id or "-")].append(claim)
    out = [f"{STATE_LABELS.get(state, state)} ({state}) claims" + (f", policy year {year}" if year else "")]
    grand = Decimal("0.00")
    by_type: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for (payee_type, payee_id), items in sorted(by_payee.items()):
        total = sum((c.amount for c in items), Decimal("0.00"))
        grand += total
        out.append(f"\n{PAYEE_LABELS.get(payee_type, payee_type)} {payee_id}: {len(items)} 笔, {total} 元")
        for c in items:
            by_type[c.claim_type] += c.amount
            subject = c.voucher_id if c.claim_type != "evaluation" else c.certificate_id
            part = f" [{c.part}]" if c.part != "main" else ""
            out.append(f"  {CLAIM_TYPE_LABELS.get(c.claim_type, c.claim_type)}{part} {subject}: {c.amount} 元 "
                       f"(表 {c.table_year} v{c.table_version})")
            for line in c.lines:
                if Decimal(line["amount"]) or line["rule_id"] in ("E8", "E7", "S2"):
                    out.append(f"      {line['text']}")
    out.append("")
    for claim_type, amount in sorted(by_type.items()):
        out.append(f"{CLAIM_TYPE_LABELS.get(claim_type, claim_type)}: {amount} 元")
    out.append(f"合计 total: {grand} 元 in {len(claims)} claims to {len(by_payee)} payees")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="What is payable to whom and why")
    parser.add_argument("--year", type=int)
    parser.add_argument("--state", default=ClaimState.ELIGIBLE, choices=sorted(ClaimState))
    args = parser.parse_args(argv)

    async def run() -> str:
        engine = make_engine(SubsidySettings().database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await payable_report(session, state=args.state, year=args.year)
        finally:
            await engine.dispose()

    print(asyncio.run(run()))


if __name__ == "__main__":
    main()
