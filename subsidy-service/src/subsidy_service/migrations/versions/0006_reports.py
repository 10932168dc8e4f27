"""reports: the public disclosure's rate-limit counter

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:00:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


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


def downgrade() -> None:
    op.drop_table('rate_limit_hits')
