"""Alembic's entry point: migrate the connection control/schema.py hands over, inside its transaction.

control/schema.py opens the connection, takes the database's upgrade lock and commits; here the
migrations only run. `render_as_batch` makes autogenerate write SQLite-safe `batch_alter_table` blocks
(SQLite cannot alter a column in place).
"""

from alembic import context

from control.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
