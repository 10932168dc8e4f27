"""QR codes of voucher tokens (segno), as SVG and PNG."""

from __future__ import annotations

import io
from types import SimpleNamespace

import segno

from skillkit import voucher_token

from voucher_service.adapters.models import Voucher


def token_for(voucher: Voucher | SimpleNamespace, seed: str) -> str:
    return voucher_token.sign(
        seed,
        voucher_token.VoucherToken(
            voucher_id=str(voucher.id),
            code=voucher.code,
            kind=voucher.kind,
            person_key=voucher.person_key,
            valid_until=voucher.valid_until,
        ),
    )


def render(token: str, kind: str) -> bytes:
    qr = segno.make(token, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind=kind, scale=4, border=2)
    return buffer.getvalue()
