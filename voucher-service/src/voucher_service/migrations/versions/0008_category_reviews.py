"""category reviews (issue 13): categories confirmed or rejected on evidence

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:30:00.000000
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
import skillkit.db


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('category_reviews',
    sa.Column('worker_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('evidence_reference', sa.String(length=200), nullable=False),
    sa.Column('licence_issued_on', sa.Date(), nullable=True),
    sa.Column('reviewed_by', sa.String(length=200), nullable=False),
    sa.Column('reviewed_at', skillkit.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_category_reviews_worker_id_workers')),
    sa.PrimaryKeyConstraint('worker_id', 'category', name=op.f('pk_category_reviews'))
    )


def downgrade() -> None:
    op.drop_table('category_reviews')
