"""S9: the industry department whose own funds pay a class (record only: no subsidy arises from it)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:00:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('classes', sa.Column('funded_by_department', sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column('classes', 'funded_by_department')
