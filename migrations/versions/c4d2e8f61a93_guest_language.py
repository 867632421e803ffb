"""a guest's language

Revision ID: c4d2e8f61a93
Revises: a7c3e9f12b40
Create Date: 2026-11-28 07:40:00.000000

The language the guest's e-mails and page speak, chosen by the host; None is DEFAULT_LANGUAGE.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d2e8f61a93'
down_revision = 'a7c3e9f12b40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('guests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('guests', schema=None) as batch_op:
        batch_op.drop_column('language')
