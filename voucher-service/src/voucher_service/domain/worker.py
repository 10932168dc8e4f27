"""A worker as submitted for registration: the shape and the checks a request body must pass."""

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


def same_name(submitted: str, registered: str) -> bool:
    """Whether two spellings name the same person as far as a typist is concerned: names are stored as
    submitted, so staff and the worker may differ in spacing or in the case of Latin letters only."""
    return " ".join(submitted.split()).casefold() == " ".join(registered.split()).casefold()
