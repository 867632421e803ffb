"""a user's language

Revision ID: b13c0a1e5f2d
Revises: b3e5c0a17f42
Create Date: 2026-11-28 05:20:00.000000

None follows the browser's Accept-Language, then DEFAULT_LANGUAGE.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b13c0a1e5f2d'
down_revision = 'b3e5c0a17f42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
