"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 17:38:22.690786
"""

from typing import Sequence, Union

from skillkit.tables import create_kit_tables, drop_kit_tables


revision: str = '0001'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_kit_tables()  # outbox, inbox, idempotency keys


def downgrade() -> None:
    drop_kit_tables()
