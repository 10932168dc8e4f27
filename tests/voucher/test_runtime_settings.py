"""The voucher service process: its consumer's broker fetch wait."""

from __future__ import annotations

from voucher_service.config import VoucherSettings


def test_consumer_fetch_wait_is_200_ms_unless_set(monkeypatch):
    monkeypatch.delenv("SKILLS_KAFKA_FETCH_MAX_WAIT_MS", raising=False)
    assert VoucherSettings().kafka_fetch_max_wait_ms == 200
    monkeypatch.setenv("SKILLS_KAFKA_FETCH_MAX_WAIT_MS", "50")
    assert VoucherSettings().kafka_fetch_max_wait_ms == 50
