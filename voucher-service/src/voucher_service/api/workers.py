"""Worker (劳动者) endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response, UploadFile
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.pagination import Page, paginate
from skillkit.pii import cipher_for
from skillkit.problems import not_found

from voucher_service.adapters.models import Worker
from skillkit.contracts.vocab import CategoryOffice, WorkerCategory

from voucher_service.api.schemas import (
    CategoryReviewIn,
    CategoryRosterOut,
    MobileRevealIn,
    MobileRevealOut,
    RegistrationReferredOut,
    WorkerCategoriesOut,
    WorkerIn,
    WorkerOut,
)
from voucher_service.api.views import categories_view, worker_view
from voucher_service.handlers.categories import category_states, import_roster, review_categories
from voucher_service.handlers.workers import Referred, register_worker, reveal_mobile, worker_of_account

router = APIRouter(prefix="/v1/workers", tags=["workers 劳动者"])
rosters = APIRouter(prefix="/v1/category-rosters", tags=["workers 劳动者"])
STAFF = (Role.BUREAU, Role.ADMIN)  # township staff use bureau accounts (no township role in the kit)


@router.post(
    "",
    status_code=201,
    response_model=WorkerOut,
    summary="Register a worker (self-service, or on their behalf by bureau staff, P2)",
    responses={
        200: {"description": "The resident ID number was registered before: the existing worker"},
        202: {"description": "Self-service only: the registration is referred to the bureau (the number is registered "
                             "to another account or under another name — the answer does not say which)",
              "model": RegistrationReferredOut},
    },
)
@command
async def register(
    request: Request,
    session: Session,
    body: WorkerIn,
    principal: Annotated[Principal, require_roles(Role.WORKER, Role.BUREAU, Role.ADMIN)],
) -> Outcome:
    settings = request.app.state.settings
    cipher = cipher_for(settings)

    outcome = await register_worker(session, settings, principal, body)
    if isinstance(outcome.body, Referred):  # 202: the bureau reviews it (issue 16)
        return outcome
    # Masked even for the worker registering: the answer is kept in the idempotency table, which must not hold
    # the mobile in the clear (the worker sees it in full at GET /v1/workers/me).
    return Outcome(worker_view(outcome.body, cipher, own=False), outcome.status_code)


@router.get("/me", response_model=WorkerOut, summary="The worker record of the calling account")
async def me(
    request: Request, session: Session, principal: Annotated[Principal, require_roles(Role.WORKER)]
) -> WorkerOut:
    worker = await worker_of_account(session, principal)
    return worker_view(worker, cipher_for(request.app.state.settings), own=True)


@router.get("/me/categories", response_model=WorkerCategoriesOut,
            summary="The calling worker's categories: claimed, confirmed or rejected (issue 13)")
async def my_categories(
    session: Session, principal: Annotated[Principal, require_roles(Role.WORKER)]
) -> WorkerCategoriesOut:
    worker = await worker_of_account(session, principal)
    return categories_view(worker, await category_states(session, worker))


@router.get("", response_model=Page[WorkerOut], summary="List workers, optionally by township")
async def list_workers(
    request: Request,
    session: Session,
    _: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR)],
    township: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[WorkerOut]:
    stmt = select(Worker)
    if township:
        stmt = stmt.where(Worker.township == township)
    rows, next_cursor = await paginate(session, stmt, Worker.created_at, Worker.id, cursor, limit)
    cipher = cipher_for(request.app.state.settings)
    return Page[WorkerOut](items=[worker_view(w, cipher, own=False) for w in rows], next_cursor=next_cursor)


@router.get("/{worker_id}", response_model=WorkerOut, summary="One worker")
async def get_worker(
    request: Request,
    session: Session,
    worker_id: uuid.UUID,
    _: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR)],
) -> WorkerOut:
    worker = await session.get(Worker, worker_id)
    if worker is None:
        raise not_found("worker", worker_id)
    return worker_view(worker, cipher_for(request.app.state.settings), own=False)


@router.post(
    "/{worker_id}/mobile-reveals",
    response_model=MobileRevealOut,
    summary="Show a worker's mobile in full to bureau staff; the reason is written to the audit trail (P10)",
)
async def reveal(
    request: Request,
    session: Session,
    worker_id: uuid.UUID,
    body: MobileRevealIn,
    principal: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN)],
) -> MobileRevealOut:
    # Not through run_command: its idempotency record keeps the answer, and the answer is the mobile in full. A
    # retried request records a second reveal, which is what happened.
    mobile = await reveal_mobile(session, request.app.state.settings, principal, worker_id, body.reason)
    await session.commit()
    return MobileRevealOut(worker_id=worker_id, mobile=mobile)


@router.get("/{worker_id}/categories", response_model=WorkerCategoriesOut,
            summary="A worker's categories: claimed, confirmed or rejected, with the evidence (issue 13)")
async def worker_categories(
    session: Session, worker_id: uuid.UUID,
    _: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR)],
) -> WorkerCategoriesOut:
    worker = await session.get(Worker, worker_id)
    if worker is None:
        raise not_found("worker", worker_id)
    return categories_view(worker, await category_states(session, worker))


@router.post("/{worker_id}/category-reviews", response_model=WorkerCategoriesOut,
             summary="Township or bureau staff confirm or reject a worker's categories on evidence (issue 13, P10)")
@command(status_code=200)
async def review(
    request: Request, session: Session, worker_id: uuid.UUID, body: CategoryReviewIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> WorkerCategoriesOut:
    states = await review_categories(session, principal, worker_id, body.categories, body.status,
                                     body.evidence_reference, body.licence_issued_on, body.note)
    worker = await session.get(Worker, worker_id)
    assert worker is not None
    return categories_view(worker, states)


@rosters.post("", status_code=201, response_model=CategoryRosterOut,
              summary="A roster from the office that keeps a category's register confirms it in bulk (issue 13)")
@command
async def upload_category_roster(
    request: Request,
    session: Session,
    file: UploadFile,
    office: Annotated[CategoryOffice, Form(description="the office whose register the roster is")],
    category: Annotated[WorkerCategory, Form(description="the category the roster confirms")],
    reference: Annotated[str, Form(min_length=2, max_length=200,
                                   description="the register's name and date; a line's own 证明编号 overrides it")],
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> CategoryRosterOut:
    settings = request.app.state.settings
    content = await file.read()

    result = await import_roster(session, settings, principal, office, category, reference.strip(),
                                 file.filename or "", content)
    return CategoryRosterOut(office=office, category=category, reference=reference.strip(),
                             confirmed=result.confirmed, unchanged=result.unchanged,
                             rejected=len(result.row_errors), row_errors=result.row_errors)
