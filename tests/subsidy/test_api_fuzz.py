"""Property-based fuzzing of the subsidy API from its OpenAPI (schemathesis), on a database holding one
worker's complete chain, so list and detail reads also answer with real records to check against the schema."""

from __future__ import annotations

import pytest

from subsidy_service.config import SubsidySettings
from subsidy_service.main import create

from tests.kit.test_api_fuzz import cases, fuzz_operation
from tests.subsidy.builders import Clock, chain, registered
from tests.subsidy.helpers import feed

CASES = cases(create, SubsidySettings(environment="test", database_url="sqlite+aiosqlite://"))


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p}-{mode}" for m, p, mode in CASES])
async def test_generated_requests_get_no_5xx_and_problem_json_4xx(ss, method, path, mode):
    clock = Clock()
    await feed(ss, [registered("P-fuzz", "fuzz-subject", clock)] + chain(person="P-fuzz", clock=clock))
    assert await fuzz_operation(ss, method, path, mode) > 0
