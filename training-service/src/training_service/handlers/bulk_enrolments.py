"""Bulk enrolment: a roster of typed voucher codes, names and resident ID numbers (CSV or XLSX).

Every row gets exactly the checks and problem codes of the single enrolment (`handlers.enrolments.enrol`),
as if the rows were enrolled one after the other in file order; the good rows are enrolled, the bad ones are
reported by line and change nothing. Set-based: one SELECT of the vouchers of all rows, one of their live
enrolments, one of the trainees already in the class, one seat reservation for the whole file, one multi-row
INSERT of the enrolments and one outbox INSERT of their `training.enrolled` events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.inserts import insert_or_skip
from training_service import clock
from skillkit.pii import cipher_for, mask_resident_id, normalise_resident_id, person_key
from skillkit.problems import Problem
from skillkit.roster import RosterRow, read_roster

from training_service.adapters.models import LIVE, Enrolment, TrainingClass, VoucherProjection
from training_service.adapters.outbox import outbox
from training_service.handlers.interests import confirm_many
from training_service.config import TrainingSettings
from training_service.handlers.inputs import EnrolmentIn
from training_service.domain.rules import normalise_voucher_code
from training_service.handlers.bulk import BulkRowError, row_error
from training_service.handlers.common import class_for
from training_service.handlers.enrolments import (
    check_class_takes_enrolment,
    check_voucher_fits,
    class_full,
    enrolled_event,
    new_enrolment,
    release_seat,
    trainee_already_enrolled,
    voucher_already_enrolled,
    voucher_unknown,
)

ENROLMENT_COLUMNS = {"voucher_code": ("券码", "电子券号"), "trainee_name": "姓名", "id_number": "身份证号"}

# Built once with bind parameters (lists expanded at execution): SQLAlchemy then takes them from its compiled
# cache without building and keying each statement again on every upload (and the pipeline retries a file ~6 times).
_VOUCHERS = select(VoucherProjection).where(VoucherProjection.code.in_(bindparam("codes", expanding=True)))
_USED_VOUCHERS = select(Enrolment.voucher_id).where(
    Enrolment.voucher_id.in_(bindparam("voucher_ids", expanding=True)), Enrolment.live_slot == LIVE)
_IN_CLASS = select(Enrolment.person_key).where(
    Enrolment.class_id == bindparam("class_id"), Enrolment.live_slot == LIVE,
    Enrolment.person_key.in_(bindparam("keys", expanding=True)))
_SEATS = (select(TrainingClass.seats_taken, TrainingClass.capacity)
          .where(TrainingClass.id == bindparam("class_id")).with_for_update())
_TAKE_SEATS = (update(TrainingClass).where(TrainingClass.id == bindparam("class_id"))
               .values(seats_taken=TrainingClass.seats_taken + bindparam("granted"))
               .execution_options(synchronize_session=False))


@dataclass
class Candidate:
    row: RosterRow
    data: EnrolmentIn
    number: str
    trainee_key: str
    code: str
    voucher: VoucherProjection | None = None


@dataclass
class BulkEnrolment:
    enrolments: list[tuple[Enrolment, str]]  # with the masked resident ID number (no decryption for the response)
    row_errors: list[BulkRowError]


async def bulk_enrol(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID,
    filename: str, content: bytes,
) -> BulkEnrolment:
    training_class = await class_for(session, principal, class_id)
    rows = await read_roster(filename, content, ENROLMENT_COLUMNS, set(ENROLMENT_COLUMNS))
    now = clock.now()
    await check_class_takes_enrolment(session, training_class, now)  # I3, S2, class state: the whole file
    errors: list[BulkRowError] = []

    candidates: list[Candidate] = []
    for row in rows:
        try:
            data = EnrolmentIn.model_validate({k: v or None for k, v in row.values.items()})
            number = normalise_resident_id(data.id_number, local_date(now))
            code = normalise_voucher_code(data.voucher_code or "")
        except (ValidationError, Problem) as exc:
            errors.append(row_error(row, exc))
            continue
        candidates.append(Candidate(row, data, number, person_key(number, settings.person_key_secret), code))

    vouchers = {v.code: v for v in (await session.scalars(_VOUCHERS, {"codes": list({c.code for c in candidates})}))}
    fitting: list[Candidate] = []
    for c in candidates:
        c.voucher = vouchers.get(c.code)
        try:
            if c.voucher is None or not c.voucher.issued:
                raise voucher_unknown()
            check_voucher_fits(c.voucher, c.trainee_key, training_class, now)
        except Problem as exc:
            errors.append(row_error(c.row, exc))
            continue
        fitting.append(c)

    if not fitting:  # e.g. a file sent before any of its vouchers reached the projection: nothing more to read
        return BulkEnrolment(enrolments=[], row_errors=sorted(errors, key=lambda error: error.line))
    used_vouchers = set(await session.scalars(
        _USED_VOUCHERS, {"voucher_ids": list({c.voucher.voucher_id for c in fitting if c.voucher})}))
    in_class = set(await session.scalars(
        _IN_CLASS, {"class_id": training_class.id, "keys": list({c.trainee_key for c in fitting})}))
    accepted: list[Candidate] = []
    for c in fitting:  # file order: an earlier row of the same voucher or trainee wins, as one by one
        assert c.voucher is not None
        problem = (voucher_already_enrolled() if c.voucher.voucher_id in used_vouchers
                   else trainee_already_enrolled() if c.trainee_key in in_class else None)
        if problem is not None:
            errors.append(row_error(c.row, problem))
            continue
        used_vouchers.add(c.voucher.voucher_id)
        in_class.add(c.trainee_key)
        accepted.append(c)

    seats = await _take_seats(session, training_class, len(accepted))
    errors += [row_error(c.row, class_full(training_class)) for c in accepted[seats:]]
    accepted = accepted[:seats]

    cipher = cipher_for(settings)
    made = [(c, new_enrolment(settings, cipher, principal, training_class, c.voucher, c.trainee_key,
                              c.data.trainee_name, c.number, now)) for c in accepted if c.voucher]
    inserted = await _insert(session, [e for _, e in made])
    lost = [c for c, e in made if e.id not in inserted]  # the voucher was enrolled concurrently elsewhere
    errors += [row_error(c.row, voucher_already_enrolled()) for c in lost]
    await release_seat(session, training_class.id, len(lost))
    enrolled = [(c, e) for c, e in made if e.id in inserted]
    await outbox.add_many(session, [enrolled_event(training_class, e) for _, e in enrolled])
    await confirm_many(session, training_class.id, [(e.person_key, e.voucher_code, e.id) for _, e in enrolled])  # P9
    return BulkEnrolment(
        enrolments=[(e, mask_resident_id(c.number)) for c, e in enrolled],
        row_errors=sorted(errors, key=lambda error: error.line),
    )


async def _take_seats(session: AsyncSession, training_class: TrainingClass, wanted: int) -> int:
    """Reserves up to `wanted` seats; returns how many. The class row stays locked (PostgreSQL) until commit, so a
    concurrent enrolment waits and then sees these seats taken, as with the single enrolment's UPDATE."""
    if wanted == 0:
        return 0
    seats_taken, capacity = (await session.execute(_SEATS, {"class_id": training_class.id})).one()
    granted = max(0, min(wanted, capacity - seats_taken))
    if granted:
        await session.execute(_TAKE_SEATS, {"class_id": training_class.id, "granted": granted})
    return granted


async def _insert(session: AsyncSession, enrolments: list[Enrolment]) -> set[uuid.UUID]:
    """Multi-row INSERT; a row whose voucher got a live enrolment concurrently (unique voucher/live slot) is
    skipped, not an error for the whole file. Returns the ids inserted."""
    if not enrolments:
        return set()
    rows = [{k: getattr(e, k) for k in _ENROLMENT_COLUMNS} for e in enrolments]
    return set((await insert_or_skip(session, _ENROLMENTS, rows, returning=("id",))).scalars())


_ENROLMENTS = Enrolment.__table__
_ENROLMENT_COLUMNS = [c.key for c in _ENROLMENTS.columns]
