"""realname_submissions.lines (trainee and completion sheets), enrolments.completion_province_* (P1)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 22:40:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Records sent one per trainee or completion before this revision keep `enrolment_id` and no lines; their
    # answers are still matched as before.
    with op.batch_alter_table('realname_submissions') as batch:
        batch.add_column(sa.Column('lines', sa.JSON(), nullable=True))
    with op.batch_alter_table('enrolments') as batch:
        batch.add_column(sa.Column('completion_province_status', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('completion_province_reason', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('completion_province_detail', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrolments') as batch:
        batch.drop_column('completion_province_detail')
        batch.drop_column('completion_province_reason')
        batch.drop_column('completion_province_status')
    with op.batch_alter_table('realname_submissions') as batch:
        batch.drop_column('lines')
