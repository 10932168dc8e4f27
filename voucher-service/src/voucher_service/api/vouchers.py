"""Voucher endpoints: claim, issue on behalf, batches and bulk rosters, QR codes, revocation."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile
from sqlalchemy import select

from skillkit import voucher_token
from skillkit.app import Session
from skillkit.auth import PUBLIC, Principal, Role, require_roles
from skillkit.commands import command
from skillkit.contracts.vocab import VoucherKind
from skillkit.pagination import Page, paginate
from skillkit.problems import Problem, not_found

from voucher_service.adapters import qr
from voucher_service.adapters.models import Voucher, Worker
from voucher_service.api.schemas import (
    BatchIn,
    BatchOut,
    BulkIssueOut,
    QrVerifyIn,
    RevokeIn,
    VoucherClaimIn,
    VoucherIssueIn,
    VoucherOut,
)
from voucher_service.api.views import voucher_view
from voucher_service.domain.codes import is_valid_code, normalise_code
from voucher_service.handlers import vouchers as handlers
from voucher_service.handlers.bulk import issue_roster
from voucher_service.handlers.workers import worker_of_account

router = APIRouter(tags=["vouchers 培训券"])
STAFF = (Role.BUREAU, Role.ADMIN)
READERS = (Role.BUREAU, Role.ADMIN, Role.AUDITOR)


def _view(request: Request, voucher: Voucher | SimpleNamespace) -> VoucherOut:
    return voucher_view(voucher, qr.token_for(voucher, request.app.state.settings.qr_signing_seed))


@router.post("/v1/vouchers/claim", status_code=201, response_model=VoucherOut,
             summary="A worker claims a voucher of a kind (E1–E4)")
@command
async def claim(
    request: Request,
    session: Session,
    body: VoucherClaimIn,
    principal: Annotated[Principal, require_roles(Role.WORKER)],
) -> VoucherOut:
    settings = request.app.state.settings

    worker = await worker_of_account(session, principal)
    voucher = await handlers.issue_voucher(
        session, worker, body.kind, channel="claim", issued_by=principal.subject,
        validity_days=settings.default_validity_days, working_age=settings.working_age,
    )
    return _view(request, voucher)


@router.post("/v1/vouchers", status_code=201, response_model=VoucherOut,
             summary="Staff issue a voucher on a worker's behalf (兜底服务, P2)")
@command
async def issue_on_behalf(
    request: Request,
    session: Session,
    body: VoucherIssueIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> VoucherOut:
    settings = request.app.state.settings

    worker = await session.get(Worker, body.worker_id)
    if worker is None:
        raise not_found("worker", body.worker_id)
    batch = await handlers.get_batch(session, body.batch_id) if body.batch_id else None
    if batch is not None and batch.kind != body.kind:
        raise Problem(422, "batch_kind_mismatch", f"batch {batch.id} issues {batch.kind} vouchers, not {body.kind}")
    voucher = await handlers.issue_on_behalf(
        session, principal, worker, body.kind,
        validity_days=batch.validity_days if batch else settings.default_validity_days, batch=batch,
        working_age=settings.working_age,
    )
    return _view(request, voucher)


@router.get("/v1/vouchers/mine", response_model=list[VoucherOut], summary="The calling worker's vouchers")
async def mine(
    request: Request, session: Session, principal: Annotated[Principal, require_roles(Role.WORKER)]
) -> list[VoucherOut]:
    worker = await worker_of_account(session, principal)
    rows = await session.scalars(select(Voucher).where(Voucher.worker_id == worker.id).order_by(Voucher.created_at))
    return [_view(request, v) for v in rows]


@router.get("/v1/vouchers", response_model=Page[VoucherOut], summary="List vouchers with filters")
async def list_vouchers(
    request: Request,
    session: Session,
    _: Annotated[Principal, require_roles(*READERS)],
    status: str | None = None,
    kind: VoucherKind | None = None,
    policy_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    worker_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[VoucherOut]:
    stmt = select(Voucher)
    for column, value in ((Voucher.status, status), (Voucher.kind, kind), (Voucher.policy_year, policy_year),
                          (Voucher.worker_id, worker_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = await paginate(session, stmt, Voucher.created_at, Voucher.id, cursor, limit)
    return Page[VoucherOut](items=[_view(request, v) for v in rows], next_cursor=next_cursor)


async def _readable_voucher(session: Session, principal: Principal, voucher_id: uuid.UUID) -> Voucher:
    voucher = await session.get(Voucher, voucher_id)
    if voucher is None:
        raise not_found("voucher", voucher_id)
    if principal.role == Role.WORKER:
        worker = await worker_of_account(session, principal)
        if voucher.worker_id != worker.id:
            raise not_found("voucher", voucher_id)  # no hint that someone else's voucher exists
    return voucher


@router.get("/v1/vouchers/by-code/{code}", response_model=VoucherOut, summary="Find a voucher by its typed code")
async def by_code(
    request: Request, session: Session, code: str, _: Annotated[Principal, require_roles(*READERS)]
) -> VoucherOut:
    if not is_valid_code(code):
        raise Problem(422, "voucher_code_invalid", "voucher code is malformed or its check character is wrong")
    voucher = await session.scalar(select(Voucher).where(Voucher.code == normalise_code(code)))
    if voucher is None:
        raise not_found("voucher", code)
    return _view(request, voucher)


@router.get("/v1/vouchers/{voucher_id}", response_model=VoucherOut, summary="One voucher")
async def get_voucher(
    request: Request,
    session: Session,
    voucher_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(Role.WORKER, *READERS)],
) -> VoucherOut:
    return _view(request, await _readable_voucher(session, principal, voucher_id))


@router.get(
    "/v1/vouchers/{voucher_id}/qr.{fmt}",
    summary="The voucher's QR code (SVG or PNG) carrying its signed token",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
)
async def qr_code(
    request: Request,
    session: Session,
    voucher_id: uuid.UUID,
    fmt: str,
    principal: Annotated[Principal, require_roles(Role.WORKER, *READERS)],
) -> Response:
    if fmt not in ("svg", "png"):
        raise Problem(404, "qr_format_unknown", "QR codes come as qr.svg or qr.png")
    voucher = await _readable_voucher(session, principal, voucher_id)
    token = qr.token_for(voucher, request.app.state.settings.qr_signing_seed)
    return Response(qr.render(token, fmt), media_type="image/svg+xml" if fmt == "svg" else "image/png")


@router.get("/v1/voucher-keys/qr", summary="Public key (PEM, Ed25519) that verifies voucher QR tokens offline")
async def qr_public_key(request: Request, _: Annotated[None, require_roles(PUBLIC)]) -> dict[str, str]:
    return {"algorithm": "EdDSA", "public_key_pem": voucher_token.public_key_pem(request.app.state.settings.qr_signing_seed)}


@router.post("/v1/vouchers/verify-token", summary="Verify a scanned voucher token and show the voucher's status")
async def verify_token(
    request: Request,
    session: Session,
    body: QrVerifyIn,
    _: Annotated[Principal, require_roles(Role.TRAINING_ORG, *STAFF)],
) -> dict[str, str]:
    seed = request.app.state.settings.qr_signing_seed
    try:
        token = voucher_token.verify(voucher_token.public_key_pem(seed), body.token)
    except voucher_token.InvalidVoucherToken as exc:
        raise Problem(422, "voucher_token_invalid", str(exc)) from exc
    voucher = await session.get(Voucher, uuid.UUID(token.voucher_id))
    if voucher is None:
        raise not_found("voucher", token.voucher_id)
    return {"voucher_id": str(voucher.id), "code": voucher.code, "kind": voucher.kind, "status": voucher.status}


@router.post("/v1/vouchers/{voucher_id}/revoke", response_model=VoucherOut,
             summary="Revoke a voucher with a reason (fraud, deceased, ineligible, duplicate)")
@command(status_code=200)
async def revoke(
    request: Request,
    session: Session,
    voucher_id: uuid.UUID,
    body: RevokeIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> VoucherOut:
    return _view(request, await handlers.revoke(session, principal, voucher_id, body.reason, body.note))


@router.post("/v1/batches", status_code=201, response_model=BatchOut,
             summary="Open an issuing batch with its validity window (capped by P5)")
@command
async def create_batch(
    request: Request, session: Session, body: BatchIn, principal: Annotated[Principal, require_roles(*STAFF)]
) -> BatchOut:
    batch = await handlers.create_batch(
        session, principal, name=body.name, kind=body.kind, validity_days=body.validity_days,
        channel="bulk", class_reference=body.class_reference,
    )
    return BatchOut.model_validate(batch, from_attributes=True)


@router.post("/v1/batches/{batch_id}/roster", status_code=201, response_model=BulkIssueOut,
             summary="Issue a batch's vouchers from a CSV/XLSX roster; bad rows are reported by line")
@command
async def upload_roster(
    request: Request,
    session: Session,
    batch_id: uuid.UUID,
    file: UploadFile,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> BulkIssueOut:
    settings = request.app.state.settings
    content = await file.read()

    batch = await handlers.get_batch(session, batch_id)
    result = await issue_roster(session, settings, principal, batch, file.filename or "", content)
    return BulkIssueOut(
        batch_id=batch.id,
        issued=len(result.vouchers),
        rejected=len(result.row_errors),
        vouchers=[_view(request, v) for v in result.vouchers],
        row_errors=result.row_errors,
    )


@router.post("/v1/admin/expiry-sweep", summary="Run the expiry sweep now (it also runs periodically)")
@command(status_code=200)
async def expiry_sweep(
    request: Request, session: Session, principal: Annotated[Principal, require_roles(Role.ADMIN)]
) -> dict[str, int]:
    return {"expired": await handlers.expire_now(session, principal)}
