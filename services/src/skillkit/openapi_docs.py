"""What the OpenAPI document says about every operation beyond FastAPI's defaults: its roles, the problem codes it
may answer, the `Idempotency-Key` header where it is honoured, and the check rules of resident ID numbers
(GB 11643) and unified social credit codes (GB 32100) with a valid example.

The problem codes are read from the code, not listed by hand: the endpoint's source and, recursively, the project
functions it calls (`Problem(...)`, its subclasses, `not_found(...)`), plus the kit's own codes that follow from
the route's shape (a body, a token, a cursor, an Idempotency-Key). A superset is possible (a helper's every code),
a code missing is not meant to be. Built once, when the document is first asked for.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import types
from typing import Any, Callable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from skillkit.auth import PUBLIC, declared_roles
from skillkit.commands import is_command
from skillkit.problems import Problem

PROJECT_MODULES = ("skillkit", "voucher_service", "training_service", "certification_service", "subsidy_service")
CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_{}")

ID_NUMBER_EXAMPLE = "14112420050101123X"
CREDIT_CODE_EXAMPLE = "52141124MA0000001C"
ID_NUMBER_RULE = (
    "Resident ID number (居民身份证号, GB 11643): 18 characters — a 6-digit region code (GB/T 2260) that existed in "
    "the birth year, the birth date YYYYMMDD (a real date, not in the future), a 3-digit sequence, and a check "
    "character (ISO 7064 MOD 11-2: 0–9 or X). Full-width digits and a lower-case x are accepted. Refused with "
    "`id_number_check_digit`, `id_number_length`, `id_number_format`, `id_number_component`, "
    f"`id_number_future_birth_date`. Stored encrypted, answered masked. Valid example: `{ID_NUMBER_EXAMPLE}`.")
CREDIT_CODE_RULE = (
    "Unified social credit code (统一社会信用代码, GB 32100): 18 characters of 0–9 and A–Z without I, O, Z, S, V — "
    "registering authority and organisation type (2), region code (6, GB/T 2260), organisation code (9), check "
    "character (ISO 7064 MOD 31-3). Refused with `credit_code_format`, `credit_code_check_character`, "
    f"`credit_code_invalid` (or the field's name before them). Valid example: `{CREDIT_CODE_EXAMPLE}`.")
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Mobile networks retry: the same key with the same body gets the stored answer again (header "
                   "`Idempotent-Replayed: true`) and changes nothing twice; the same key with another body is a 422 "
                   "`idempotency_key_reused`. Keys are per caller, 1–200 characters.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200}, "example": "claim-2026-0001",
}


def document(app: FastAPI) -> None:
    """Replaces `app.openapi` with one that adds roles, problem codes, Idempotency-Key and the number rules."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            _annotate(app, schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _annotate(app: FastAPI, schema: dict[str, Any]) -> None:
    for route in _routes(app):
        if not route.path.startswith("/v1"):
            continue
        roles = _roles(route)
        idempotent = is_command(route.endpoint)
        codes = sorted(_codes(route.endpoint) | _kit_codes(route, roles, idempotent))
        for method in route.methods:
            operation = schema["paths"].get(route.path, {}).get(method.lower())
            if operation is None:
                continue
            who = "anyone, no token needed" if roles == {PUBLIC} else ", ".join(sorted(roles))
            lines = [operation.get("description") or "", f"**Roles:** {who}."]
            if codes:
                lines.append("**Problem codes** (4xx `code`): " + ", ".join(f"`{c}`" for c in codes) + ".")
            operation["description"] = "\n\n".join(line for line in lines if line)
            operation["x-roles"] = sorted(roles)
            operation["x-problem-codes"] = codes
            if idempotent:
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(dict(IDEMPOTENCY_PARAMETER))
            for parameter in operation.get("parameters", []):
                _describe_field(parameter["name"], parameter)
    for component in schema.get("components", {}).get("schemas", {}).values():
        for name, prop in component.get("properties", {}).items():
            _describe_field(name, prop)


def _describe_field(name: str, target: dict[str, Any]) -> None:
    if name == "id_number":
        target["description"] = ID_NUMBER_RULE
        (target.setdefault("schema", {}) if "in" in target else target).setdefault("examples", [ID_NUMBER_EXAMPLE])
    elif name.endswith("credit_code"):
        target["description"] = CREDIT_CODE_RULE
        (target.setdefault("schema", {}) if "in" in target else target).setdefault("examples", [CREDIT_CODE_EXAMPLE])


def _routes(app: FastAPI) -> list[APIRoute]:
    """The app's routes, looking inside included routers (this FastAPI mounts each as one entry)."""
    found: list[Any] = []
    for entry in app.router.routes:
        found.extend(getattr(getattr(entry, "original_router", None), "routes", [entry]))
    return [route for route in found if isinstance(route, APIRoute)]


def _roles(route: APIRoute) -> set[str]:
    found: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        roles = declared_roles(dep.call)
        if roles is not None:
            found |= set(roles)
        stack.extend(dep.dependencies)
    return found


def _kit_codes(route: APIRoute, roles: set[str], idempotent: bool) -> set[str]:
    codes: set[str] = set()
    if roles != {PUBLIC}:
        codes |= {"token_missing", "token_invalid", "token_expired", "role_forbidden"}
    if route.body_field is not None:
        codes |= {"validation_failed", "malformed_json", "body_too_large"}
    if route.dependant.query_params or route.dependant.path_params:
        codes.add("validation_failed")
    if any(p.name == "cursor" for p in route.dependant.query_params):
        codes.add("cursor_invalid")
    if idempotent:
        codes |= {"idempotency_key_invalid", "idempotency_key_reused"}
    return codes


def _source_tree(func: Callable[..., Any]) -> ast.AST | None:
    """The function's body (not its signature: a `require_roles(...)` there is the kit's, counted apart)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None
    definition = tree.body[0] if tree.body else None
    if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ast.Module(body=definition.body, type_ignores=[])
    return tree


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _resolve(node: ast.AST, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, scope)
        if isinstance(owner, (types.ModuleType, type)):
            return getattr(owner, node.attr, None)
    return None


def _ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] in PROJECT_MODULES


def _codes(func: Callable[..., Any], seen: set[Any] | None = None, depth: int = 0) -> set[str]:
    seen = seen if seen is not None else set()
    func = inspect.unwrap(func)
    if func in seen or depth > 8 or not _ours(func):
        return set()
    seen.add(func)
    tree = _source_tree(func)
    if tree is None:
        return set()
    scope = getattr(func, "__globals__", {})
    codes: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _resolve(node.func, scope)
        if isinstance(callee, type) and issubclass(callee, Problem):
            code = _code_argument(node, 1 if callee is Problem else 0)
            if code:
                codes.add(code)
            elif callee is not Problem:  # a subclass that names its code itself: super().__init__(status, code, …)
                init = _source_tree(callee.__init__)
                for call in ast.walk(init) if init is not None else ():
                    if isinstance(call, ast.Call) and _name(call.func) == "__init__":
                        code = _code_argument(call, 1)
                        if code:
                            codes.add(code)
        elif _name(node.func) == "not_found" and node.args and isinstance(node.args[0], ast.Constant):
            codes.add(f"{node.args[0].value}_not_found")
        elif _name(node.func) == "problem_response":
            code = _code_argument(node, 2)
            if code:
                codes.add(code)
        elif callable(callee) and _ours(callee) and not isinstance(callee, type):
            codes |= _codes(callee, seen, depth + 1)
    return codes


def _code_argument(call: ast.Call, position: int) -> str | None:
    if len(call.args) <= position:
        return None
    arg = call.args[position]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value if set(arg.value) <= CODE_CHARS else None
    if isinstance(arg, ast.JoinedStr):  # f"class_{status}" -> class_{status}
        text = "".join(v.value if isinstance(v, ast.Constant) else "{" + _placeholder(v.value) + "}"
                       for v in arg.values if isinstance(v, (ast.Constant, ast.FormattedValue)))
        return text if set(text) <= CODE_CHARS else None
    return None


def _placeholder(node: ast.AST) -> str:
    """`exc.rule_id.lower()` -> `rule_id`: the last name in the expression that is not a method of str."""
    names = [n for n in re.findall(r"[A-Za-z_]+", ast.unparse(node)) if n not in ("lower", "upper", "strip")]
    return names[-1].lower() if names else "value"
