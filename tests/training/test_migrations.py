"""Migration 0003: trainees who attended before it count as started, so a later upload does not announce them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timezone

from sqlalchemy import Uuid, bindparam, select, text

from skillkit.db import UTCDateTime, make_engine
from skillkit.migrations import upgrade
from training_service.adapters.models import CheckIn, Enrolment, Institution, Occupation, TrainingClass

NOW = datetime(2026, 11, 2, 1, tzinfo=timezone.utc)


async def test_0003_back_fills_started_on_with_the_first_attended_day(database_factory):
    url = await database_factory("training_migration")
    await asyncio.to_thread(upgrade, "training_service.migrations", url, "0002")
    institution, klass = uuid.uuid4(), uuid.uuid4()
    attended, absent = uuid.uuid4(), uuid.uuid4()
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:  # rows as revision 0002 knew them (no started_on, no sheet day)
            await conn.execute(Occupation.__table__.insert().values(code="4-10-01-05", name="养老护理员", created_at=NOW))
            await conn.execute(Institution.__table__.insert().values(
                id=institution, name="临县技工学校", credit_code="12141124MB0000010X", address="临泉镇", township="临泉镇",
                contact_name="王老师", contact_phone="13800000001", kinds=["inclusive"], occupation_codes=["4-10-01-05"],
                status="approved", status_changed_by="s", created_by="s", created_at=NOW, updated_at=NOW))
            await conn.execute(TrainingClass.__table__.insert().values(
                id=klass, institution_id=institution, name="班", kind="inclusive", occupation_code="4-10-01-05",
                start_date=date(2026, 11, 1), end_date=date(2026, 11, 7), planned_days=5, capacity=30, seats_taken=2,
                venue="v", teachers=["李老师"], teaching_plan_ref="t", assessment_plan_ref="a", status="open",
                created_by="s", created_at=NOW))
            for enrolment in (attended, absent):
                await conn.execute(Enrolment.__table__.insert().values(
                    id=enrolment, class_id=klass, institution_id=institution, voucher_id=str(uuid.uuid4()),
                    live_slot="1", person_key=enrolment.hex, trainee_name="张三", id_number_encrypted="x",
                    id_blind_index=enrolment.hex, status="active", province_status="submitted", enrolled_by="s",
                    created_at=NOW, updated_at=NOW))
            for day in (date(2026, 11, 3), date(2026, 11, 2)):
                await conn.execute(CheckIn.__table__.insert().values(
                    id=uuid.uuid4(), enrolment_id=attended, class_id=klass, day=day, method="face", checked_at=NOW,
                    recorded_by="s", created_at=NOW))
        await asyncio.to_thread(upgrade, "training_service.migrations", url, "head")
        async with engine.connect() as conn:
            started = dict((await conn.execute(select(Enrolment.id, Enrolment.started_on))).all())
    finally:
        await engine.dispose()
    assert started == {attended: date(2026, 11, 2), absent: None}


def _diff(connection):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from training_service.adapters.models import Base

    return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)


async def test_migrations_match_the_models(database_factory):
    url = await database_factory("training_models")
    await asyncio.to_thread(upgrade, "training_service.migrations", url)
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_0006_makes_every_record_sent_before_its_own_first_version_and_downgrades(database_factory):
    """P1: a submission sent before record versions is version 1 of a record of its own id, sent when created."""
    from alembic import command
    from skillkit.migrations import alembic_config

    from training_service.adapters.models import RealnameSubmission

    url = await database_factory("training_0006")
    await asyncio.to_thread(upgrade, "training_service.migrations", url, "0005")
    sent = uuid.uuid4()
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(  # the columns revision 0005 knew; typed binds store as the columns do on SQLite
                "INSERT INTO realname_submissions (id, record_type, class_id, status, created_at)"
                " VALUES (:id, 'class', :c, 'submitted', :t)").bindparams(
                bindparam("id", type_=Uuid()), bindparam("t", type_=UTCDateTime())),
                {"id": sent, "c": str(uuid.uuid4()), "t": NOW})
        await asyncio.to_thread(upgrade, "training_service.migrations", url)
        async with engine.connect() as conn:
            row = (await conn.execute(select(
                RealnameSubmission.record_id, RealnameSubmission.version, RealnameSubmission.attempts,
                RealnameSubmission.last_sent_at, RealnameSubmission.escalated_at))).one()
        assert tuple(row) == (sent, 1, 1, NOW, None)
        config = alembic_config("training_service.migrations", url)
        await asyncio.to_thread(command.downgrade, config, "0005")
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await engine.dispose()


async def test_S9_0013_adds_the_funding_department_none_for_classes_filed_before_and_downgrades(database_factory):
    """S9: a class filed before 0013 is an ordinary class (no department); the revision downgrades cleanly."""
    from alembic import command
    from skillkit.migrations import alembic_config

    url = await database_factory("training_0013")
    await asyncio.to_thread(upgrade, "training_service.migrations", url, "0012")
    institution, klass = uuid.uuid4(), uuid.uuid4()
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:  # rows as revision 0012 knew them (no funded_by_department)
            await conn.execute(Occupation.__table__.insert().values(code="4-10-01-05", name="养老护理员", created_at=NOW))
            await conn.execute(Institution.__table__.insert().values(
                id=institution, name="临县技工学校", credit_code="12141124MB0000010X", address="临泉镇", township="临泉镇",
                contact_name="王老师", contact_phone="13800000001", kinds=["inclusive"], occupation_codes=["4-10-01-05"],
                status="approved", status_changed_by="s", created_by="s", created_at=NOW, updated_at=NOW))
            columns = {c.name for c in TrainingClass.__table__.columns} - {"funded_by_department"}
            values = dict(
                id=klass, institution_id=institution, name="班", kind="inclusive", occupation_code="4-10-01-05",
                start_date=date(2026, 11, 1), end_date=date(2026, 11, 7), planned_days=5, capacity=30, seats_taken=0,
                venue="v", teachers=["李老师"], teaching_plan_ref="t", assessment_plan_ref="a", status="open",
                created_by="s", created_at=NOW)
            assert set(values) <= columns
            await conn.execute(TrainingClass.__table__.insert().values(**values))
        await asyncio.to_thread(upgrade, "training_service.migrations", url, "head")
        async with engine.connect() as conn:
            assert (await conn.execute(select(TrainingClass.funded_by_department))).scalar_one() is None
        config = alembic_config("training_service.migrations", url)
        await asyncio.to_thread(command.downgrade, config, "0012")
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await engine.dispose()
