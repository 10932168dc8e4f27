"""settlement: payees, declarations, funds, payment batches, audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:18:02.673576
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
import skillkit.db
from skillkit.audit import create_audit_log, drop_audit_log


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_audit_log(op)  # P10: the table and its append-only guard
    op.create_table('bank_file_imports',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('imported_by', sa.String(length=200), nullable=False),
    sa.Column('imported_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_bank_file_imports'))
    )
    op.create_index(op.f('ix_bank_file_imports_batch_id'), 'bank_file_imports', ['batch_id'], unique=False)
    op.create_table('claim_payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('transfer_id', sa.Uuid(), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('amount', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('draws', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_payments'))
    )
    op.create_index(op.f('ix_claim_payments_batch_id'), 'claim_payments', ['batch_id'], unique=False)
    op.create_index(op.f('ix_claim_payments_claim_id'), 'claim_payments', ['claim_id'], unique=False)
    op.create_index(op.f('ix_claim_payments_transfer_id'), 'claim_payments', ['transfer_id'], unique=False)
    op.create_index('uq_claim_payments_live', 'claim_payments', ['claim_id'], unique=True, postgresql_where=sa.text("state IN ('pending', 'paid')"), sqlite_where=sa.text("state IN ('pending', 'paid')"))
    op.create_table('deadline_notices',
    sa.Column('policy_year', sa.Integer(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('declarant_type', sa.String(length=30), nullable=False),
    sa.Column('declarant_id', sa.String(length=64), nullable=False),
    sa.Column('claim_count', sa.BigInteger(), nullable=False),
    sa.Column('amount', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('sent_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('policy_year', 'days_before', 'declarant_type', 'declarant_id', name=op.f('pk_deadline_notices'))
    )
    op.create_table('declaration_lines',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('declaration_id', sa.Uuid(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=True),
    sa.Column('recovery_id', sa.Uuid(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('payee_type', sa.String(length=30), nullable=False),
    sa.Column('payee_id', sa.String(length=64), nullable=False),
    sa.Column('person_key', sa.String(length=64), nullable=False),
    sa.Column('claim_type', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('policy_year', sa.Integer(), nullable=False),
    sa.Column('table_year', sa.Integer(), nullable=True),
    sa.Column('table_version', sa.Integer(), nullable=True),
    sa.Column('amount', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('rule_ids', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sampled', sa.Boolean(), nullable=False),
    sa.Column('sample_checked_by', sa.String(length=200), nullable=True),
    sa.Column('sample_checked_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sample_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration_lines')),
    sa.UniqueConstraint('declaration_id', 'line_no', name='uq_declaration_lines_no')
    )
    op.create_index('ix_declaration_lines_decl_decision', 'declaration_lines', ['declaration_id', 'decision'], unique=False)
    op.create_index(op.f('ix_declaration_lines_recovery_id'), 'declaration_lines', ['recovery_id'], unique=False)
    op.create_index('uq_declaration_lines_active_claim', 'declaration_lines', ['claim_id'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.create_table('declarations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('declarant_type', sa.String(length=30), nullable=False),
    sa.Column('declarant_id', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('amount', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('sample_share', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('opened_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=True),
    sa.Column('submitted_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sa.String(length=200), nullable=True),
    sa.Column('verified_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('approved_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declarations'))
    )
    op.create_index(op.f('ix_declarations_state'), 'declarations', ['state'], unique=False)
    op.create_index('uq_declarations_quarter', 'declarations', ['declarant_type', 'declarant_id', 'year', 'quarter'], unique=True, postgresql_where=sa.text("state <> 'withdrawn'"), sqlite_where=sa.text("state <> 'withdrawn'"))
    op.create_table('fund_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('fund_id', sa.Uuid(), nullable=False),
    sa.Column('entry_type', sa.String(length=20), nullable=False),
    sa.Column('amount', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=True),
    sa.Column('recovery_id', sa.Uuid(), nullable=True),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_entries'))
    )
    op.create_index(op.f('ix_fund_entries_fund_id'), 'fund_entries', ['fund_id'], unique=False)
    op.create_table('funds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('allocated', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('reserved', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('paid', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('updated_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('allocated - reserved - paid >= 0', name=op.f('ck_funds_never_overdrawn')),
    sa.CheckConstraint('reserved >= 0 AND paid >= 0', name=op.f('ck_funds_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funds')),
    sa.UniqueConstraint('year', 'code', name='uq_funds_year_code')
    )
    op.create_table('payee_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('payee_type', sa.String(length=30), nullable=False),
    sa.Column('payee_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('account_name', sa.String(length=200), nullable=False),
    sa.Column('account_number_enc', sa.Text(), nullable=False),
    sa.Column('account_last4', sa.String(length=4), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('bank_city', sa.String(length=50), nullable=False),
    sa.Column('changed_by', sa.String(length=200), nullable=False),
    sa.Column('changed_role', sa.String(length=30), nullable=False),
    sa.Column('changed_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payee_accounts')),
    sa.UniqueConstraint('payee_type', 'payee_id', 'version', name='uq_payee_accounts_version')
    )
    op.create_table('payees',
    sa.Column('payee_type', sa.String(length=30), nullable=False),
    sa.Column('payee_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('credit_code', sa.String(length=30), nullable=True),
    sa.Column('updated_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('payee_type', 'payee_id', name=op.f('pk_payees'))
    )
    op.create_table('payment_batches',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('total', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('transfer_count', sa.Integer(), nullable=False),
    sa.Column('claim_count', sa.Integer(), nullable=False),
    sa.Column('declaration_ids', sa.JSON(), nullable=False),
    sa.Column('draws', sa.JSON(), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=False),
    sa.Column('approved_at', skillkit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('exported_by', sa.String(length=200), nullable=True),
    sa.Column('exported_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settled_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_batches')),
    sa.UniqueConstraint('reference', name=op.f('uq_payment_batches_reference'))
    )
    op.create_table('payment_transfers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('payee_type', sa.String(length=30), nullable=False),
    sa.Column('payee_id', sa.String(length=64), nullable=False),
    sa.Column('account_name', sa.String(length=200), nullable=False),
    sa.Column('account_number_enc', sa.Text(), nullable=False),
    sa.Column('account_last4', sa.String(length=4), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('bank_city', sa.String(length=50), nullable=False),
    sa.Column('gross', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('offset', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('amount', skillkit.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('bank_reason', sa.Text(), nullable=True),
    sa.Column('answered_at', skillkit.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_transfers')),
    sa.UniqueConstraint('batch_id', 'seq', name='uq_payment_transfers_seq')
    )
    op.add_column('claims', sa.Column('recomputed_amount', skillkit.db.Money(precision=14, scale=2), nullable=True))
    op.add_column('recoveries', sa.Column('settlement', sa.String(length=20), nullable=True))
    op.add_column('recoveries', sa.Column('settled_reference', sa.String(length=100), nullable=True))
    op.add_column('recoveries', sa.Column('settled_by', sa.String(length=200), nullable=True))
    op.add_column('recoveries', sa.Column('settled_at', skillkit.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('recoveries', sa.Column('offset_transfer_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column('recoveries', 'offset_transfer_id')
    op.drop_column('recoveries', 'settled_at')
    op.drop_column('recoveries', 'settled_by')
    op.drop_column('recoveries', 'settled_reference')
    op.drop_column('recoveries', 'settlement')
    op.drop_column('claims', 'recomputed_amount')
    op.drop_table('payment_transfers')
    op.drop_table('payment_batches')
    op.drop_table('payees')
    op.drop_table('payee_accounts')
    op.drop_table('funds')
    op.drop_index(op.f('ix_fund_entries_fund_id'), table_name='fund_entries')
    op.drop_table('fund_entries')
    op.drop_index('uq_declarations_quarter', table_name='declarations', postgresql_where=sa.text("state <> 'withdrawn'"), sqlite_where=sa.text("state <> 'withdrawn'"))
    op.drop_index(op.f('ix_declarations_state'), table_name='declarations')
    op.drop_table('declarations')
    op.drop_index('uq_declaration_lines_active_claim', table_name='declaration_lines', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.drop_index(op.f('ix_declaration_lines_recovery_id'), table_name='declaration_lines')
    op.drop_index('ix_declaration_lines_decl_decision', table_name='declaration_lines')
    op.drop_table('declaration_lines')
    op.drop_table('deadline_notices')
    op.drop_index('uq_claim_payments_live', table_name='claim_payments', postgresql_where=sa.text("state IN ('pending', 'paid')"), sqlite_where=sa.text("state IN ('pending', 'paid')"))
    op.drop_index(op.f('ix_claim_payments_transfer_id'), table_name='claim_payments')
    op.drop_index(op.f('ix_claim_payments_claim_id'), table_name='claim_payments')
    op.drop_index(op.f('ix_claim_payments_batch_id'), table_name='claim_payments')
    op.drop_table('claim_payments')
    op.drop_index(op.f('ix_bank_file_imports_batch_id'), table_name='bank_file_imports')
    op.drop_table('bank_file_imports')
    drop_audit_log(op)
