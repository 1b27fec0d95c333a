"""Reconciliation (issue 25): a Done run keeps its manifest's reconciliation beside its totals.

`read_rows` (records read for the window), `later_rows` (left to later runs by the capture ceiling) and
`rejects_by_reason` ({reason code: rows}); exported and rejected rows are the existing `rows` and
`rejected`. Runs done before this upgrade keep them empty: their manifests had no reconciliation.

Revision ID: 0005_reconciliation
Revises: 0004_run_control
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_reconciliation"
down_revision = "0004_run_control"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("read_rows", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("later_rows", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rejects_by_reason", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("rejects_by_reason")
        batch_op.drop_column("later_rows")
        batch_op.drop_column("read_rows")
