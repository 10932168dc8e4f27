"""What the voucher use cases take: the request bodies, validated once by pydantic.

The handlers take these whole (a roster upload validates each row with the same model as the registration body);
the API declares them as its request bodies (`api/schemas.py` re-exports them). They live beside the handlers, not
in `domain/` (which holds rules only) nor in `api/` (which the handlers must not import).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skillkit.contracts.vocab import WorkerCategory
from skillkit.names import PersonName

EvidenceReference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
MainlandMobile = Annotated[str, StringConstraints(pattern=r"^1[3-9]\d{9}$")]


class NewWorker(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "张三",
                    "id_number": "141124199001011232",
                    "mobile": "13812345678",
                    "township": "临泉镇",
                    "categories": ["rural_migrant", "poverty_alleviated_labour"],
                }
            ]
        },
    )

    name: PersonName
    id_number: Annotated[str, StringConstraints(min_length=15, max_length=20)]
    mobile: MainlandMobile
    township: Annotated[str, StringConstraints(min_length=2, max_length=50)]
    categories: list[WorkerCategory] = Field(min_length=1, max_length=12)
    # Issue 13, staff only: the document the categories were checked against (a poverty-alleviation file number, an
    # unemployment registration …); with it the registration confirms them, without it they are only claimed.
    evidence_reference: EvidenceReference | None = None
    # E2: the business licence's issue date, with the evidence, when the categories include new_business_founder
    licence_issued_on: date | None = None
