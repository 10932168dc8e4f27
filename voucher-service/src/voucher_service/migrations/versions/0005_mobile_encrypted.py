"""workers' mobiles encrypted at rest

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:30:00.000000

Issue 16: a worker's mobile was stored as plain text. It is now encrypted like the ID number (skillkit.pii.PiiCipher,
the key of SKILLS_PII_ENCRYPTION_KEY with its key id, read from the environment as the service reads it), in
batches of 1000 rows. No blind index: nothing looks a worker up by mobile. The downgrade decrypts them back.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from skillkit.migrations import decrypt_rows, encrypt_rows
from skillkit.pii import cipher_for


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_workers = sa.table('workers', sa.column('id', sa.Uuid()), sa.column('mobile', sa.String(11)),
                    sa.column('mobile_encrypted', sa.Text()))


def _cipher():
    from voucher_service.config import VoucherSettings

    return cipher_for(VoucherSettings())


def upgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile_encrypted', sa.Text(), nullable=True))
    encrypt_rows(_workers, 'mobile', 'mobile_encrypted', _cipher())
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.alter_column('mobile_encrypted', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('mobile')


def downgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=11), nullable=True))
    decrypt_rows(_workers, 'mobile_encrypted', 'mobile', _cipher())
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.alter_column('mobile', existing_type=sa.String(length=11), nullable=False)
        batch_op.drop_column('mobile_encrypted')
