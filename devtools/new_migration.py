"""`python -m devtools.new_migration "add login attempts"`: the migration for a change to control/models.py.

Alembic compares the models with a scratch database migrated to the current head and writes what differs
as `control/migrations/versions/<NNNN>_<slug>.py`, the next number, revising the head. Read it before
committing: autogenerate misses renames (it sees a drop and an add), a NOT NULL column added to a table
with rows needs a `server_default` (or a data step) first, and on SQLite an ALTER goes through the
`batch_alter_table` blocks it writes. tests/test_schema.py fails until the models and migrations agree.
"""

import argparse
import os
import re
import sys
import tempfile

import sqlalchemy as sa
from alembic import command

from control import schema

__all__ = ["main"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devtools.new_migration", description=__doc__.split("\n")[0])
    parser.add_argument("message", help="what the schema change is, e.g. 'add login attempts'")
    args = parser.parse_args(argv)
    slug = re.sub(r"[^a-z0-9]+", "_", args.message.lower()).strip("_")[:40]
    number = len(list(schema._scripts().walk_revisions())) + 1
    with tempfile.TemporaryDirectory() as scratch:
        engine = sa.create_engine(f"sqlite:///{os.path.join(scratch, 'head.db')}")
        schema.upgrade(engine)
        with engine.connect() as connection:
            config = schema._config(connection)
            config.set_main_option("file_template", "%%(rev)s")
            script = command.revision(config, message=args.message, autogenerate=True, rev_id=f"{number:04d}_{slug}")
    print(f"wrote {os.path.relpath(script.path)}: read it, then run tests/test_schema.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
