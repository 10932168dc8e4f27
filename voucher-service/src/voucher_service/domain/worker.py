"""A worker as submitted for registration: the shape and the checks a request body must pass."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skillkit.contracts.vocab import WorkerCategory
from skillkit.names import PersonName

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


def same_name(submitted: str, registered: str) -> bool:
    """Whether two spellings name the same person as far as a typist is concerned: names are stored as
    submitted, so staff and the worker may differ in spacing or in the case of Latin letters only."""
    return " ".join(submitted.split()).casefold() == " ".join(registered.split()).casefold()
