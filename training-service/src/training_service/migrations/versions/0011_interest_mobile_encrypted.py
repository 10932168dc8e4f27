"""class interests' mobiles encrypted at rest

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 03:20:00

Issue 16: a worker's mobile is encrypted at rest wherever it is stored. The contact a worker gives with an interest
in a class (P9) is encrypted with the key ring (skillkit.pii, SKILLS_PII_ENCRYPTION_KEY and its key id, read from
the environment as the service reads it), existing rows in batches of 1000; the downgrade decrypts them back.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from skillkit.migrations import decrypt_rows, encrypt_rows
from skillkit.pii import cipher_for


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_interests = sa.table('class_interests', sa.column('id', sa.Uuid()), sa.column('mobile', sa.String(11)),
                      sa.column('mobile_encrypted', sa.Text()))


def _cipher():
    from training_service.config import TrainingSettings

    return cipher_for(TrainingSettings())


def upgrade() -> None:
    with op.batch_alter_table('class_interests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile_encrypted', sa.Text(), nullable=True))
    encrypt_rows(_interests, 'mobile', 'mobile_encrypted', _cipher())
    with op.batch_alter_table('class_interests', schema=None) as batch_op:
        batch_op.alter_column('mobile_encrypted', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('mobile')


def downgrade() -> None:
    with op.batch_alter_table('class_interests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=11), nullable=True))
    decrypt_rows(_interests, 'mobile_encrypted', 'mobile', _cipher())
    with op.batch_alter_table('class_interests', schema=None) as batch_op:
        batch_op.alter_column('mobile', existing_type=sa.String(length=11), nullable=False)
        batch_op.drop_column('mobile_encrypted')
