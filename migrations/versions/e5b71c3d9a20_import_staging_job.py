"""guest imports are staged by a job: the stored sheet, its warnings, why staging failed

Revision ID: e5b71c3d9a20
Revises: c4d2e8f61a93
Create Date: 2026-11-28 07:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b71c3d9a20'
down_revision = 'c4d2e8f61a93'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('guest_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sheet_path', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('state_reason', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('guest_imports', schema=None) as batch_op:
        batch_op.drop_column('state_reason')
        batch_op.drop_column('warnings')
        batch_op.drop_column('sheet_path')
