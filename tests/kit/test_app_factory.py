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

# Fixed values as `secrets.token_urlsafe(32)` and a Fernet key of 32 random bytes print them.
STRONG_SECRETS = {
    "jwt_secret": "pQ7Zk2vN9xR4tW1yB6mC3hJ8fL5sD0gA-_eUoIiKqVw",
    "person_key_secret": "Hn4Tb8Ue1Wq6Rj3Yk9Lp2Mz5Xc7Vd0Sa_FgGhEiOoPu",
    "blind_index_secret": "Zs2Dx5Cv8Bn1Mq4Wa7Ek0Rt3Yu6Io9Pl-JhGfKjLzXc",
    "pii_encryption_key": "IK6wpG7oxmJPeExXBz44b9R0q2Zs1vTn5YcUaHdLkWE=",
}
STRONG_QR_SEED = "Qw8Er5Ty2Ui9Op6As3Df0Gh7Jk4Lz1Xc-Vb_NmMnBvCx"
# The voucher service's WeChat app in production (WeChat issues the AppSecret as 32 hex characters).
PRODUCTION_WECHAT = {"wechat_api_base": "https://api.weixin.qq.com", "wechat_appid": "wx0123456789abcdef",
                     "wechat_secret": "3f9c2a7e5b1d8c4f6a0e9b2d7c5a1f83"}


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
    secrets = STRONG_SECRETS
    with pytest.raises(ValidationError, match="qr_signing_seed"):
        VoucherSettings(environment="production", database_url="postgresql+asyncpg://db/x", **secrets)
    wechat = PRODUCTION_WECHAT
    assert VoucherSettings(environment="production", database_url="postgresql+asyncpg://db/x",
                           qr_signing_seed=STRONG_QR_SEED, **wechat, **secrets).environment == "production"
    for name in wechat:  # the fake's base URL, the development appid and secret are refused too
        with pytest.raises(ValidationError, match=name):
            VoucherSettings(environment="production", database_url="postgresql+asyncpg://db/x",
                            qr_signing_seed=STRONG_QR_SEED, **{**wechat, name: VoucherSettings().model_dump()[name]},
                            **secrets)
    with pytest.raises(ValidationError, match="in-process fake WeChat"):
        VoucherSettings(environment="production", database_url="postgresql+asyncpg://db/x",
                        qr_signing_seed=STRONG_QR_SEED, wechat_transport="fake", **wechat, **secrets)


def test_production_refuses_sqlite():
    secrets = STRONG_SECRETS
    with pytest.raises(ValidationError, match="SQLite"):
        ServiceSettings(environment="production", **secrets)


def test_production_refuses_the_development_qr_public_key():
    from training_service.config import TrainingSettings

    secrets = STRONG_SECRETS
    with pytest.raises(ValidationError, match="voucher_qr_public_key"):
        TrainingSettings(environment="production", database_url="postgresql+asyncpg://db/x", **secrets)


# Issue 16, weak production secrets: start-up refuses a secret shorter than 32 random bytes or a known weak value.
@pytest.mark.parametrize("field, value, reason", [
    ("jwt_secret", "secret", "jwt_secret is a known weak value"),
    ("jwt_secret", "REPLACE_ME_jwt_secret", "jwt_secret is a known weak value"),
    ("jwt_secret", "Zk2vN9xR4tW1yB6m", "jwt_secret is shorter than 32 characters"),
    ("person_key_secret", "b" * 48, "person_key_secret does not look random"),
    ("blind_index_secret", "abcdefghijklmnopqrstuvwxyz012345", "blind_index_secret holds less than 32 random bytes"),
    # one letter repeated: the Fernet key of 32 × "x"
    ("pii_encryption_key", "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=", "pii_encryption_key does not look random"),
    ("pii_encryption_key", "a", "pii_encryption_key is not a Fernet key"),
])
def test_production_refuses_weak_secrets_issue16(field, value, reason):
    with pytest.raises(ValidationError, match=reason):
        ServiceSettings(environment="production", database_url="postgresql+asyncpg://db/x",
                        **{**STRONG_SECRETS, field: value})
    # the same value is fine in development (make run, the tests)
    assert getattr(ServiceSettings(**{**STRONG_SECRETS, field: value}), field) == value


def test_production_refuses_a_weak_voucher_qr_seed_issue16():
    with pytest.raises(ValidationError, match="qr_signing_seed is a known weak value"):
        VoucherSettings(environment="production", database_url="postgresql+asyncpg://db/x",
                        qr_signing_seed="changeme-changeme-changeme-changeme", **PRODUCTION_WECHAT,
                        **STRONG_SECRETS)


def test_production_accepts_generated_secrets_issue16():
    import base64
    import os
    import secrets as stdlib_secrets

    for _ in range(200):
        settings = VoucherSettings(
            environment="production", database_url="postgresql+asyncpg://db/x",
            jwt_secret=stdlib_secrets.token_urlsafe(32), person_key_secret=stdlib_secrets.token_hex(32),
            blind_index_secret=stdlib_secrets.token_urlsafe(48), qr_signing_seed=stdlib_secrets.token_urlsafe(48),
            pii_encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode(), **PRODUCTION_WECHAT)
        assert settings.environment == "production"
