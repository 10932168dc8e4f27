"""Service settings read from the environment (pydantic-settings).

A production deployment that still carries a development default for a secret, or a weak secret (shorter than
32 random bytes, a known weak value or placeholder, a one-letter key), refuses to start:
the defaults exist so that `make run` works on a fresh machine, never so that production does.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections import Counter
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_PREFIX = "dev-only-"

# Development defaults. Each one starts with DEV_SECRET_PREFIX so the production guard can spot it.
DEV_JWT_SECRET = DEV_SECRET_PREFIX + "jwt-secret-change-me-0123456789abcdef"
DEV_PERSON_KEY_SECRET = DEV_SECRET_PREFIX + "person-key-secret-0123456789abcdef"
DEV_BLIND_INDEX_SECRET = DEV_SECRET_PREFIX + "blind-index-secret-0123456789abcdef"
# Fernet key (url-safe base64 of 32 bytes); the plain text spells out that it is a dev key.
DEV_PII_ENCRYPTION_KEY = "ZGV2LW9ubHktcGlpLWtleS0wMTIzNDU2Nzg5YWJjZGU="

SECRET_FIELDS = ("jwt_secret", "person_key_secret", "blind_index_secret", "pii_encryption_key")


class ServiceSettings(BaseSettings):
    """Settings every service shares. Services subclass it and set `env_prefix`."""

    model_config = SettingsConfigDict(env_prefix="SKILLS_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    service_name: str = "service"
    database_url: str = "sqlite+aiosqlite:///./var/service.db"
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Tansu rejects InitProducerId; Apache Kafka in production turns this on.
    kafka_idempotence: bool = False
    # Tansu auto-creates a topic with 4 partitions when a client touches it first (and after a restart, as
    # memory storage forgets topics); creating ours with the same count keeps every client's metadata in
    # agreement. Production Kafka sets its own count.
    kafka_partitions: int = 4
    kafka_replication_factor: int = 1
    # How long a publish may wait for the broker before the relay counts a failure and backs off.
    kafka_request_timeout_ms: int = 15000
    # How long a consumer's fetch waits for new records: aiokafka's 500 ms default puts ~130 ms on every hop.
    kafka_fetch_max_wait_ms: int = 50
    # The API, the outbox relay and the consumers share one process in the embedded default.
    run_relay: bool = True
    run_consumers: bool = True
    run_periodic: bool = True
    relay_batch_size: int = 200
    # Commits in this process that wrote events wake the relay at once; the poll only finds rows other processes
    # wrote (the replay command). 0.2 s cost each service ~1 % of a core idle (an empty relay round is a transaction).
    relay_poll_seconds: float = 1.0
    relay_linger_seconds: float = 0.005
    # Replicas: how often a follower tries to become the leader that runs the periodic jobs (and the leader checks
    # that it still holds the lock); a dead leader is replaced within about this long.
    leader_check_seconds: float = 2.0
    consumer_max_attempts: int = 5
    # After a poll that returned records, consumers wait this long for more before applying them (0: off).
    consumer_linger_ms: int = 100
    # ... and stop waiting as soon as this long passes without a new record (the burst is over).
    consumer_linger_gap_ms: int = 10
    # Retention of the kit's event tables (skillkit.retention, docs/deployment.md "Event tables"): published outbox
    # rows and inbox rows older than these are deleted by the leader every `event_retention_every_seconds`, in
    # batches of `event_retention_batch_size`. The inbox must outlive every way an event can be delivered again:
    # a replay from a producer's outbox (`outbox_retention_days`) and a consumer reading a partition from its
    # start (`broker_retention_days`, what the topics keep: 8760 h in docker-compose.yml); 0 keeps rows forever.
    outbox_retention_days: int = Field(default=400, ge=0)
    inbox_retention_days: int = Field(default=430, ge=0)
    broker_retention_days: int = Field(default=365, ge=1)
    event_retention_every_seconds: float = 3600.0
    event_retention_batch_size: int = Field(default=5000, ge=1)
    # Idempotency keys (and the answers they replay) are kept as long as a client may retry, then deleted by the same
    # job (skillkit.retention); 0 keeps them forever.
    idempotency_retention_days: int = Field(default=7, ge=0)

    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "linxian-skills"
    jwt_audience: str = "linxian-skills-api"
    jwt_algorithms: tuple[str, ...] = ("HS256",)

    person_key_secret: str = DEV_PERSON_KEY_SECRET
    blind_index_secret: str = DEV_BLIND_INDEX_SECRET
    pii_encryption_key: str = DEV_PII_ENCRYPTION_KEY
    # Key rotation (skillkit.pii.PiiCipher, docs/security.md): every ciphertext names its key id. New values are
    # written under pii_encryption_key with this id; the previous keys (id -> key) stay readable until
    # `python -m skillkit.rotate_keys` has re-encrypted every value of theirs.
    pii_encryption_key_id: str = Field(default="k1", pattern=r"^[a-z0-9][a-z0-9_-]{0,15}$")
    pii_previous_keys: dict[str, str] = {}

    max_body_bytes: int = 1_000_000
    # Addresses or networks of the reverse proxies whose X-Forwarded-For / X-Forwarded-Proto the service believes
    # (e.g. SKILLS_TRUSTED_PROXIES='["10.42.0.0/16"]'); default none: the client address is the connection's peer.
    # The services run uvicorn with --no-proxy-headers so that uvicorn's own default (trust 127.0.0.1) cannot
    # let a local caller choose its address (issue 16: the certificate-check rate limit was bypassed that way).
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _inbox_outlives_replays(self) -> "ServiceSettings":
        # An inbox row deleted while its event can still arrive again would let the event be applied twice.
        if self.inbox_retention_days:
            longest = max(self.broker_retention_days, self.outbox_retention_days or math.inf)
            if self.inbox_retention_days <= longest:
                raise ValueError(f"inbox_retention_days ({self.inbox_retention_days}) must exceed the longest replay "
                                 f"window: broker_retention_days ({self.broker_retention_days}) and "
                                 f"outbox_retention_days ({self.outbox_retention_days or 'forever'})")
        return self

    @model_validator(mode="after")
    def _previous_keys_are_keys(self) -> "ServiceSettings":
        for key_id, key in self.pii_previous_keys.items():
            if key_id == self.pii_encryption_key_id:
                raise ValueError(f"pii_previous_keys: {key_id!r} is the current key id")
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,15}", key_id):
                raise ValueError(f"pii_previous_keys: {key_id!r} is not a key id (a-z, 0-9, _ and -, up to 16)")
            if secret_weakness("pii_encryption_key", key) == "is not a Fernet key (url-safe base64 of 32 bytes)":
                raise ValueError(f"pii_previous_keys: {key_id!r} is not a Fernet key")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "ServiceSettings":
        if self.environment != "production":
            return self
        weak = [name for name in SECRET_FIELDS if _is_dev_default(name, getattr(self, name))]
        weak += [name for name in self.extra_secret_fields() if _is_dev_default(name, getattr(self, name))]
        weak += [name for name, value in self.development_values().items() if getattr(self, name) == value]
        if weak:
            raise ValueError(f"production refuses development defaults for: {', '.join(sorted(weak))}")
        too_weak = {name: reason for name in (*SECRET_FIELDS, *self.extra_secret_fields())
                    if (reason := secret_weakness(name, getattr(self, name))) is not None}
        if too_weak:
            raise ValueError("production refuses weak secrets: " + "; ".join(
                f"{name} {reason}" for name, reason in sorted(too_weak.items())))
        if self.database_url.startswith("sqlite"):
            raise ValueError("production refuses the embedded SQLite database; set a PostgreSQL database_url")
        return self

    def extra_secret_fields(self) -> tuple[str, ...]:
        """Secrets a service adds on top of the shared ones."""
        return ()

    def development_values(self) -> dict[str, str]:
        """Non-secret settings whose development value must not reach production (e.g. a dev public key)."""
        return {}


# Values seen in examples and tutorials, compared lower-cased (they also fail the length check, but say it plainly).
KNOWN_WEAK_SECRETS = frozenset({"secret", "password", "changeme", "default", "admin", "test", "example", "dev",
                                "development", "jwt-secret", "jwt_secret", "your-secret", "mysecret", "supersecret",
                                "letmein", "qwerty", "123456"})
# Placeholders (deploy/env.example's REPLACE_ME_...) mark a value nobody filled in, whatever follows them.
PLACEHOLDER_MARKERS = ("replace_me", "replace-me", "changeme", "change-me", "change_me", "your-secret-here")

MIN_SECRET_BYTES = 32
# A text secret must carry as much entropy as 32 random bytes: 256 bits, counted as its length times the bits per
# character of the smallest alphabet that spells it (hex 4, base64 6, printable ASCII ~6.5). `secrets.token_urlsafe(32)`
# (43 characters) and `secrets.token_hex(32)` (64) pass; a long word, a repeated letter or a pattern does not.
MIN_SECRET_BITS = 8 * MIN_SECRET_BYTES


def secret_weakness(name: str, value: str) -> str | None:
    """Why a production secret is too weak, or None. The Fernet key (pii_encryption_key) is checked as the 32 bytes
    it encodes; the other secrets as text (HMAC keys and the QR seed are used as their UTF-8 bytes)."""
    lowered = value.strip().lower()
    if lowered in KNOWN_WEAK_SECRETS or any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return "is a known weak value"
    if name == "pii_encryption_key":
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except (binascii.Error, ValueError):
            return "is not a Fernet key (url-safe base64 of 32 bytes)"
        if len(raw) != 32:
            return "is not a Fernet key (url-safe base64 of 32 bytes)"
        # 32 random bytes hold ~30 distinct values; fewer than 16 is a pattern (one letter repeated, a short word).
        if len(set(raw[:16])) < 8 or len(set(raw[16:])) < 8:
            return "does not look random (too few distinct bytes)"
        return None
    if len(value) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} characters"
    # Repetition: a random string of this length uses many distinct characters, and no character dominates.
    counts = Counter(value)
    shannon_bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    if len(counts) < 12 or shannon_bits < 3.0:
        return "does not look random (too few distinct characters)"
    if len(value) * _bits_per_character(value) < MIN_SECRET_BITS:
        return f"holds less than {MIN_SECRET_BYTES} random bytes (use secrets.token_urlsafe(32) or longer)"
    return None


def _bits_per_character(value: str) -> float:
    if all(c in "0123456789abcdef" for c in value) or all(c in "0123456789ABCDEF" for c in value):
        return 4.0
    if all(c.isascii() and (c.isalnum() or c in "-_+/=") for c in value):
        return 6.0
    return math.log2(94)


def _is_dev_default(name: str, value: str) -> bool:
    return value.startswith(DEV_SECRET_PREFIX) or (name == "pii_encryption_key" and value == DEV_PII_ENCRYPTION_KEY)
