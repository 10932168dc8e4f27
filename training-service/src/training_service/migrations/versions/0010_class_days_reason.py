"""S1: the reason an inclusive class plans outside 3–10 days (it then waits for the bureau's approval)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:10:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('classes', sa.Column('days_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('classes', 'days_reason')
