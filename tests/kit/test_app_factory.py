"""The app factory: deny by default, and production refuses development secrets."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from pydantic import ValidationError

from skillkit.app import create_app
from skillkit.runtime import ServiceRuntime
from skillkit.settings import ServiceSettings
from voucher_service.adapters.models import kit_tables
from voucher_service.config import VoucherSettings


def test_route_without_declared_roles_refuses_to_start():
    router = APIRouter()

    @router.get("/v1/open-by-mistake")
    async def leak() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="GET /v1/open-by-mistake"):
        create_app(ServiceRuntime(ServiceSettings(), kit_tables, []), [router], title="t", description="d")


def test_production_refuses_development_secrets():
    with pytest.raises(ValidationError, match="jwt_secret"):
        ServiceSettings(environment="production", database_url="postgresql+asyncpg://db/x")


def test_production_refuses_the_voucher_dev_signing_seed():
    secrets = {
        "jwt_secret": "a" * 40, "person_key_secret": "b" * 40, "blind_index_secret": "c" * 40,
        "pii_encryption_key": "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=",
    }
    with pytest.raises(ValidationError, match="qr_signing_seed"):
        VoucherSettings(environment="production", database_url="postgresql+asyncpg://db/x", **secrets)
    assert VoucherSettings(environment="production", database_url="postgresql+asyncpg://db/x",
                           qr_signing_seed="d" * 40, **secrets).environment == "production"


def test_production_refuses_sqlite():
    secrets = {
        "jwt_secret": "a" * 40, "person_key_secret": "b" * 40, "blind_index_secret": "c" * 40,
        "pii_encryption_key": "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=",
    }
    with pytest.raises(ValidationError, match="SQLite"):
        ServiceSettings(environment="production", **secrets)


def test_production_refuses_the_development_qr_public_key():
    from training_service.config import TrainingSettings

    secrets = {
        "jwt_secret": "a" * 40, "person_key_secret": "b" * 40, "blind_index_secret": "c" * 40,
        "pii_encryption_key": "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=",
    }
    with pytest.raises(ValidationError, match="voucher_qr_public_key"):
        TrainingSettings(environment="production", database_url="postgresql+asyncpg://db/x", **secrets)
