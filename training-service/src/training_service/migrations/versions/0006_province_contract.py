"""P1: record versions (corrections), re-sends and escalation, province notices, P8 evidence, evaluation institutions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:40:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from skillkit.db import UTCDateTime

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('check_ins') as batch:
        batch.add_column(sa.Column('evidence_ref', sa.String(length=300), nullable=True))
    with op.batch_alter_table('realname_submissions') as batch:
        batch.add_column(sa.Column('record_id', sa.Uuid(), nullable=True))
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('line_verdicts', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('last_sent_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('escalated_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('created_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('note', sa.Text(), nullable=True))
    # Every record sent before is its own first version; unanswered ones count as sent when they were created.
    op.execute("UPDATE realname_submissions SET record_id = id, last_sent_at = created_at")
    with op.batch_alter_table('realname_submissions') as batch:
        batch.alter_column('record_id', existing_type=sa.Uuid(), nullable=False)
        batch.alter_column('version', server_default=None)
        batch.alter_column('attempts', server_default=None)
        batch.create_index('ix_realname_submissions_record_id', ['record_id'])
        batch.create_unique_constraint('uq_realname_submissions_record_version', ['record_id', 'version'])
    op.create_table(
        'realname_notices',
        sa.Column('id', sa.String(length=100), nullable=False),
        sa.Column('notice', sa.String(length=30), nullable=False),
        sa.Column('record_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('record_type', sa.String(length=20), nullable=False),
        sa.Column('class_id', sa.String(length=36), nullable=False),
        sa.Column('enrolment_id', sa.String(length=36), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('other_county_code', sa.String(length=12), nullable=True),
        sa.Column('notified_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_realname_notices')),
    )
    op.create_index('ix_realname_notices_class_id', 'realname_notices', ['class_id'])
    op.create_index('ix_realname_notices_enrolment_id', 'realname_notices', ['enrolment_id'])
    op.create_table(
        'evaluation_institutions',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('credit_code', sa.String(length=18), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_institutions')),
    )


def downgrade() -> None:
    op.drop_table('evaluation_institutions')
    op.drop_index('ix_realname_notices_enrolment_id', table_name='realname_notices')
    op.drop_index('ix_realname_notices_class_id', table_name='realname_notices')
    op.drop_table('realname_notices')
    with op.batch_alter_table('realname_submissions') as batch:
        batch.drop_constraint('uq_realname_submissions_record_version', type_='unique')
        batch.drop_index('ix_realname_submissions_record_id')
        for column in ('note', 'created_by', 'escalated_at', 'last_sent_at', 'attempts', 'line_verdicts', 'payload', 'version',
                       'record_id'):
            batch.drop_column(column)
    with op.batch_alter_table('check_ins') as batch:
        batch.drop_column('evidence_ref')
