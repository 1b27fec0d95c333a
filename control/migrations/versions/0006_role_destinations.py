"""Role destinations (issue 24): an account's external id, a destination's role instead of a key.

Every existing account gets its own external id here (192 random bits, control/models.py
`new_external_id`), so destinations made later by role find one; key destinations keep their key,
and the key's columns become optional because a role destination has none.

Revision ID: 0006_role_destinations
Revises: 0005_reconciliation
"""

import sqlalchemy as sa
from alembic import op

from control.models import new_external_id

revision = "0006_role_destinations"
down_revision = "0005_reconciliation"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
    accounts = sa.table("accounts", sa.column("id"), sa.column("external_id"))
    bind = op.get_bind()
    for (account,) in bind.execute(sa.select(accounts.c.id)).all():
        bind.execute(accounts.update().where(accounts.c.id == account).values(external_id=new_external_id()))
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.alter_column("external_id", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("destinations") as batch_op:
        batch_op.add_column(sa.Column("role_arn", sa.String(length=300), nullable=True))
        batch_op.alter_column("access_key_id_sealed", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("secret_sealed", existing_type=sa.Text(), nullable=True)


def downgrade():
    with op.batch_alter_table("destinations") as batch_op:
        batch_op.drop_column("role_arn")
        batch_op.alter_column("access_key_id_sealed", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("secret_sealed", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("external_id")
