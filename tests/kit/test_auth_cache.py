"""A verified bearer token is remembered until it expires, per signing settings; never beyond its expiry."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from skillkit import auth
from skillkit.auth import Role, decode_token, mint_token
from skillkit.problems import Problem
from skillkit.settings import ServiceSettings


def test_a_token_is_verified_once_until_it_expires(monkeypatch) -> None:
    settings = ServiceSettings()
    token = mint_token(settings, Role.BUREAU, "bureau:王科长", ttl=timedelta(seconds=1))
    verified: list[str] = []
    real = auth._verify

    def counting(raw: str, s: ServiceSettings):
        verified.append(raw)
        return real(raw, s)

    monkeypatch.setattr(auth, "_verify", counting)
    first, second = decode_token(token, settings), decode_token(token, settings)
    assert first == second and (first.subject, first.role) == ("bureau:王科长", Role.BUREAU)
    assert len(verified) == 1
    time.sleep(1.2)  # past its expiry: verified again, and refused
    with pytest.raises(Problem) as caught:
        decode_token(token, settings)
    assert (caught.value.status, caught.value.code) == (401, "token_expired")
    assert len(verified) == 2


def test_a_token_remembered_under_one_secret_is_not_accepted_under_another() -> None:
    signer = ServiceSettings()
    token = mint_token(signer, Role.WORKER, "acct-1")
    assert decode_token(token, signer).subject == "acct-1"
    other = ServiceSettings(jwt_secret="another-secret-of-at-least-thirty-two-chars")
    with pytest.raises(Problem) as caught:
        decode_token(token, other)
    assert (caught.value.status, caught.value.code) == (401, "token_invalid")
