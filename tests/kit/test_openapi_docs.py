"""The OpenAPI of every operation states its roles, its problem codes (each with its Chinese detail), the
Idempotency-Key header where it is honoured, the GB 11643 / GB 32100 check rules with a valid example, and every
instant in county time (+08:00)."""

from __future__ import annotations

import functools
import importlib

import pytest
from stdnum.cn import ric, uscc

from skillkit.county import COUNTY_TIME_EXAMPLE
from skillkit.openapi_docs import CREDIT_CODE_EXAMPLE, ID_NUMBER_EXAMPLE
from skillkit.problem_texts import detail_zh

SERVICES = ("voucher", "training", "certification", "subsidy")


@functools.cache
def openapi(name: str) -> dict:
    main = importlib.import_module(f"{name}_service.main")
    config = importlib.import_module(f"{name}_service.config")
    settings = next(v for k, v in vars(config).items() if k.endswith("Settings") and v.__module__ == config.__name__)
    extra = {"wechat_transport": "fake"} if name == "voucher" else {}
    return main.create(settings(environment="test", **extra)).openapi()


def operations(name: str):
    return [(path, method, op) for path, ops in openapi(name)["paths"].items() for method, op in ops.items()
            if path.startswith("/v1")]


@pytest.mark.parametrize("name", SERVICES)
def test_every_operation_states_its_roles_and_problem_codes_each_with_a_chinese_detail(name):
    for path, method, op in operations(name):
        assert op["x-roles"] and "**Roles:**" in op["description"], (method, path)
        missing = [c for c in op["x-problem-codes"] if "{" not in c and detail_zh(c) is None]
        assert not missing, f"{method} {path}: no Chinese detail for {missing} (skillkit/problem_texts.py)"


def test_codes_come_from_the_handlers_the_operation_calls():
    def codes(name: str, path: str, method: str = "post") -> set[str]:
        return set(openapi(name)["paths"][path][method]["x-problem-codes"])

    assert {"e4_voucher_limit", "worker_not_registered", "{rule_id}_not_eligible", "token_missing",
            "idempotency_key_reused"} <= codes("voucher", "/v1/vouchers/claim")
    assert {"wechat_code_invalid", "wechat_busy"} <= codes("voucher", "/v1/auth/wechat")
    assert "token_missing" not in codes("voucher", "/v1/auth/wechat")  # public
    assert {"voucher_unknown", "class_full", "voucher_kind_mismatch", "id_number_check_digit", "class_not_found"} \
        <= codes("training", "/v1/classes/{class_id}/enrolments")
    assert {"certificate_duplicate", "candidate_not_passed"} <= codes("certification", "/v1/certificates")
    assert openapi("voucher")["paths"]["/v1/auth/wechat"]["post"]["x-roles"] == ["public"]


def test_idempotency_key_header_where_the_operation_honours_it():
    def headers(name: str, path: str, method: str = "post") -> list[str]:
        op = openapi(name)["paths"][path][method]
        return [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]

    assert headers("voucher", "/v1/vouchers/claim") == ["Idempotency-Key"]
    assert headers("training", "/v1/open-classes/{class_id}/interests") == ["Idempotency-Key"]
    assert headers("voucher", "/v1/auth/wechat") == [] and headers("voucher", "/v1/workers/me", "get") == []


def test_id_number_and_credit_code_rules_with_a_valid_example():
    assert ric.is_valid(ID_NUMBER_EXAMPLE) and uscc.is_valid(CREDIT_CODE_EXAMPLE)
    worker = openapi("voucher")["components"]["schemas"]["NewWorker"]["properties"]["id_number"]
    assert "GB 11643" in worker["description"] and worker["examples"] == [ID_NUMBER_EXAMPLE]
    found = 0
    for name in SERVICES:
        for schema in openapi(name)["components"]["schemas"].values():
            for prop_name, prop in schema.get("properties", {}).items():
                if prop_name.endswith("credit_code"):
                    assert "GB 32100" in prop["description"] and CREDIT_CODE_EXAMPLE in prop["description"]
                    found += 1
                if prop_name == "id_number":
                    assert "GB 11643" in prop["description"]
    assert found >= 3


def _date_times(node, where=""):
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            yield where, node
        for key, value in node.items():
            yield from _date_times(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _date_times(value, f"{where}/{i}")


@pytest.mark.parametrize("name", SERVICES)
def test_every_instant_in_the_api_is_county_time(name):
    """Every datetime field of every request and answer is `skillkit.county.CountyTime`: answered as
    2026-12-06T13:05:00+08:00, which its example shows (a plain `datetime` would answer UTC with a Z)."""
    found = list(_date_times(openapi(name)))
    assert found and [where for where, node in found if not node.get("examples", [""])[0].endswith("+08:00")] == []
    assert COUNTY_TIME_EXAMPLE in [node["examples"][0] for _, node in found]
