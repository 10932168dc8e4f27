"""indexes for the facts around a person (an institution's suspension or filing, a class's own facts)

Every re-evaluation reads the facts around its persons. The institution branch went through ix_facts_institution_id,
which holds every fact naming the institution (all its trainees' facts, growing with the year), and filtered by
kind; the class branch read every trainee's facts of the class to keep the few with no person.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:30:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_facts_kind_institution', 'facts', ['kind', 'institution_id'], unique=False)
    op.create_index('ix_facts_class_scope', 'facts', ['class_id'], unique=False,
                    postgresql_where=sa.text('person_key IS NULL'), sqlite_where=sa.text('person_key IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_facts_class_scope', table_name='facts')
    op.drop_index('ix_facts_kind_institution', table_name='facts')
