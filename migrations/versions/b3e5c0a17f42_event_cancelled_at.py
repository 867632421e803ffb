"""events.cancelled_at: an event can be cancelled

Revision ID: b3e5c0a17f42
Revises: 9c1e5a7b2f30
Create Date: 2026-11-28 05:15:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.models


# revision identifiers, used by Alembic.
revision = 'b3e5c0a17f42'
down_revision = '9c1e5a7b2f30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', portal.models.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')
