"""The certification service process: its consumer's broker fetch wait."""

from __future__ import annotations

from certification_service.config import CertificationSettings


def test_consumer_fetch_wait_is_500_ms_unless_set(monkeypatch):
    monkeypatch.delenv("SKILLS_KAFKA_FETCH_MAX_WAIT_MS", raising=False)
    assert CertificationSettings().kafka_fetch_max_wait_ms == 500
    monkeypatch.setenv("SKILLS_KAFKA_FETCH_MAX_WAIT_MS", "50")
    assert CertificationSettings().kafka_fetch_max_wait_ms == 50
