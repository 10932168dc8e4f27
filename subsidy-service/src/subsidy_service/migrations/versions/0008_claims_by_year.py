"""claims by policy year: an index for the summary and the list of one year's claims (issue 18, a province's data)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:35:00
"""

from typing import Sequence, Union

from alembic import op


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ["policy_year", "claim_type", "state"]


def upgrade() -> None:
    # CONCURRENTLY on PostgreSQL: a province's claims (a million rows and more) keep taking writes meanwhile.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index("ix_claims_year_type_state", "claims", COLUMNS, postgresql_concurrently=True,
                            if_not_exists=True)
    else:
        op.create_index("ix_claims_year_type_state", "claims", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_claims_year_type_state", "claims")
