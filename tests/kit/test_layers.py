"""The dependency direction of every service (docs/CONVENTIONS.md): api / consumers / jobs -> handlers ->
domain / adapters, never the other way; the domain does no I/O (no database, no web framework).

Read from the source with `ast`, so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["voucher", "training", "certification", "subsidy"]

# What each layer may not import from its own service; the domain, in addition, no I/O library.
FORBIDDEN = {
    "domain": {"adapters", "handlers", "api", "consumers", "jobs", "main"},
    "adapters": {"handlers", "api", "consumers", "jobs", "main"},
    "handlers": {"api", "consumers", "jobs", "main"},
    "api": {"consumers", "jobs", "main"},
}
DOMAIN_IO = ("sqlalchemy", "fastapi", "starlette", "aiokafka", "asyncpg", "httpx")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _violations(service: str, root: Path = ROOT) -> list[str]:
    package = f"{service}_service"
    src = root / f"{service}-service" / "src" / package
    found = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((src / layer).rglob("*.py")):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == package and len(parts) > 1 and parts[1] in forbidden:
                    found.append(f"{path.relative_to(root)} imports {name}")
                if layer == "domain" and parts[0] in DOMAIN_IO:
                    found.append(f"{path.relative_to(root)} imports {name} (I/O in the domain)")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_each_layer_imports_only_the_layers_below_it(service):
    assert _violations(service) == []


def test_the_check_sees_a_wrong_way_import(tmp_path):
    """The rule can fail: a domain module importing the service's adapters is reported."""
    src = tmp_path / "demo-service" / "src" / "demo_service"
    (src / "domain").mkdir(parents=True)
    (src / "domain" / "rules.py").write_text(
        "from demo_service.adapters.models import Row\n\ndef f():\n    import sqlalchemy\n", encoding="utf-8")
    assert _violations("demo", tmp_path) == [
        "demo-service/src/demo_service/domain/rules.py imports demo_service.adapters.models",
        "demo-service/src/demo_service/domain/rules.py imports sqlalchemy (I/O in the domain)",
    ]
