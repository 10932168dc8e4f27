"""Public certificate check (no token): certificate number + holder name -> valid / revoked / unknown."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import PUBLIC, require_roles
from skillkit.contracts.vocab import CertificateType
from skillkit.county import local_date
from skillkit.pii import mask_name
from skillkit.problems import problem_response

from certification_service.adapters.models import Certificate, EvaluationInstitution
from certification_service.api.schemas import VerifyIn, VerifyOut
from certification_service.domain.certificates import (
    CERTIFICATE_TYPE_LABELS,
    display_number,
    is_valid_number,
    level_label,
    normalise_number,
)
from certification_service.domain.occupations import occupation_label

router = APIRouter(prefix="/v1/public", tags=["public 公开查询"])

RESULT_LABELS = {"valid": "证书有效", "revoked": "证书已撤销", "unknown": "未查询到该证书"}


@router.post(
    "/certificate-checks",
    response_model=VerifyOut,
    summary="Check a certificate by number and holder name (no token; rate-limited per client)",
    responses={429: {"description": "too many checks from this client; retry after the Retry-After seconds"}},
)
async def check_certificate(
    request: Request, session: Session, body: VerifyIn, _: Annotated[None, require_roles(PUBLIC)]
) -> VerifyOut | JSONResponse:
    limiter = request.app.state.verify_limiter
    # The connection's peer, or what a configured proxy forwarded (skillkit.app: trusted_proxies), never a header
    # the caller chose (issue 16).
    client = request.client.host if request.client else "unknown"
    wait = await limiter.hit(client)
    if wait is not None:
        response = problem_response(
            request, 429, "rate_limited", f"at most {limiter.limit} certificate checks per {limiter.window:g} s per client address"
        )
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    unknown = VerifyOut(result="unknown", result_label=RESULT_LABELS["unknown"])
    if not is_valid_number(body.certificate_no):
        return unknown
    certificate = await session.scalar(
        select(Certificate).where(Certificate.certificate_no == normalise_number(body.certificate_no))
    )
    # A wrong name answers exactly like a wrong number, so the check never reveals that a number exists.
    if certificate is None or _squash(certificate.holder_name) != _squash(body.holder_name):
        return unknown
    institution = await session.get(EvaluationInstitution, certificate.institution_id)
    settings = request.app.state.settings
    return VerifyOut(
        result=certificate.status,
        result_label=RESULT_LABELS[certificate.status],
        certificate_no=display_number(certificate.certificate_no),
        holder_name_masked=mask_name(certificate.holder_name),
        certificate_type=certificate.certificate_type,
        certificate_type_label=CERTIFICATE_TYPE_LABELS[CertificateType(certificate.certificate_type)],
        occupation_code=certificate.occupation_code,
        occupation_name=occupation_label(certificate.occupation_code, settings.extra_occupations),
        level=certificate.level,
        level_label=level_label(certificate.level),
        issued_on=certificate.issued_on,
        institution_name=institution.name if institution else None,
        revoked_on=local_date(certificate.revoked_at) if certificate.revoked_at else None,
    )


def _squash(name: str) -> str:
    return "".join(name.split())
