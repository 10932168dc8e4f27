"""The voucher service's answers to an enrolment (consumer "training-service"): `voucher.bound` activates the
enrolment and puts it on its class's P1 trainee sheet, `voucher.binding_rejected` compensates.

A consumer batch's bound events are applied together (`apply_binds`, from the consumer's before_commit): their
projection changes join the batch's others (`write_projection`), one SELECT of their enrolments, one of their
classes, then one P1 trainee sheet per class with every trainee the batch bound in it, in event order (P1: the
province sees the trainees a class bound together as one sheet). A sheet is built under the correlation and
causation ids of the first bound event on it, as if that event's handler had built it. Events in a batch keep
their order: a binding rejection first applies the binds collected before it; the sheets are built once, at the
end of the batch.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.voucher import VoucherBindingRejected, VoucherBound
from skillkit.db import utcnow
from skillkit.events import Envelope, causation_id_var, correlation_id_var

from training_service.adapters.models import Enrolment, TrainingClass
from training_service.adapters.outbox import outbox
from training_service.config import TrainingSettings
from training_service.handlers import province
from training_service.handlers.enrolments import defer_projection, reject_enrolment, write_projection

log = logging.getLogger("training_service.enrolments")

_PENDING = "training_service.pending_binds"
_SHEETS = "training_service.trainee_sheets"


@dataclass(frozen=True)
class _Bind:
    envelope: Envelope
    settings: TrainingSettings


async def on_voucher_bound(session: AsyncSession, envelope: Envelope, settings: TrainingSettings) -> None:
    """Collected; applied with the batch's other binds by `apply_binds`."""
    session.info.setdefault(_PENDING, []).append(_Bind(envelope, settings))


async def on_binding_rejected(session: AsyncSession, envelope: Envelope) -> None:
    await apply_binds(session)  # a bind earlier in the batch comes first, as one by one
    event: VoucherBindingRejected = envelope.payload
    enrolment = await _our_enrolment(session, event.enrolment_id)
    if enrolment is None or enrolment.status != "pending":
        return  # not ours, or already answered
    await reject_enrolment(session, enrolment, str(event.reason), event.detail)


async def before_commit(session: AsyncSession) -> None:
    """The consumer's before_commit: the batch's binds, one P1 trainee sheet per class, its projection changes,
    then all its deferred events in one outbox INSERT."""
    await apply_binds(session)
    _defer_trainee_sheets(session)
    await write_projection(session)
    await outbox.write_deferred(session)


async def apply_binds(session: AsyncSession) -> None:
    binds: list[_Bind] = session.info.pop(_PENDING, [])
    if not binds:
        return
    events = [bind.envelope.payload for bind in binds]
    for e in events:  # the projection records every bound, ours or not
        defer_projection(session, e.voucher_id, e.person_key, bound_enrolment_id=e.enrolment_id)
    ids = {ident for ident in (_uuid(e.enrolment_id) for e in events) if ident is not None}
    enrolments = {e.id: e for e in (await session.scalars(select(Enrolment).where(Enrolment.id.in_(ids)))).all()}
    class_ids = {e.class_id for e in enrolments.values() if e.status == "pending"}
    classes = {c.id: c for c in (await session.scalars(
        select(TrainingClass).where(TrainingClass.id.in_(class_ids)))).all()} if class_ids else {}
    for bind, event in zip(binds, events):
        enrolment = enrolments.get(_uuid(event.enrolment_id))
        if enrolment is None:
            continue
        if enrolment.status != "pending":
            if enrolment.status == "rejected":
                log.warning("voucher bound to an enrolment already rejected", extra={"enrolment_id": event.enrolment_id})
            continue
        _activate(session, bind, event, enrolment, classes[enrolment.class_id])


@dataclass
class _Sheet:
    first: _Bind  # the first bound event on the sheet: its ids are the sheet's
    training_class: TrainingClass
    enrolments: list[Enrolment]


def _activate(session: AsyncSession, bind: _Bind, event: VoucherBound, enrolment: Enrolment,
              training_class: TrainingClass) -> None:
    enrolment.status = "active"
    enrolment.bound_at = event.bound_at
    enrolment.updated_at = utcnow()
    sheets: dict = session.info.setdefault(_SHEETS, {})  # class id -> its sheet, in the order classes came
    sheet = sheets.get(training_class.id)
    if sheet is None:
        sheets[training_class.id] = sheet = _Sheet(bind, training_class, [])
    sheet.enrolments.append(enrolment)


def _defer_trainee_sheets(session: AsyncSession) -> None:
    """One P1 trainee sheet per class for the whole batch (after its last `apply_binds`)."""
    sheets: dict = session.info.pop(_SHEETS, {})
    for sheet in sheets.values():
        submission = province.trainee_sheet(session, sheet.first.settings, sheet.training_class, sheet.enrolments)
        if submission is None:
            continue
        payload, partition_key, subject = submission
        envelope = sheet.first.envelope  # the ids the kit gives an event built while its handler runs
        correlation = correlation_id_var.set(envelope.correlation_id or envelope.id)
        causation = causation_id_var.set(envelope.id)
        try:
            outbox.defer(session, payload, partition_key=partition_key, subject=subject)
        finally:
            correlation_id_var.reset(correlation)
            causation_id_var.reset(causation)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None  # not an enrolment of ours


async def _our_enrolment(session: AsyncSession, enrolment_id: str) -> Enrolment | None:
    ident = _uuid(enrolment_id)
    return None if ident is None else await session.get(Enrolment, ident)
