"""event tables at a province's size: the inbox's processed_at index for the retention job (issue 18)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:40:00
"""

from typing import Sequence, Union

from skillkit.retention import downgrade_event_tables, upgrade_event_tables


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    upgrade_event_tables()


def downgrade() -> None:
    downgrade_event_tables()
