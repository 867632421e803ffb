"""Enrollment claims, deferred delivery checks and drift repairs

Revision ID: 8c1a5e0d2b47
Revises: 7c2e5a9b1f04
Create Date: 2026-11-28 04:40:00

"""

import sqlalchemy as sa
from alembic import op

import portal.models

revision = "8c1a5e0d2b47"
down_revision = "7c2e5a9b1f04"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivery_checks", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("delivery_due_at", portal.models.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", portal.models.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("drift_checked_at", portal.models.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_visits_delivery_due_at"), ["delivery_due_at"], unique=False
        )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.alter_column("delivery_checks", server_default=None)
    op.create_table(
        "drift_repairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("repaired", sa.Boolean(), nullable=False),
        sa.Column("at", portal.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("drift_repairs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drift_repairs_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_drift_repairs_visit_id"), ["visit_id"], unique=False)


def downgrade():
    with op.batch_alter_table("drift_repairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drift_repairs_visit_id"))
        batch_op.drop_index(batch_op.f("ix_drift_repairs_at"))
    op.drop_table("drift_repairs")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_delivery_due_at"))
        batch_op.drop_column("drift_checked_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("delivery_due_at")
        batch_op.drop_column("delivery_checks")
