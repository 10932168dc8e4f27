"""reports: the public disclosure's rate-limit counter, the read models of the reports and their watermark, paid claims index

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:00:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
import skillkit.db


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('rate_limit_hits',
    sa.Column('bucket', sa.String(length=40), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('window_no', sa.Integer(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', 'client', 'window_no', name=op.f('pk_rate_limit_hits'))
    )
    op.create_table('report_vouchers',
    sa.Column('voucher_id', sa.String(length=64), nullable=False),
    sa.Column('person_key', sa.String(length=64), nullable=False),
    sa.Column('policy_year', sa.Integer(), nullable=True),
    sa.Column('issued_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('township', sa.String(length=50), nullable=True),
    sa.Column('institution_id', sa.String(length=64), nullable=True),
    sa.Column('class_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=True),
    sa.Column('bound', sa.SmallInteger(), nullable=False),
    sa.Column('completed', sa.SmallInteger(), nullable=False),
    sa.Column('evaluated', sa.SmallInteger(), nullable=False),
    sa.Column('certified', sa.SmallInteger(), nullable=False),
    sa.Column('eligible', sa.SmallInteger(), nullable=False),
    sa.Column('paid', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('voucher_id', name=op.f('pk_report_vouchers'))
    )
    op.create_index('ix_report_vouchers_year_township', 'report_vouchers', ['policy_year', 'township'], unique=False)
    op.create_index('ix_report_vouchers_institution_class', 'report_vouchers', ['institution_id', 'class_id'],
                    unique=False)
    op.create_index('ix_report_vouchers_class', 'report_vouchers', ['class_id'], unique=False)
    op.create_table('report_holders',
    sa.Column('person_key', sa.String(length=64), nullable=False),
    sa.Column('township', sa.String(length=50), nullable=True),
    sa.Column('holds', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('person_key', name=op.f('pk_report_holders'))
    )
    op.create_index('ix_report_holders_township', 'report_holders', ['township'], unique=False)
    op.create_index('ix_claims_paid', 'claims', ['policy_year', 'paid_at'], unique=False,
                    postgresql_where=sa.text("state = 'paid'"), sqlite_where=sa.text("state = 'paid'"))
    op.create_table('report_watermarks',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('refreshed_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fact_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_report_watermarks'))
    )


def downgrade() -> None:
    op.drop_table('report_watermarks')
    op.drop_index('ix_claims_paid', table_name='claims')
    op.drop_index('ix_report_holders_township', table_name='report_holders')
    op.drop_table('report_holders')
    op.drop_index('ix_report_vouchers_class', table_name='report_vouchers')
    op.drop_index('ix_report_vouchers_institution_class', table_name='report_vouchers')
    op.drop_index('ix_report_vouchers_year_township', table_name='report_vouchers')
    op.drop_table('report_vouchers')
    op.drop_table('rate_limit_hits')
