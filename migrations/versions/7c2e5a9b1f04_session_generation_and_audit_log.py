"""session generation of users, audit log

Revision ID: 7c2e5a9b1f04
Revises: b13c0a1e5f2d
Create Date: 2026-11-28 04:50:00

"""
from alembic import op
import sqlalchemy as sa

import portal.models


revision = '7c2e5a9b1f04'
down_revision = 'b13c0a1e5f2d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False)
        )
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', portal.models.UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('object_type', sa.String(length=30), nullable=True),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=45), nullable=True),
    sa.Column('details', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_audit_entries_object', ['object_type', 'object_id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_object')
        batch_op.drop_index(batch_op.f('ix_audit_entries_user_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_at'))
    op.drop_table('audit_entries')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
