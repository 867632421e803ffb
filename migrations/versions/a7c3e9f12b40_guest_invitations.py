"""guest invitations: awaiting_photo visits, invitation links, consent, host e-mail choices

Revision ID: a7c3e9f12b40
Revises: 8c1a5e0d2b47
Create Date: 2026-11-28 04:50:00

"""
from alembic import op
import sqlalchemy as sa

import portal.models


revision = 'a7c3e9f12b40'
down_revision = '8c1a5e0d2b47'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('expires_at', portal.models.UTCDateTime(), nullable=False),
    sa.Column('mail_state', sa.String(length=20), nullable=False),
    sa.Column('mail_error', sa.Text(), nullable=True),
    sa.Column('sent_at', portal.models.UTCDateTime(), nullable=True),
    sa.Column('reminded_at', portal.models.UTCDateTime(), nullable=True),
    sa.Column('used_at', portal.models.UTCDateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('nonce')
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_visit_id'), ['visit_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        for name in ('notify_guest_completed', 'notify_enrollment_failed', 'notify_guest_arrived'):
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true())
            )

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_at', portal.models.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column('consent_notice_version', sa.String(length=40), nullable=True)
        )


def downgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_column('consent_notice_version')
        batch_op.drop_column('consent_at')

    with op.batch_alter_table('users', schema=None) as batch_op:
        for name in ('notify_guest_arrived', 'notify_enrollment_failed', 'notify_guest_completed'):
            batch_op.drop_column(name)

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_visit_id'))

    op.drop_table('invitations')
