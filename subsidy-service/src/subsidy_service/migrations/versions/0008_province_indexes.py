"""indexes for a province's data (issue 18, bench.province_scale): a policy year's claims, and the rows the
reports' incremental refresh reads (changed since its last run)

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

INDEXES = {
    # the summary and the list of one year's claims read every year's claims before
    "ix_claims_year_type_state": ("claims", ["policy_year", "claim_type", "state"]),
    # the incremental refresh every 30 s read all persons (twice), chains and claims before
    "ix_persons_updated_at": ("persons", ["updated_at"]),
    "ix_chains_updated_at": ("chains", ["updated_at"]),
    "ix_claims_updated_at": ("claims", ["updated_at"]),
}


def upgrade() -> None:
    # CONCURRENTLY on PostgreSQL: a province's tables (a million rows and more) keep taking writes meanwhile.
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, (table, columns) in INDEXES.items():
        if postgres:
            with op.get_context().autocommit_block():
                op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True)
        else:
            op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table)
