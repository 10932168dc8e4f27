"""Interest in a class (报名意向, P9): a worker says they want a class; the institution follows up one by one and
confirms by enrolling the worker with their voucher (the enrolment marks the interest `enrolled`)."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.commands import Outcome
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.pii import cipher_for
from skillkit.problems import Problem, not_found

from training_service.adapters.models import ClassInterest, Institution, TrainingClass, VoucherProjection
from training_service.config import TrainingSettings
from training_service.handlers.inputs import InterestIn
from training_service.domain.rules import normalise_voucher_code


async def open_class_or_404(session: AsyncSession, class_id: uuid.UUID) -> TrainingClass:
    """A class the public catalogue shows: open, of an approved institution, not ended (county date)."""
    found = (await session.execute(
        select(TrainingClass).join(Institution, Institution.id == TrainingClass.institution_id)
        .where(TrainingClass.id == class_id, TrainingClass.status == "open", Institution.status == "approved",
               TrainingClass.end_date >= local_date(utcnow())))).scalar_one_or_none()
    if found is None:
        raise not_found("class", class_id)
    return found


async def register_interest(session: AsyncSession, settings: TrainingSettings, principal: Principal,
                            class_id: uuid.UUID, data: InterestIn) -> Outcome:
    """The same worker again on the same class: their interest as it is (200), its contact updated."""
    training_class = await open_class_or_404(session, class_id)
    now = utcnow()
    code = normalise_voucher_code(data.voucher_code) if data.voucher_code else None
    key = principal.person_key
    if key is None and code is not None:
        key = await session.scalar(select(VoucherProjection.person_key).where(VoucherProjection.code == code))
    existing = await session.scalar(select(ClassInterest).where(ClassInterest.class_id == class_id,
                                                                ClassInterest.account_subject == principal.subject))
    if existing is not None:
        if existing.status == "interested":
            existing.contact_name, existing.note = data.contact_name, data.note
            existing.mobile_encrypted = cipher_for(settings).encrypt(data.mobile)
            existing.voucher_code = code or existing.voucher_code
            existing.person_key = key or existing.person_key
            existing.updated_at = now
        return Outcome(existing, 200)
    if training_class.seats_taken >= training_class.capacity:
        raise Problem(409, "class_full", f"all {training_class.capacity} seats of the class are taken")
    interest = ClassInterest(
        id=uuid.uuid4(), class_id=class_id, institution_id=training_class.institution_id,
        account_subject=principal.subject, person_key=key, voucher_code=code, contact_name=data.contact_name,
        mobile_encrypted=cipher_for(settings).encrypt(data.mobile), note=data.note, status="interested", enrolment_id=None, created_at=now, updated_at=now)
    session.add(interest)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same worker's retry without an Idempotency-Key, at the same moment
        raise Problem(409, "interest_exists", "this account registered interest in the class already") from exc
    return Outcome(interest, 201)


async def withdraw_interest(session: AsyncSession, principal: Principal, interest_id: uuid.UUID) -> ClassInterest:
    interest = await session.get(ClassInterest, interest_id)
    if interest is None or interest.account_subject != principal.subject:
        raise not_found("interest", interest_id)
    if interest.status == "enrolled":
        raise Problem(409, "interest_enrolled", "the institution enrolled you already; ask it to drop the enrolment")
    interest.status, interest.updated_at = "withdrawn", utcnow()
    return interest


async def confirm_by_enrolment(session: AsyncSession, class_id: uuid.UUID, person_key: str, voucher_code: str | None,
                               enrolment_id: uuid.UUID) -> None:
    """The institution enrolled the person with their voucher: their interest in the class is confirmed."""
    match = ClassInterest.person_key == person_key
    if voucher_code:
        match = or_(match, ClassInterest.voucher_code == voucher_code)
    await session.execute(
        update(ClassInterest).where(ClassInterest.class_id == class_id, ClassInterest.status == "interested", match)
        .values(status="enrolled", enrolment_id=enrolment_id, updated_at=utcnow())
        .execution_options(synchronize_session=False))


async def confirm_many(session: AsyncSession, class_id: uuid.UUID,
                       enrolled: list[tuple[str, str | None, uuid.UUID]]) -> None:
    """`confirm_by_enrolment` for an enrolment file: (person key, voucher code, enrolment id) per enrolled row.
    One SELECT of the class's open interests (usually none), then one UPDATE per interest confirmed."""
    if not enrolled:
        return
    open_interests = (await session.execute(
        select(ClassInterest.id, ClassInterest.person_key, ClassInterest.voucher_code)
        .where(ClassInterest.class_id == class_id, ClassInterest.status == "interested"))).all()
    by_key = {key: ident for key, _, ident in enrolled}
    by_code = {code: ident for _, code, ident in enrolled if code}
    now = utcnow()
    for interest_id, key, code in open_interests:
        enrolment_id = by_key.get(key) if key else None
        enrolment_id = enrolment_id or (by_code.get(code) if code else None)
        if enrolment_id is not None:
            await session.execute(update(ClassInterest).where(ClassInterest.id == interest_id)
                                  .values(status="enrolled", enrolment_id=enrolment_id, updated_at=now))
