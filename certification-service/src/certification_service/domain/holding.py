"""T4 holding-rate figures (per township and county), as the report handler computes them."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel


class TownshipHolding(BaseModel):
    township: str
    holders: int
    workforce_size: int | None
    holding_rate: Decimal | None  # fraction, 4 decimals ("0.3250")
    meets_target: bool | None


class HoldingRateOut(BaseModel):
    """T4: certificate holders (distinct persons with a valid certificate) against the workforce."""

    target: Decimal
    townships: list[TownshipHolding]
    holders_without_township: int
    county_holders: int
    county_workforce: int
    county_holding_rate: Decimal | None
    county_meets_target: bool | None
