"""P3: the training service's completed trainees (training.enrolled / training.completed)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:55:00
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
    op.create_table('training_completions',
    sa.Column('enrolment_id', sa.String(length=36), nullable=False),
    sa.Column('person_key', sa.String(length=64), nullable=False),
    sa.Column('class_id', sa.String(length=36), nullable=True),
    sa.Column('institution_id', sa.String(length=36), nullable=True),
    sa.Column('occupation_code', sa.String(length=20), nullable=True),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('updated_at', skillkit.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('enrolment_id', name=op.f('pk_training_completions'))
    )
    op.create_index(op.f('ix_training_completions_completed_on'), 'training_completions', ['completed_on'], unique=False)
    op.create_index(op.f('ix_training_completions_institution_id'), 'training_completions', ['institution_id'], unique=False)
    op.create_index(op.f('ix_training_completions_person_key'), 'training_completions', ['person_key'], unique=False)


def downgrade() -> None:
    op.drop_table('training_completions')
