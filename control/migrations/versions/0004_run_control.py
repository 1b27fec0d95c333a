"""Run control (issue 23): runs a person cancelled (who, when) and backfill runs of past windows.

Existing runs are not backfills and were never cancelled, so the new columns start false and empty.

Revision ID: 0004_run_control
Revises: 0003_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_run_control"
down_revision = "0003_notifications"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("backfill", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("stopped_by", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("stopped_at")
        batch_op.drop_column("stopped_by")
        batch_op.drop_column("backfill")
