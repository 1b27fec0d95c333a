"""Tenancy (issue 22): API tokens expire, failed log-ins are counted, one active profile export per account.

Tokens made before expiry keep `expires_at` empty (they expire 90 days after they were made,
control/accounts.py). The index holds the rule "one active profile export per account" in the database;
an account that already has two (two creators racing past the old check) is named, and the upgrade
stops until one of them is stopped.

Revision ID: 0002_tenancy
Revises: 0001_baseline
"""

import sqlalchemy as sa
from alembic import op

from control.schema import SchemaError

revision = "0002_tenancy"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

_ACTIVE_PROFILES = "export_type = 'all_profiles' AND status = 'active'"


def upgrade():
    requests = sa.table("export_requests", sa.column("id"), sa.column("account_id"), sa.column("export_type"),
                        sa.column("status"))
    active = (requests.c.export_type == "all_profiles") & (requests.c.status == "active")
    crowded = sa.select(requests.c.account_id).where(active).group_by(requests.c.account_id).having(
        sa.func.count() > 1)
    twice = op.get_bind().execute(sa.select(requests.c.account_id, requests.c.id).where(
        active & requests.c.account_id.in_(crowded)).order_by(requests.c.account_id, requests.c.id)).all()
    if twice:
        raise SchemaError(
            "an account may now have one active profile export only, and these have more: "
            + ", ".join(f"account {account} request {request}" for account, request in twice)
            + "; stop all but one of each account's with the release you are upgrading from (`eventexport --account "
              "ACCOUNT export stop ID`), then run `eventexport db upgrade` again")
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_index("one_active_profile_export", "export_requests", ["account_id"], unique=True,
                    sqlite_where=sa.text(_ACTIVE_PROFILES), postgresql_where=sa.text(_ACTIVE_PROFILES))


def downgrade():
    op.drop_index("one_active_profile_export", table_name="export_requests")
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("expires_at")
    op.drop_table("login_failures")
