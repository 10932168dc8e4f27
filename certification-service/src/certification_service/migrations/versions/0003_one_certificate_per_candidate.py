"""one certificate per candidate

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00.000000

A candidate's result yields one certificate ever, even once that certificate is revoked: a new certificate
needs a new evaluation. The index on certificates.candidate_id becomes unique.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Before this revision a revoked certificate could be issued again for the same candidate; such rows
    # must be resolved by hand (which certificate stands) before the index can be unique.
    duplicated = op.get_bind().execute(sa.text(
        "SELECT candidate_id FROM certificates GROUP BY candidate_id HAVING count(*) > 1"
    )).scalars().all()
    if duplicated:
        raise RuntimeError(
            f"{len(duplicated)} candidate(s) hold more than one certificate (e.g. candidate {duplicated[0]}); "
            "resolve them before upgrading to 0003"
        )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_candidate_id'))
        batch_op.create_index(batch_op.f('ix_certificates_candidate_id'), ['candidate_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_candidate_id'))
        batch_op.create_index(batch_op.f('ix_certificates_candidate_id'), ['candidate_id'], unique=False)
