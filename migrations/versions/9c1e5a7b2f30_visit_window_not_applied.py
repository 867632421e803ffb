"""visits.window_not_applied: HikCentral kept another window than the one sent

Revision ID: 9c1e5a7b2f30
Revises: 7da1418c68f1
Create Date: 2026-11-28 04:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9c1e5a7b2f30'
down_revision = '7da1418c68f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visits') as batch_op:
        batch_op.add_column(
            sa.Column('window_not_applied', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('visits') as batch_op:
        batch_op.drop_column('window_not_applied')
