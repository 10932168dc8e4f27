"""Payees' bank accounts, funds and their ledger (P6), payment batches with their bank files, recoveries' refunds
and the P5 deadline report. Finance approves, exports and imports; auditors read everything and change nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from sqlalchemy import func, select

from skillkit import audit
from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import command
from skillkit.county import county_time
from skillkit.pagination import Page, paginate
from skillkit.pii import PiiCipher
from skillkit.problems import Problem, not_found

from subsidy_service.adapters.bank_files import to_csv, to_xlsx
from subsidy_service.adapters.models import Claim, Person, Recovery
from subsidy_service.adapters.settlement_models import Fund, FundEntry, PaymentBatch, PayeeAccount, Transfer
from subsidy_service.api.declarations import now
from subsidy_service.api.exports import xlsx_response
from subsidy_service.api.schemas import RecoveryOut
from subsidy_service.api.settlement_schemas import (
    AccountIn,
    AccountOut,
    AllocationIn,
    BatchIn,
    BatchOut,
    DeadlineRow,
    FundOut,
    ImportOut,
    LedgerEntryOut,
    RefundIn,
    TransferOut,
)
from subsidy_service.api.views import recovery_view
from subsidy_service.domain.settlement import EXPIRING, FUND_KINDS, deadline
from subsidy_service.handlers.funds import allocate
from subsidy_service.handlers.payees import mask_account, register_account
from subsidy_service.handlers.payments import approve_batch, batch_of, import_answer, payment_file, refund_recovery

router = APIRouter(prefix="/v1", tags=["payments 资金与支付"])
MONEY_READERS = (Role.FINANCE, Role.AUDITOR, Role.BUREAU, Role.ADMIN)
FINANCE = (Role.FINANCE,)
ORG_PAYEE = {Role.TRAINING_ORG: "institution", Role.EVALUATION_ORG: "evaluation_institution", Role.ENTERPRISE: "enterprise"}
PayeeType = Literal["institution", "evaluation_institution", "worker", "enterprise"]
MAX_BANK_FILE = 20 * 1024 * 1024


async def _may_manage_account(session: Session, principal: Principal, payee_type: str, payee_id: str) -> bool:
    if ORG_PAYEE.get(principal.role) == payee_type:
        return principal.org_id == payee_id
    if payee_type == "enterprise" and principal.role in (Role.BUREAU, Role.ADMIN):
        return True  # S5: the bureau registers the enterprise, and may register its account with it
    if payee_type == "worker":
        if principal.role in (Role.BUREAU, Role.ADMIN):
            return True  # 兜底: staff register a worker's account on their behalf
        if principal.role == Role.WORKER:
            key = principal.person_key or (await session.scalars(
                select(Person.person_key).where(Person.account_subject == principal.subject))).first()
            worker = await session.scalar(select(Person.worker_id).where(Person.person_key == key)) if key else None
            return worker == payee_id
    return False


def account_view(a: PayeeAccount) -> AccountOut:
    return AccountOut(payee_type=a.payee_type, payee_id=a.payee_id, version=a.version, account_name=a.account_name,
                      account_number_masked=mask_account(a.account_last4), bank_name=a.bank_name,
                      bank_city=a.bank_city, changed_by=a.changed_by, changed_role=a.changed_role,
                      changed_at=a.changed_at)


@router.put("/payees/{payee_type}/{payee_id}/account", response_model=AccountOut, status_code=200,
            summary="Register or change a payee's bank account (name must match the payee; stored encrypted)")
@command(status_code=200)
async def put_account(request: Request, session: Session, payee_type: PayeeType, payee_id: str, body: AccountIn,
                      principal: Annotated[Principal, require_roles(Role.TRAINING_ORG, Role.EVALUATION_ORG,
                                                                    Role.ENTERPRISE, Role.WORKER, Role.BUREAU,
                                                                    Role.ADMIN)]) -> AccountOut:
    if not await _may_manage_account(session, principal, payee_type, payee_id):
        raise not_found("payee", f"{payee_type}/{payee_id}")
    cipher = PiiCipher(request.app.state.settings.pii_encryption_key)

    return account_view(await register_account(
        session, principal, cipher, payee_type, payee_id, body.account_name, body.account_number,
        body.bank_name, body.bank_city, now(request)))


@router.get("/payees/{payee_type}/{payee_id}/accounts", response_model=list[AccountOut],
            summary="A payee's account history, newest first (masked): the institution's own, or staff")
async def account_history(session: Session, payee_type: PayeeType, payee_id: str,
                          principal: Annotated[Principal, require_roles(*MONEY_READERS, Role.TRAINING_ORG,
                                                                        Role.EVALUATION_ORG, Role.ENTERPRISE)]
                          ) -> list[AccountOut]:
    if principal.role not in MONEY_READERS and not await _may_manage_account(session, principal, payee_type, payee_id):
        raise not_found("payee", f"{payee_type}/{payee_id}")
    rows = await session.scalars(select(PayeeAccount).where(
        PayeeAccount.payee_type == payee_type, PayeeAccount.payee_id == payee_id).order_by(PayeeAccount.version.desc()))
    return [account_view(a) for a in rows]


def fund_view(f: Fund) -> FundOut:
    return FundOut(id=f.id, year=f.year, code=f.code, label=FUND_KINDS[f.code].label, allocated=f.allocated,
                   reserved=f.reserved, paid=f.paid, available=f.allocated - f.reserved - f.paid)


@router.post("/funds/allocations", response_model=FundOut, status_code=201,
             summary="Finance enters an allocation to a year's fund (职业技能专账资金 / 就业补助资金 / 2021年奖励资金)")
@command
async def post_allocation(request: Request, session: Session, body: AllocationIn,
                          principal: Annotated[Principal, require_roles(*FINANCE)]) -> FundOut:
    return fund_view(await allocate(session, principal, body.year, body.code, body.amount, body.reference,
                                    body.note, now(request)))


@router.get("/funds", response_model=list[FundOut], summary="Funds with allocated / reserved / paid / available")
async def list_funds(session: Session, _: Annotated[Principal, require_roles(*MONEY_READERS)],
                     year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> list[FundOut]:
    stmt = select(Fund).order_by(Fund.year, Fund.code)
    if year is not None:
        stmt = stmt.where(Fund.year == year)
    funds = list(await session.scalars(stmt))
    return [fund_view(f) for f in sorted(funds, key=lambda f: (f.year, FUND_KINDS[f.code].order))]


@router.get("/funds/{fund_id}/ledger", response_model=Page[LedgerEntryOut], summary="A fund's ledger, oldest first")
async def ledger(session: Session, fund_id: uuid.UUID, _: Annotated[Principal, require_roles(*MONEY_READERS)],
                 cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 100) -> Page[LedgerEntryOut]:
    if await session.get(Fund, fund_id) is None:
        raise not_found("fund", fund_id)
    rows, next_cursor = await paginate(session, select(FundEntry).where(FundEntry.fund_id == fund_id),
                                       FundEntry.created_at, FundEntry.id, cursor, limit)
    return Page[LedgerEntryOut](items=[LedgerEntryOut.model_validate(r, from_attributes=True) for r in rows],
                                next_cursor=next_cursor)


ENTRY_LABELS = {"allocation": "下达", "reserve": "预留", "release": "释放", "pay": "支付", "reverse": "退票冲回",
                "recover": "追回", "unrecover": "追回冲回"}


@router.get("/funds/ledger.xlsx", summary="资金台账: every fund's ledger (XLSX, streamed)", response_class=Response)
async def ledger_xlsx(session: Session, _: Annotated[Principal, require_roles(*MONEY_READERS)],
                      year: Annotated[int, Query(ge=2000, le=2100)]) -> Response:
    funds = {f.id: f for f in await session.scalars(select(Fund).where(Fund.year == year))}

    async def rows():
        result = await session.scalars(select(FundEntry).where(FundEntry.fund_id.in_(list(funds)))
                                      .order_by(FundEntry.id))
        for e in result:
            f = funds[e.fund_id]
            sign = e.amount if e.entry_type in ("allocation", "release", "reverse", "recover") else -e.amount
            yield [e.id, FUND_KINDS[f.code].label, ENTRY_LABELS.get(e.entry_type, e.entry_type), str(e.amount),
                   str(sign), e.reference, e.created_by, county_time(e.created_at)]

    chain_head = await audit.head(session)
    preamble = [f"{year}年度 资金台账", "审计日志链头 audit head: " + (
        f"#{chain_head.id} {chain_head.hash} {county_time(chain_head.at)}" if chain_head else "—")] + [
        f"{FUND_KINDS[f.code].label}: 下达 {f.allocated} 预留 {f.reserved} 已付 {f.paid} 可用 {f.allocated - f.reserved - f.paid}"
        for f in sorted(funds.values(), key=lambda f: FUND_KINDS[f.code].order)]
    return await xlsx_response(f"fund-ledger-{year}.xlsx", "资金台账", preamble,
                               ["序号", "资金", "类型", "金额", "可用额变动", "参考号", "经办人", "时间"], rows())


def batch_view(b: PaymentBatch, transfers: list[Transfer] | None = None) -> BatchOut:
    return BatchOut(
        id=b.id, reference=b.reference, state=b.state, total=b.total, transfer_count=b.transfer_count,
        claim_count=b.claim_count, declaration_ids=b.declaration_ids, draws=b.draws, approved_by=b.approved_by,
        approved_at=b.approved_at, exported_at=b.exported_at, settled_at=b.settled_at,
        transfers=[TransferOut(seq=t.seq, payee_type=t.payee_type, payee_id=t.payee_id, account_name=t.account_name,
                               account_number_masked=mask_account(t.account_last4), bank_name=t.bank_name,
                               bank_city=t.bank_city, gross=t.gross, offset=t.offset, amount=t.amount, state=t.state,
                               bank_reason=t.bank_reason) for t in transfers or []],
    )


@router.post("/payment-batches", response_model=BatchOut, status_code=201,
             summary="Approve verified declarations into a payment batch: funds reserved in P6 order, never overdrawn")
@command
async def post_batch(request: Request, session: Session, body: BatchIn,
                     principal: Annotated[Principal, require_roles(*FINANCE)]) -> BatchOut:
    batch = await approve_batch(session, principal, body.declaration_ids,
                                request.app.state.settings.payment_purpose, now(request))
    return batch_view(batch)


@router.get("/payment-batches", response_model=Page[BatchOut], summary="Payment batches, oldest first")
async def list_batches(session: Session, _: Annotated[Principal, require_roles(*MONEY_READERS)],
                       cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[BatchOut]:
    rows, next_cursor = await paginate(session, select(PaymentBatch), PaymentBatch.approved_at, PaymentBatch.id,
                                       cursor, limit)
    return Page[BatchOut](items=[batch_view(b) for b in rows], next_cursor=next_cursor)


@router.get("/payment-batches/{batch_id}", response_model=BatchOut, summary="A batch with its bank lines (masked)")
async def get_batch(session: Session, batch_id: uuid.UUID,
                    _: Annotated[Principal, require_roles(*MONEY_READERS)]) -> BatchOut:
    batch = await batch_of(session, batch_id)
    transfers = list(await session.scalars(select(Transfer).where(Transfer.batch_id == batch.id).order_by(Transfer.seq)))
    return batch_view(batch, transfers)


@router.post("/payment-batches/{batch_id}/bank-file", response_class=Response,
             summary="Export the bank payment file (CSV or XLSX, Chinese headers); recorded in the audit trail",
             responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                                                       "spreadsheetml.sheet": {}}}})
async def bank_file(request: Request, session: Session, batch_id: uuid.UUID,
                    principal: Annotated[Principal, require_roles(*FINANCE)],
                    format: Literal["csv", "xlsx"] = "csv") -> Response:
    settings = request.app.state.settings
    file = await payment_file(session, principal, batch_id, PiiCipher(settings.pii_encryption_key),
                              (settings.payer_account_number, settings.payer_account_name, settings.payer_bank),
                              settings.payment_purpose, now(request))
    await session.commit()
    name = f"{file.reference}.{format}"
    if format == "csv":
        return Response(to_csv(file.rows()), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return Response(to_xlsx(file.rows(), "代发明细"), headers={"Content-Disposition": f'attachment; filename="{name}"'},
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def _import(request: Request, session: Session, principal: Principal, batch_id: uuid.UUID, file: UploadFile,
                  returns: bool) -> ImportOut:
    content = await file.read(MAX_BANK_FILE + 1)
    if len(content) > MAX_BANK_FILE:
        raise Problem(413, "bank_file_too_large", f"a bank file is at most {MAX_BANK_FILE} bytes")
    return ImportOut(**await import_answer(session, principal, batch_id, file.filename or "", content, returns,
                                           now(request)))


@router.post("/payment-batches/{batch_id}/bank-result", response_model=ImportOut,
             summary="Import the bank's result file: per line paid or failed; the same file twice changes nothing")
@command(status_code=200)
async def bank_result(request: Request, session: Session, batch_id: uuid.UUID, file: Annotated[UploadFile, File()],
                      principal: Annotated[Principal, require_roles(*FINANCE)]) -> ImportOut:
    return await _import(request, session, principal, batch_id, file, returns=False)


@router.post("/payment-batches/{batch_id}/bank-returns", response_model=ImportOut,
             summary="Import returned payments (退票) reported after success: ledger reversed, claims reopened")
@command(status_code=200)
async def bank_returns(request: Request, session: Session, batch_id: uuid.UUID, file: Annotated[UploadFile, File()],
                       principal: Annotated[Principal, require_roles(*FINANCE)]) -> ImportOut:
    return await _import(request, session, principal, batch_id, file, returns=True)


@router.get("/payment-batches/{batch_id}/payment-list.xlsx", summary="支付清单 (XLSX)", response_class=Response)
async def payment_list(session: Session, batch_id: uuid.UUID,
                       _: Annotated[Principal, require_roles(*MONEY_READERS)]) -> Response:
    batch = await batch_of(session, batch_id)
    states = {"pending": "待银行回执", "paid": "已支付", "failed": "支付失败", "returned": "退票"}

    async def rows():
        for t in await session.scalars(select(Transfer).where(Transfer.batch_id == batch.id).order_by(Transfer.seq)):
            yield [t.seq, t.account_name, mask_account(t.account_last4), t.bank_name, str(t.gross), str(t.offset),
                   str(t.amount), states[t.state], t.bank_reason]

    return await xlsx_response(f"payment-list-{batch.reference}.xlsx", "支付清单",
                               [f"批次 {batch.reference} 合计 {batch.total} 笔数 {batch.transfer_count}"],
                               ["序号", "收款户名", "收款账号", "开户行", "应付", "追回抵扣", "实付", "状态", "银行原因"], rows())


@router.post("/recoveries/{recovery_id}/refund", response_model=RecoveryOut, status_code=200,
             summary="追回: finance records the payee's refund, closing the recovery")
@command(status_code=200)
async def refund(request: Request, session: Session, recovery_id: uuid.UUID, body: RefundIn,
                 principal: Annotated[Principal, require_roles(*FINANCE)]) -> RecoveryOut:
    return recovery_view(await refund_recovery(session, principal, recovery_id, body.amount, body.reference,
                                               now(request)))


@router.get("/recoveries.xlsx", summary="追回清单 (XLSX)", response_class=Response)
async def recoveries_xlsx(session: Session, _: Annotated[Principal, require_roles(*MONEY_READERS)]) -> Response:
    states = {"open": "待追回", "settled": "已追回"}
    ways = {"offset": "申报抵扣", "refund": "退款", None: ""}

    async def rows():
        for r in await session.scalars(select(Recovery).order_by(Recovery.created_at, Recovery.id)):
            yield [str(r.id), str(r.claim_id), r.payee_type, r.payee_id, str(r.amount), r.reason_zh,
                   states.get(r.state, r.state), ways.get(r.settlement, r.settlement), r.settled_reference,
                   county_time(r.settled_at) if r.settled_at else None]

    return await xlsx_response("recoveries.xlsx", "追回清单", [],
                               ["追回编号", "补贴编号", "收款方类型", "收款方", "金额", "原因", "状态", "方式", "参考号", "办结时间"],
                               rows())


@router.get("/reports/deadline", response_model=list[DeadlineRow],
            summary="P5: unpaid claims per policy year and payee, with the deadline")
async def deadline_report(request: Request, session: Session,
                          _: Annotated[Principal, require_roles(*MONEY_READERS)]) -> list[DeadlineRow]:
    moment = now(request)
    found = (await session.execute(
        select(Claim.policy_year, Claim.payee_type, Claim.payee_id, func.count(), func.sum(Claim.amount))
        .where(Claim.state.in_(EXPIRING)).group_by(Claim.policy_year, Claim.payee_type, Claim.payee_id)
        .order_by(Claim.policy_year, Claim.payee_type, Claim.payee_id))).all()
    return [DeadlineRow(policy_year=y, payee_type=t, payee_id=p, claims=n, amount=Decimal(a or 0).quantize(Decimal("0.01")),
                        deadline=deadline(y), days_left=max(0, (deadline(y) - moment).days))
            for y, t, p, n, a in found]

