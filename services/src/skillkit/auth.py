"""JWT bearer authentication and role checks. Deny by default: every /v1 route must declare its roles."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Callable

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from skillkit.db import utcnow
from skillkit.problems import Problem
from skillkit.settings import ServiceSettings


class Role(StrEnum):
    WORKER = "worker"
    TRAINING_ORG = "training_org"
    EVALUATION_ORG = "evaluation_org"
    BUREAU = "bureau"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # S5: an enterprise whose employees took on-the-job training; it declares its S5 claims (org = enterprise id)
    ENTERPRISE = "enterprise"


ORG_ROLES = frozenset({Role.TRAINING_ORG, Role.EVALUATION_ORG, Role.ENTERPRISE})
STAFF_ROLES = frozenset({Role.BUREAU, Role.ADMIN})
PUBLIC = "public"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    org_id: str | None = None
    person_key: str | None = None

    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


_bearer = HTTPBearer(auto_error=False)


def decode_token(token: str, settings: ServiceSettings) -> Principal:
    """The token's principal. A token verified once is remembered until it expires: a JWT cannot change, and
    verifying its signature and claims again is a fifth of a small request's CPU (an app polling a status)."""
    key = (settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer, tuple(settings.jwt_algorithms),
           hashlib.sha256(token.encode()).digest())
    known = _VERIFIED.get(key)
    if known is not None and known[1] > time.time():
        return known[0]
    principal, expires_at = _verify(token, settings)
    if len(_VERIFIED) >= 10_000:
        _VERIFIED.clear()
    _VERIFIED[key] = (principal, expires_at)
    return principal


_VERIFIED: dict[tuple[Any, ...], tuple[Principal, float]] = {}


def _verify(token: str, settings: ServiceSettings) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=list(settings.jwt_algorithms),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Problem(401, "token_expired", "the bearer token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Problem(401, "token_invalid", f"the bearer token is not valid: {exc}") from exc
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise Problem(401, "token_invalid", f"unknown role {claims['role']!r}") from exc
    org_id = claims.get("org")
    if role in ORG_ROLES and not org_id:
        raise Problem(401, "token_invalid", f"role {role} needs an organisation id (org claim)")
    principal = Principal(subject=str(claims["sub"]), role=role, org_id=org_id, person_key=claims.get("pk"))
    return principal, float(claims["exp"])


def require_roles(*roles: Role | str) -> Any:
    """A dependency that admits only the listed roles. `PUBLIC` admits anyone, token or not."""
    allowed = frozenset(str(r) for r in roles)

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal | None:
        if PUBLIC in allowed:
            return None
        if credentials is None:
            raise Problem(401, "token_missing", "this endpoint needs a bearer token")
        principal = decode_token(credentials.credentials, request.app.state.settings)
        if principal.role not in allowed:
            raise Problem(
                403, "role_forbidden", f"role {principal.role} may not do this; allowed: {', '.join(sorted(allowed))}"
            )
        return principal

    dependency.__skillkit_roles__ = allowed  # type: ignore[attr-defined]
    return Depends(dependency)


def declared_roles(dependant_call: Callable[..., Any]) -> frozenset[str] | None:
    return getattr(dependant_call, "__skillkit_roles__", None)


def mint_token(
    settings: ServiceSettings,
    role: Role | str,
    subject: str | None = None,
    org_id: str | None = None,
    person_key: str | None = None,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": subject or str(uuid.uuid4()),
        "role": str(Role(role)),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl,
    }
    if org_id:
        claims["org"] = org_id
    if person_key:
        claims["pk"] = person_key
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithms[0])


def main(argv: list[str] | None = None) -> None:
    """`python -m skillkit.auth --role bureau` prints a development token."""
    parser = argparse.ArgumentParser(description="Mint a development JWT for the Lin County skills platform")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--sub", help="subject (user id); a worker's subject is their user id")
    parser.add_argument("--org", help="organisation id for training_org / evaluation_org")
    parser.add_argument("--hours", type=float, default=12)
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    if settings.environment == "production":
        sys.exit("refusing to mint tokens with production settings")
    print(mint_token(settings, args.role, args.sub, args.org, ttl=timedelta(hours=args.hours)))


if __name__ == "__main__":
    main()
