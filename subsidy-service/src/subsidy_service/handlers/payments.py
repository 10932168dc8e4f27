"""Approval and payment over funds (P6): finance approves verified declarations into a payment batch (money
reserved in P6 order before any file leaves), exports the bank file, and imports the bank's answers — paid lines
pay their claims (`subsidy.claim_paid.v1`), failed lines release their reservation and return for the next batch,
a returned payment (退票) after a success reverses the ledger and reopens the claims."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import audit
from skillkit.auth import Principal
from skillkit.contracts.subsidy import BatchApproved, ClaimPaid, PaymentReturned, RecoverySettled
from skillkit.county import local_date
from skillkit.pii import PiiCipher
from skillkit.problems import Problem, not_found

from subsidy_service.adapters import settlement_rows as rows
from subsidy_service.adapters.bank_files import Answer, PaymentFile, read_answer
from subsidy_service.adapters.models import Claim, Recovery
from subsidy_service.adapters.outbox import outbox
from subsidy_service.adapters.settlement_models import (
    BankFileImport,
    ClaimPayment,
    Declaration,
    DeclarationLine,
    Fund,
    PaymentBatch,
    Transfer,
)
from subsidy_service.domain.chain import ClaimState
from subsidy_service.domain.settlement import P6_ORDER, deadline, draw, money
from subsidy_service.handlers.funds import funds_locked, funds_locked_by_id, move
from subsidy_service.handlers.payees import current_account

claims_t = Claim.__table__
lines_t = DeclarationLine.__table__
payments_t = ClaimPayment.__table__
transfers_t = Transfer.__table__


@dataclass(frozen=True)
class _Line:
    """An approved declaration line whose claim is verified: what a batch pays."""

    id: uuid.UUID
    claim_id: uuid.UUID
    payee_type: str
    payee_id: str
    amount: Decimal
    claim_type: str
    policy_year: int
    person_key: str
    voucher_id: str | None


def _no_funds(shortfalls: list[Any]) -> Problem:
    detail = "; ".join(f"{'/'.join(s.fund_codes)}: needs {money(s.needed)}, available {money(s.available)}, "
                       f"short {money(s.missing)}" for s in shortfalls)
    return Problem(409, "funds_insufficient", f"the funds cannot cover the batch (P6), nothing was reserved: {detail}")


async def approve_batch(session: AsyncSession, principal: Principal, declaration_ids: list[uuid.UUID],
                        purpose: str, now: datetime) -> PaymentBatch:
    stmt = select(Declaration).where(Declaration.id.in_(declaration_ids)).order_by(Declaration.id)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    declarations = list(await session.scalars(stmt))
    missing = set(declaration_ids) - {d.id for d in declarations}
    if missing:
        raise not_found("declaration", sorted(missing)[0])
    for d in declarations:
        if d.state not in ("verified", "approved"):
            raise Problem(409, "declaration_not_verified", f"declaration {d.id} is {d.state}; only verified "
                          "declarations are approved for payment")
    ids = [d.id for d in declarations]
    approved_lines = (await session.execute(
        select(lines_t.c.id, lines_t.c.claim_id, lines_t.c.payee_type, lines_t.c.payee_id, lines_t.c.amount)
        .where(lines_t.c.declaration_id.in_(ids), lines_t.c.decision == "approved", lines_t.c.active,
               lines_t.c.claim_id.is_not(None))
    )).all()
    # The claims are locked, then read by id and filtered here (a join on a state just changed misleads the planner).
    await rows.lock_claims(session, [line.claim_id for line in approved_lines])
    claims = await rows.claim_states(session, [line.claim_id for line in approved_lines])
    found = sorted((
        _Line(line.id, line.claim_id, line.payee_type, line.payee_id, line.amount, claim.claim_type, claim.policy_year,
              claim.person_key, claim.voucher_id)
        for line in approved_lines if (claim := claims[line.claim_id]).state == ClaimState.VERIFIED
    ), key=lambda line: line.claim_id)
    if not found:
        raise Problem(422, "batch_empty", "no verified, unpaid line in these declarations")

    funds = await funds_locked(session, {line.policy_year for line in found})
    by_year: dict[int, list[Any]] = defaultdict(list)
    for line in found:
        by_year[line.policy_year].append(line)
    parts: dict[Any, list[tuple[uuid.UUID, Decimal]]] = {}
    shortfalls = []
    for year, lines in sorted(by_year.items()):
        available = {code: f.allocated - f.reserved - f.paid for (y, code), f in funds.items() if y == year}
        taken, short = draw(available, [(line.claim_id, line.claim_type, line.amount) for line in lines])
        shortfalls += short
        for claim_id, claim_parts in taken.items():
            parts[claim_id] = [(funds[year, code].id, amount) for code, amount in claim_parts]
    if shortfalls:
        raise _no_funds(shortfalls)

    batch = PaymentBatch(
        id=uuid.uuid4(), reference=f"LX{local_date(now):%Y%m%d}{uuid.uuid4().hex[:8].upper()}",
        year=min(by_year), state="approved", total=Decimal("0.00"), transfer_count=0, claim_count=len(found),
        declaration_ids=[str(i) for i in ids], draws=[], approved_by=principal.subject, approved_at=now,
    )
    session.add(batch)
    by_payee: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for line in found:
        by_payee[line.payee_type, line.payee_id].append(line)
    offsets = await _open_offsets(session, ids)
    transfers, payments, total = [], [], Decimal("0.00")
    unpaid_accounts = []
    for seq, ((payee_type, payee_id), lines) in enumerate(sorted(by_payee.items()), start=1):
        account = await current_account(session, payee_type, payee_id)
        if account is None:
            unpaid_accounts.append(f"{payee_type}:{payee_id}")
            continue
        gross = money(sum((line.amount for line in lines), Decimal(0)))
        netted, offset = [], Decimal("0.00")
        for recovery_id, amount in offsets.get((payee_type, payee_id), []):
            if gross - offset - amount > 0:  # a transfer stays positive; the rest waits for a later one
                netted.append(recovery_id)
                offset += amount
        transfer_id = uuid.uuid4()
        transfers.append(dict(
            id=transfer_id, batch_id=batch.id, seq=seq, payee_type=payee_type, payee_id=payee_id,
            account_name=account.account_name, account_number_enc=account.account_number_enc,
            account_last4=account.account_last4, bank_name=account.bank_name, bank_city=account.bank_city,
            gross=gross, offset=money(offset), amount=money(gross - offset), state="pending", bank_reason=None,
            answered_at=None,
        ))
        total += gross - offset
        for recovery_id in netted:
            await session.execute(update(Recovery.__table__).where(Recovery.__table__.c.id == recovery_id)
                                  .values(offset_transfer_id=transfer_id))
        for line in lines:
            payments.append(dict(
                id=uuid.uuid4(), claim_id=line.claim_id, line_id=line.id, transfer_id=transfer_id, batch_id=batch.id,
                amount=line.amount, state="pending",
                draws=[{"fund_id": str(f), "amount": str(a)} for f, a in parts[line.claim_id]],
            ))
    if unpaid_accounts:
        raise Problem(409, "payee_account_missing", "no bank account registered for "
                      + ", ".join(unpaid_accounts[:20]) + (" …" if len(unpaid_accounts) > 20 else ""))
    reserve: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for claim_parts in parts.values():
        for fund_id, amount in claim_parts:
            reserve[fund_id] += amount
    by_id = {f.id: f for f in funds.values()}
    await move(session, by_id, dict(reserve), "reserve", batch_id=batch.id, reference=batch.reference,
               created_by=principal.subject, now=now)
    batch.total, batch.transfer_count = money(total), len(transfers)
    batch.draws = [{"fund_id": str(f), "code": by_id[f].code, "year": by_id[f].year, "amount": str(money(a))}
                   for f, a in sorted(reserve.items(), key=lambda i: (by_id[i[0]].year, P6_ORDER.index(by_id[i[0]].code)))]
    await session.flush()
    for part in rows.chunks(transfers):
        await session.execute(insert(transfers_t), list(part))
    for part in rows.chunks(payments):
        await session.execute(insert(payments_t), list(part))
    await rows.set_claim_states(session, [line.claim_id for line in found], [ClaimState.VERIFIED],
                                {"state": ClaimState.APPROVED, "updated_at": now})
    for d in declarations:
        d.state, d.approved_by, d.approved_at = "approved", principal.subject, now
    await outbox.add(session, BatchApproved(
        batch_id=str(batch.id), reference=batch.reference, total=batch.total, transfer_count=batch.transfer_count,
        claim_count=batch.claim_count, declaration_ids=batch.declaration_ids, draws=batch.draws, approved_at=now,
    ), partition_key=batch.reference, subject=str(batch.id))
    await audit.record(session, principal, "payment_batch.approve", "payment_batch", str(batch.id),
                       after={"reference": batch.reference, "total": str(batch.total), "claims": batch.claim_count,
                              "declarations": batch.declaration_ids, "draws": batch.draws, "purpose": purpose})
    return batch


async def _open_offsets(session: AsyncSession, declaration_ids: list[uuid.UUID]
                        ) -> dict[tuple[str, str], list[tuple[uuid.UUID, Decimal]]]:
    """Recovery offset lines of these declarations whose recovery is open and not on a pending transfer."""
    r = Recovery.__table__
    found = (await session.execute(
        select(r.c.id, r.c.payee_type, r.c.payee_id, r.c.amount)
        .select_from(lines_t.join(r, r.c.id == lines_t.c.recovery_id))
        .where(lines_t.c.declaration_id.in_(declaration_ids), lines_t.c.active, r.c.state == "open",
               r.c.offset_transfer_id.is_(None))
        .order_by(r.c.created_at, r.c.id)
    )).all()
    offsets: dict[tuple[str, str], list[tuple[uuid.UUID, Decimal]]] = defaultdict(list)
    for recovery_id, payee_type, payee_id, amount in found:
        offsets[payee_type, payee_id or ""].append((recovery_id, amount))
    return offsets


async def batch_of(session: AsyncSession, batch_id: uuid.UUID, lock: bool = False) -> PaymentBatch:
    stmt = select(PaymentBatch).where(PaymentBatch.id == batch_id)
    if lock and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    batch = (await session.scalars(stmt)).first()
    if batch is None:
        raise not_found("payment_batch", batch_id)
    return batch


async def payment_file(session: AsyncSession, principal: Principal, batch_id: uuid.UUID, cipher: PiiCipher,
                       payer: tuple[str, str, str], purpose: str, now: datetime) -> PaymentFile:
    """The bank file of a batch (its pending and answered lines as approved); exporting is recorded (P10)."""
    batch = await batch_of(session, batch_id, lock=True)
    transfers = list(await session.scalars(select(Transfer).where(Transfer.batch_id == batch.id).order_by(Transfer.seq)))
    if batch.exported_at is None:
        batch.state, batch.exported_by, batch.exported_at = "exported", principal.subject, now
    await audit.record(session, principal, "payment_batch.export", "payment_batch", str(batch.id),
                       after={"reference": batch.reference, "total": str(batch.total)})
    return PaymentFile(
        payer_account=payer[0], payer_name=payer[1], payer_bank=payer[2], purpose=purpose,
        expected=local_date(now), reference=batch.reference, total=batch.total,
        lines=[(t.seq, cipher.decrypt(t.account_number_enc), t.account_name, t.amount, t.bank_name, t.bank_city)
               for t in transfers],
    )


async def import_answer(session: AsyncSession, principal: Principal, batch_id: uuid.UUID, filename: str,
                        content: bytes, returns: bool, now: datetime) -> dict[str, Any]:
    """Applies the bank's result file (every line paid or failed; header totals equal the batch's) or a returned
    payment file (退票; header totals equal its own lines). The same file twice changes nothing."""
    sha = hashlib.sha256(content).hexdigest()
    seen = await session.get(BankFileImport, sha)
    if seen is not None:
        if seen.batch_id != batch_id:
            raise Problem(409, "bank_file_of_another_batch", "this file was imported for another batch")
        return dict(seen.summary, replayed=True)
    answer = read_answer(filename, content)
    batch = await batch_of(session, batch_id, lock=True)
    if answer.reference != batch.reference:
        raise Problem(422, "bank_file_reference_mismatch",
                      f"the file answers batch {answer.reference}, not {batch.reference}")
    transfers = {t.seq: t for t in await session.scalars(select(Transfer).where(Transfer.batch_id == batch.id))}
    _check_answer(answer, batch, transfers, returns)
    outcome: dict[str, list[Transfer]] = {"paid": [], "failed": [], "returned": []}
    for line in answer.lines:
        transfer = transfers[line.seq]
        if transfer.state == line.status:
            continue  # already applied by another file (a re-sent answer): nothing twice
        if (transfer.state, line.status) not in (("pending", "paid"), ("pending", "failed"), ("paid", "returned")):
            raise Problem(409, "bank_file_conflict",
                          f"line {line.seq} is {transfer.state}; the file says {line.status}")
        transfer.state, transfer.bank_reason, transfer.answered_at = line.status, line.reason, now
        outcome[line.status].append(transfer)
    await _apply(session, principal, batch, outcome, now)
    if all(t.state != "pending" for t in transfers.values()):
        batch.state, batch.settled_at = "settled", batch.settled_at or now
    summary = {"batch_id": str(batch.id), "reference": batch.reference, "file_sha256": sha,
               **{k: len(v) for k, v in outcome.items()},
               **{f"{k}_amount": str(money(sum((t.amount for t in v), Decimal(0)))) for k, v in outcome.items()}}
    session.add(BankFileImport(sha256=sha, batch_id=batch.id, imported_by=principal.subject, imported_at=now,
                               summary=summary))
    await session.flush()
    await audit.record(session, principal, "payment_batch.import_returns" if returns else "payment_batch.import_result",
                       "payment_batch", str(batch.id), after=summary)
    return dict(summary, replayed=False)


def _check_answer(answer: Answer, batch: PaymentBatch, transfers: dict[int, Transfer], returns: bool) -> None:
    listed = money(sum((line.amount for line in answer.lines), Decimal(0)))
    if returns:
        if answer.count != len(answer.lines) or answer.total != listed:
            raise Problem(422, "bank_file_totals_mismatch",
                          f"header says {answer.count} lines / {answer.total}, the lines are {len(answer.lines)} / {listed}")
    elif (answer.count, answer.total) != (batch.transfer_count, batch.total) or (len(answer.lines), listed) != (
            batch.transfer_count, batch.total):
        raise Problem(422, "bank_file_totals_mismatch",
                      f"the batch is {batch.transfer_count} lines / {batch.total}; the file's header says "
                      f"{answer.count} / {answer.total} and its lines {len(answer.lines)} / {listed}")
    seqs = [line.seq for line in answer.lines]
    if len(set(seqs)) != len(seqs):
        raise Problem(422, "bank_file_invalid", "a sequence number appears twice")
    for line in answer.lines:
        transfer = transfers.get(line.seq)
        if transfer is None:
            raise Problem(422, "bank_file_invalid", f"line {line.seq} is not in batch {batch.reference}")
        if line.amount != transfer.amount or not line.account.endswith(transfer.account_last4):
            raise Problem(422, "bank_file_line_mismatch",
                          f"line {line.seq}: the file says {line.amount} to an account ending "
                          f"{line.account[-4:]}, the batch {transfer.amount} to one ending {transfer.account_last4}")
        if returns and line.status != "returned" or not returns and line.status == "returned":
            raise Problem(422, "bank_file_invalid", f"line {line.seq}: status {line.status} in a "
                          f"{'returned-payment' if returns else 'result'} file")


async def _apply(session: AsyncSession, principal: Principal, batch: PaymentBatch, outcome: dict[str, list[Transfer]],
                 now: datetime) -> None:
    changed = [t.id for ts in outcome.values() for t in ts]
    if not changed:
        return
    payments = list((await session.execute(
        select(payments_t.c.id, payments_t.c.claim_id, payments_t.c.transfer_id, payments_t.c.draws, payments_t.c.amount,
               claims_t.c.claim_type, claims_t.c.voucher_id, claims_t.c.person_key, claims_t.c.policy_year)
        .select_from(payments_t.join(claims_t, claims_t.c.id == payments_t.c.claim_id))
        .where(payments_t.c.transfer_id.in_(changed))
    )).all())
    await rows.lock_claims(session, [p.claim_id for p in payments])
    offsets = await _offsets(session, batch, outcome)
    # Every fund this settlement moves — the draws and the funds its recoveries go back to — locked at once
    funds = await funds_locked_by_id(session, {uuid.UUID(d["fund_id"]) for p in payments for d in p.draws}
                                     | {fund_id for o in offsets for fund_id in o.credit})
    state_of = {t.id: status for status, ts in outcome.items() for t in ts}
    by_state: dict[str, list[Any]] = defaultdict(list)
    for p in payments:
        by_state[state_of[p.transfer_id]].append(p)
    entry = {"paid": "pay", "failed": "release", "returned": "reverse"}
    for status, group in by_state.items():
        sums: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        for p in group:
            for d in p.draws:
                sums[uuid.UUID(d["fund_id"])] += Decimal(d["amount"])
        await move(session, funds, dict(sums), entry[status], batch_id=batch.id, reference=batch.reference,
                   created_by=principal.subject, now=now)
        for part in rows.chunks([p.id for p in group]):
            await session.execute(update(payments_t).where(payments_t.c.id.in_(part)).values(state=status))
    paid = by_state.get("paid", [])
    await rows.set_claim_states(session, [p.claim_id for p in paid], [ClaimState.APPROVED],
                                {"state": ClaimState.PAID, "paid_at": now, "paid_by": principal.subject,
                                 "updated_at": now})
    for part in rows.chunks(paid):  # in chunks: 100,000 events built at once held ~260 MB (bench/settlement.py)
        await outbox.add_many(session, [(
            ClaimPaid(claim_id=str(p.claim_id), claim_type=p.claim_type, voucher_id=p.voucher_id,
                      person_key=p.person_key, amount=p.amount, paid_at=now, batch_id=str(batch.id),
                      batch_reference=batch.reference),
            p.person_key, str(p.claim_id)) for p in part])
    for status, from_state in (("failed", ClaimState.APPROVED), ("returned", ClaimState.PAID)):
        group = by_state.get(status, [])
        late = [p.claim_id for p in group if now >= deadline(p.policy_year)]
        back = [p.claim_id for p in group if now < deadline(p.policy_year)]
        await rows.set_claim_states(session, back, [from_state], {"state": ClaimState.VERIFIED, "paid_at": None,
                                                                  "paid_by": None, "updated_at": now})
        await rows.set_claim_states(session, late, [from_state], {
            "state": ClaimState.EXPIRED, "paid_at": None, "paid_by": None, "updated_at": now, "reason_code": "p5_expired",
            "reason_zh": "逾期未兑现（P5：次年3月31日前）", "reason_en": "not paid by 31 March of the following year (P5)"})
        if status == "returned" and group:
            await outbox.add_many(session, [(
                PaymentReturned(claim_id=str(p.claim_id), claim_type=p.claim_type, voucher_id=p.voucher_id,
                                person_key=p.person_key, amount=p.amount, batch_reference=batch.reference,
                                reason=next((t.bank_reason for t in outcome["returned"] if t.id == p.transfer_id), None)
                                or "退票", returned_at=now),
                p.person_key, str(p.claim_id)) for p in group])
    await _settle_offsets(session, principal, batch, offsets, funds, now)


@dataclass(frozen=True)
class _Offset:
    """A recovery netted on a transfer of the batch, with what its transfer's answer does to it."""

    status: str  # the transfer's answer: paid | failed | returned
    recovery: Recovery
    credit: dict[uuid.UUID, Decimal]  # the funds its money goes back to (or comes out of again); none if failed
    transfer: Transfer | None


async def _offsets(session: AsyncSession, batch: PaymentBatch, outcome: dict[str, list[Transfer]]) -> list[_Offset]:
    found = []
    for status, transfers in outcome.items():
        if not transfers:
            continue
        ids = [t.id for t in transfers]
        if status == "returned":
            recoveries = list(await session.scalars(select(Recovery).where(
                Recovery.settled_reference.in_([f"{batch.reference}#{t.seq}" for t in transfers]))))
        else:
            recoveries = list(await session.scalars(select(Recovery).where(Recovery.offset_transfer_id.in_(ids))))
        for recovery in recoveries:
            credit = {} if status == "failed" else await _recovery_credit(session, recovery)
            transfer = next((t for t in transfers if t.id == recovery.offset_transfer_id), None)
            found.append(_Offset(status, recovery, credit, transfer))
    return found


async def _settle_offsets(session: AsyncSession, principal: Principal, batch: PaymentBatch, offsets: list[_Offset],
                          funds: dict[uuid.UUID, Fund], now: datetime) -> None:
    """Offsets ride on their transfer: paid -> the recovery is settled (its money credited back to the funds its
    claim was paid from); failed -> open again for a later transfer; returned -> open again, the credit reversed.
    `funds` are locked (`funds_locked_by_id`): two settlements crediting one fund do so one after the other."""
    for o in offsets:
        status, recovery, credit, transfer = o.status, o.recovery, o.credit, o.transfer
        if status == "failed":
            recovery.offset_transfer_id = None
            continue
        if status == "paid":
            await move(session, funds, credit, "recover", batch_id=batch.id, recovery_id=recovery.id,
                       reference=batch.reference, created_by=principal.subject, now=now)
            recovery.state, recovery.settlement = "settled", "offset"
            recovery.settled_reference = f"{batch.reference}#{transfer.seq if transfer else '?'}"
            recovery.settled_by, recovery.settled_at = principal.subject, now
            await outbox.add(session, RecoverySettled(
                recovery_id=str(recovery.id), claim_id=str(recovery.claim_id), payee_type=recovery.payee_type,
                payee_id=recovery.payee_id, amount=recovery.amount, settlement="offset",
                reference=recovery.settled_reference, settled_at=now,
            ), partition_key=recovery.person_key, subject=str(recovery.id))
        else:  # returned: the netting payment never arrived
            await move(session, funds, credit, "unrecover", batch_id=batch.id, recovery_id=recovery.id,
                       reference=batch.reference, created_by=principal.subject, now=now)
            recovery.state, recovery.settlement, recovery.settled_reference = "open", None, None
            recovery.settled_by, recovery.settled_at, recovery.offset_transfer_id = None, None, None


async def _recovery_credit(session: AsyncSession, recovery: Recovery) -> dict[uuid.UUID, Decimal]:
    """The funds a recovered amount goes back to: those the claim's payment drew on, last drawn first."""
    payment = (await session.scalars(select(ClaimPayment).where(
        ClaimPayment.claim_id == recovery.claim_id, ClaimPayment.state == "paid"))).first()
    if payment is None:
        return {}
    credit: dict[uuid.UUID, Decimal] = {}
    left = recovery.amount
    for d in reversed(payment.draws):
        part = min(left, Decimal(d["amount"]))
        if part > 0:
            credit[uuid.UUID(d["fund_id"])] = part
            left -= part
    return credit


async def refund_recovery(session: AsyncSession, principal: Principal, recovery_id: uuid.UUID, amount: Decimal,
                          reference: str, now: datetime) -> Recovery:
    """追回 settled by a refund the payee paid back, recorded by finance."""
    stmt = select(Recovery).where(Recovery.id == recovery_id)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    recovery = (await session.scalars(stmt)).first()
    if recovery is None:
        raise not_found("recovery", recovery_id)
    if recovery.state != "open" or recovery.offset_transfer_id is not None:
        raise Problem(409, "recovery_not_open", f"recovery {recovery_id} is {recovery.state}"
                      + (" and being offset on a pending transfer" if recovery.offset_transfer_id else ""))
    if amount != recovery.amount:
        raise Problem(422, "refund_amount_mismatch", f"the refund must be the recovered amount {recovery.amount}")
    credit = await _recovery_credit(session, recovery)
    funds = await funds_locked_by_id(session, credit)  # a settlement may be crediting the same fund
    await move(session, funds, credit, "recover", batch_id=None, recovery_id=recovery.id, reference=reference,
               created_by=principal.subject, now=now)
    before = {"state": recovery.state}
    recovery.state, recovery.settlement, recovery.settled_reference = "settled", "refund", reference
    recovery.settled_by, recovery.settled_at = principal.subject, now
    await outbox.add(session, RecoverySettled(
        recovery_id=str(recovery.id), claim_id=str(recovery.claim_id), payee_type=recovery.payee_type,
        payee_id=recovery.payee_id, amount=recovery.amount, settlement="refund", reference=reference, settled_at=now,
    ), partition_key=recovery.person_key, subject=str(recovery.id))
    await audit.record(session, principal, "recovery.refund", "recovery", str(recovery.id), before=before,
                       after={"state": "settled", "settlement": "refund", "reference": reference,
                              "amount": str(amount)})
    return recovery
