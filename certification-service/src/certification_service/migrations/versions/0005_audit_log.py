"""audit log (P10): the append-only, hash-chained record of decisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:20:00.000000
"""

from typing import Sequence, Union

from alembic import op

from skillkit.audit import create_audit_log, drop_audit_log

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_audit_log(op)  # the table, its indexes and the guard refusing UPDATE, DELETE and TRUNCATE


def downgrade() -> None:
    drop_audit_log(op)
