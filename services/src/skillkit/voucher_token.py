"""Signed voucher tokens carried in the voucher QR code.

The voucher service signs with Ed25519; institutions (and the training service) verify offline with
the public key alone, so nobody but the voucher service can mint a token and a changed byte fails.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from dataclasses import dataclass
from datetime import datetime, timezone

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skillkit.settings import DEV_SECRET_PREFIX

ISSUER = "linxian-voucher-service"
DEV_QR_SIGNING_SEED = DEV_SECRET_PREFIX + "voucher-qr-ed25519-seed"


@lru_cache(maxsize=4)
def private_key_from_seed(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())


def public_key_pem(seed: str) -> str:
    return (
        private_key_from_seed(seed)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


DEV_QR_PUBLIC_KEY = public_key_pem(DEV_QR_SIGNING_SEED)


@dataclass(frozen=True)
class VoucherToken:
    voucher_id: str
    code: str
    kind: str
    person_key: str
    valid_until: datetime


class InvalidVoucherToken(ValueError):
    pass


def sign(seed: str, token: VoucherToken) -> str:
    claims = {
        "iss": ISSUER,
        "vid": token.voucher_id,
        "code": token.code,
        "kind": token.kind,
        "pk": token.person_key,
        "exp": int(token.valid_until.timestamp()),
    }
    return jwt.encode(claims, private_key_from_seed(seed), algorithm="EdDSA")


def verify(public_key: str, raw: str) -> VoucherToken:
    try:
        claims = jwt.decode(
            raw, public_key, algorithms=["EdDSA"], issuer=ISSUER, options={"require": ["exp", "iss", "vid", "pk"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidVoucherToken("voucher token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidVoucherToken(f"voucher token is not valid: {exc}") from exc
    return VoucherToken(
        voucher_id=claims["vid"],
        code=claims["code"],
        kind=claims["kind"],
        person_key=claims["pk"],
        valid_until=datetime.fromtimestamp(claims["exp"], timezone.utc),
    )
