"""enterprises (S5) and the enterprise an on-the-job class names

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:00:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
import skillkit.db


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('enterprises',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('township', sa.String(length=50), nullable=False),
    sa.Column('contact_name', sa.String(length=50), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', skillkit.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprises_credit_code'))
    )
    op.add_column('classes', sa.Column('enterprise_id', sa.Uuid(), nullable=True))
    op.create_index(op.f('ix_classes_enterprise_id'), 'classes', ['enterprise_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_classes_enterprise_id'), table_name='classes')
    op.drop_column('classes', 'enterprise_id')
    op.drop_table('enterprises')
