"""P10: who dropped a trainee, recorded a follow-up, reported a class's outcome

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 06:20:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Rows written before this revision keep an empty author: who made those decisions was not recorded.
    with op.batch_alter_table('enrolments') as batch:
        batch.add_column(sa.Column('dropped_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('employment_recorded_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('licence_recorded_by', sa.String(length=200), nullable=True))
    with op.batch_alter_table('classes') as batch:
        batch.add_column(sa.Column('closed_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('classes') as batch:
        batch.drop_column('closed_by')
    with op.batch_alter_table('enrolments') as batch:
        batch.drop_column('licence_recorded_by')
        batch.drop_column('employment_recorded_by')
        batch.drop_column('dropped_by')
