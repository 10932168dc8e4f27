"""Envelope encryption to a recipient's public key (a sealed box): X25519 + HKDF-SHA256 + AES-256-GCM.

Used for what only the province real-name system may read (P1: a trainee's name and resident ID number). The
sender needs the recipient's public key alone; nobody on the way — the broker, the county's other services, a
log or a dead-letter topic — can open the box. Each box uses a fresh ephemeral key, so the same identity sealed
twice gives two different boxes, and the recipient's key id travels with it (the province can rotate keys and
keep the old private keys to open older records).

The associated data binds a box to the record line it was sealed for (e.g. the person key): a box copied onto
another line fails to open.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "X25519-HKDF-SHA256-A256GCM"
_INFO = b"linxian-skills/sealed-box/v1"
_RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


class SealedBoxError(ValueError):
    """A box that cannot be opened: unknown key id, another algorithm, tampered or for another line."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=8)
def private_key_from_seed(seed: str) -> X25519PrivateKey:
    """A deterministic private key (development and tests only: the seed is the key)."""
    return X25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())


def private_key_from_text(text: str) -> X25519PrivateKey:
    """A private key given as 32 raw bytes in base64url."""
    return X25519PrivateKey.from_private_bytes(_unb64(text))


def public_key_text(private_key: X25519PrivateKey) -> str:
    """The public key as 32 raw bytes in base64url (what the sender is configured with)."""
    return _b64(private_key.public_key().public_bytes(**_RAW))


@lru_cache(maxsize=8)
def _public_key(text: str) -> X25519PublicKey:
    raw = _unb64(text)
    if len(raw) != 32:
        raise ValueError("an X25519 public key is 32 bytes (base64url)")
    return X25519PublicKey.from_public_bytes(raw)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    # Both public keys in the salt: the key is bound to this exchange (as in libsodium's sealed boxes).
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_INFO).derive(shared)


def seal(public_key: str, key_id: str, plaintext: bytes, associated_data: bytes) -> dict[str, str]:
    """A box only the holder of `public_key`'s private key can open: {alg, kid, epk, nonce, ct} (base64url)."""
    recipient = _public_key(public_key)
    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes(**_RAW)
    key = _key(ephemeral.exchange(recipient), epk, recipient.public_bytes(**_RAW))
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, key_id.encode() + b"|" + associated_data)
    return {"alg": ALGORITHM, "kid": key_id, "epk": _b64(epk), "nonce": _b64(nonce), "ct": _b64(ciphertext)}


def open_box(private_keys: dict[str, X25519PrivateKey], box: dict[str, str], associated_data: bytes) -> bytes:
    """Opens a box with the private key of its key id; SealedBoxError when it cannot be opened."""
    if box.get("alg") != ALGORITHM:
        raise SealedBoxError(f"unsupported algorithm {box.get('alg')!r}")
    private_key = private_keys.get(box.get("kid", ""))
    if private_key is None:
        raise SealedBoxError(f"no private key for key id {box.get('kid')!r}")
    try:
        epk = _unb64(box["epk"])
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(epk))
        key = _key(shared, epk, private_key.public_key().public_bytes(**_RAW))
        return AESGCM(key).decrypt(_unb64(box["nonce"]), _unb64(box["ct"]), box["kid"].encode() + b"|" + associated_data)
    except (InvalidTag, KeyError, ValueError) as exc:
        raise SealedBoxError("the box cannot be opened (tampered, or sealed for another line or key)") from exc
