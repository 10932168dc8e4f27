"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 17:37:57.771967
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
import skillkit.db
from skillkit.tables import create_kit_tables, drop_kit_tables


revision: str = '0001'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_kit_tables()  # outbox, inbox, idempotency keys
    op.create_table('issuing_batches',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('policy_year', sa.Integer(), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('class_reference', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issuing_batches'))
    )
    op.create_table('workers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('account_subject', sa.String(length=200), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_number_encrypted', sa.Text(), nullable=False),
    sa.Column('id_blind_index', sa.String(length=64), nullable=False),
    sa.Column('person_key', sa.String(length=64), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('mobile', sa.String(length=11), nullable=False),
    sa.Column('township', sa.String(length=50), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('on_behalf', sa.Boolean(), nullable=False),
    sa.Column('registered_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers')),
    sa.UniqueConstraint('account_subject', name=op.f('uq_workers_account_subject')),
    sa.UniqueConstraint('id_blind_index', name=op.f('uq_workers_id_blind_index')),
    sa.UniqueConstraint('person_key', name=op.f('uq_workers_person_key'))
    )
    op.create_table('vouchers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('worker_id', sa.Uuid(), nullable=False),
    sa.Column('person_key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('policy_year', sa.Integer(), nullable=False),
    sa.Column('quota_slot', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('valid_from', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('issued_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('enrolment_id', sa.String(length=36), nullable=True),
    sa.Column('class_id', sa.String(length=36), nullable=True),
    sa.Column('institution_id', sa.String(length=36), nullable=True),
    sa.Column('bound_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('occupation_code', sa.String(length=20), nullable=True),
    sa.Column('revoked_reason', sa.String(length=20), nullable=True),
    sa.Column('revoked_note', sa.Text(), nullable=True),
    sa.Column('revoked_by', sa.String(length=200), nullable=True),
    sa.Column('ended_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claim_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['issuing_batches.id'], name=op.f('fk_vouchers_batch_id_issuing_batches')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_vouchers_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('code', name=op.f('uq_vouchers_code')),
    sa.UniqueConstraint('person_key', 'policy_year', 'quota_slot', name='uq_vouchers_e4_quota')
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_person_key'), ['person_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_valid_until'), ['valid_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_worker_id'), ['worker_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouchers_worker_id'))
        batch_op.drop_index(batch_op.f('ix_vouchers_valid_until'))
        batch_op.drop_index(batch_op.f('ix_vouchers_status'))
        batch_op.drop_index(batch_op.f('ix_vouchers_person_key'))

    op.drop_table('vouchers')
    op.drop_table('workers')
    op.drop_table('issuing_batches')
    drop_kit_tables()
