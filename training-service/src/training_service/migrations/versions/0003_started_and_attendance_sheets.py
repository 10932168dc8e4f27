"""enrolments.started_on (training.started once per enrolment), realname_submissions.day (attendance sheets)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 20:10:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('enrolments') as batch:
        batch.add_column(sa.Column('started_on', sa.Date(), nullable=True))
    with op.batch_alter_table('realname_submissions') as batch:
        batch.add_column(sa.Column('day', sa.Date(), nullable=True))
    # Trainees who attended before this revision have started: a later upload must not announce them again.
    op.execute(
        "UPDATE enrolments SET started_on = (SELECT min(check_ins.day) FROM check_ins "
        "WHERE check_ins.enrolment_id = enrolments.id) "
        "WHERE EXISTS (SELECT 1 FROM check_ins WHERE check_ins.enrolment_id = enrolments.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('realname_submissions') as batch:
        batch.drop_column('day')
    with op.batch_alter_table('enrolments') as batch:
        batch.drop_column('started_on')
