"""`eventexport`: the command customers and support use. See `eventexport --help`."""

import argparse
import datetime as dt
import json
import logging
import os
import sys

from control import accounts
from control import activity as activity_log
from control import destinations as dests
from control import exports, run_actions, schema
from control.auto_pause import resume_export
from control.models import connect
from control.ops import shutdown
from control.ops.service import run_scheduler
from control.scheduler import run_due
from control.secrets import Vault
from control.settings import load_settings
from transforms.errors import ConfigError, ExportError
from transforms.runtime import logs
from transforms.sinks.s3 import SSE_MODES
from transforms.sinks.preflight import DATA_REGIONS
from transforms.sources.window import parse_instant

__all__ = ["main", "build_parser"]

SECRET_ENV = "EVENTEXPORT_SECRET_ACCESS_KEY"  # nosec B105  # a variable's name, not a secret
PASSWORD_ENV = "EVENTEXPORT_PASSWORD"  # nosec B105  # a variable's name, not a password


def _instant(option):
    return lambda text: parse_instant(text, option)


def build_parser():
    parser = argparse.ArgumentParser(prog="eventexport", description="Export events and profiles to S3.")
    parser.add_argument("--account", default=accounts.DEFAULT_ACCOUNT,
                        help="the account whose destinations, exports and log to work on (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("config", help="print the effective settings (secrets redacted)")

    database = commands.add_parser("db", help="the control database's schema").add_subparsers(dest="action",
                                                                                               required=True)
    database.add_parser("upgrade", help="migrate the control database to this release's schema (back it up first)")
    database.add_parser("status", help="the database's schema revision and this release's; exit 1 if they differ")

    account = commands.add_parser("account", help="accounts: each with its own stores, database id and data "
                                                  "region").add_subparsers(dest="action", required=True)
    add = account.add_parser("add", help="create an account")
    add.add_argument("account_id", help="a short id: lower-case letters, digits and '-'")
    add.add_argument("--name", help="a display name (default: the id)")
    add.add_argument("--event-store", help="root of the account's event store (a folder or s3://)")
    add.add_argument("--profile-store", help="root of the account's profile store")
    add.add_argument("--database-id", required=True, help="ends every object name of the account's runs")
    add.add_argument("--data-region", choices=sorted(DATA_REGIONS), help="the region the account's data stays in")
    account.add_parser("list")

    user = commands.add_parser("user", help="users of an account and their API tokens").add_subparsers(
        dest="action", required=True)
    add = user.add_parser("add", help="add a user to --account")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=accounts.ROLES,
                     help="admin: manage destinations and exports; viewer: read the log")
    add.add_argument("--password-stdin", action="store_true",
                     help=f"read the password from standard input (else ${PASSWORD_ENV}; neither: token-only user)")
    user.add_parser("list", help="the users of --account")
    user.add_parser("remove", help="remove a user of --account and their tokens").add_argument("email")
    role = user.add_parser("role", help="change a user's role")
    role.add_argument("email")
    role.add_argument("--role", required=True, choices=accounts.ROLES)
    password = user.add_parser("password", help=f"set a new password for a user (from standard input with "
                                                f"--password-stdin, else ${PASSWORD_ENV})")
    password.add_argument("email")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    token = user.add_parser("token", help="issue an API token for a user; it is printed once, only its hash kept")
    token.add_argument("email")
    token.add_argument("--label", default="", help="what the token is for")
    token.add_argument("--days", type=int, default=accounts.TOKEN_DAYS,
                       help=f"how long it works, 1 to {accounts.MAX_TOKEN_DAYS} days (default: %(default)s)")
    user.add_parser("tokens", help="list a user's API tokens (id, label, expiry)").add_argument("email")
    revoke = user.add_parser("revoke", help="revoke one API token of a user (--token-id), or all of them")
    revoke.add_argument("email")
    revoke.add_argument("--token-id", type=int, help="the token's id from `user tokens`; default: every token")

    destination = commands.add_parser("destination", help="customer buckets").add_subparsers(dest="action",
                                                                                              required=True)
    add = destination.add_parser("add", help="test a bucket and key (or role), then save them")
    add.add_argument("--name", required=True)
    add.add_argument("--bucket", required=True)
    add.add_argument("--data-region", choices=sorted(DATA_REGIONS), help="default: the account's")
    add.add_argument("--role-arn", help="a role of the customer's to assume with the account's external id "
                                        "(`account list` shows it), instead of a key")
    add.add_argument("--access-key-id")
    add.add_argument("--secret-access-key-stdin", action="store_true",
                     help=f"read the secret from standard input (else ${SECRET_ENV})")
    add.add_argument("--prefix", default="")
    add.add_argument("--endpoint-url", help="an S3-compatible endpoint")
    add.add_argument("--region", help="the bucket's region, if not the data region's")
    add.add_argument("--path-style", action="store_true")
    add.add_argument("--sse", choices=SSE_MODES, default="none")
    add.add_argument("--sse-kms-key-id")
    edit = destination.add_parser("edit", help="change a destination's key, prefix, endpoint or encryption; saved "
                                               "only if the connection test passes")
    edit.add_argument("name")
    edit.add_argument("--role-arn", help="a role to assume with the account's external id, in place of the key")
    edit.add_argument("--access-key-id", help=f"a new key (rotation); its secret from standard input with "
                                              f"--secret-access-key-stdin, else ${SECRET_ENV}")
    edit.add_argument("--secret-access-key-stdin", action="store_true")
    for option in ("--prefix", "--endpoint-url", "--region", "--sse-kms-key-id"):
        edit.add_argument(option)
    edit.add_argument("--path-style", action=argparse.BooleanOptionalAction)
    edit.add_argument("--sse", choices=SSE_MODES)
    destination.add_parser("list")
    for action in ("show", "test", "remove"):
        destination.add_parser(action).add_argument("name")

    export = commands.add_parser("export", help="export requests").add_subparsers(dest="action", required=True)
    create = export.add_parser("create", help="create an export request; prints its id")
    create.add_argument("--destination", required=True)
    create.add_argument("--type", required=True, dest="export_type")
    create.add_argument("--event", action="append", dest="events", default=[], help="repeat for more events")
    create.add_argument("--format", required=True)
    create.add_argument("--frequency", required=True)
    create.add_argument("--from", dest="window_from", type=_instant("--from"))
    create.add_argument("--to", dest="window_to", type=_instant("--to"))
    create.add_argument("--every", help="recurring interval, 4h to 24h")
    create.add_argument("--now", type=_instant("--now"), help=argparse.SUPPRESS)  # tests freeze the clock
    export.add_parser("list").add_argument("--json", action="store_true")
    for action in ("show", "stop", "resume"):
        export.add_parser(action).add_argument("request_id")
    backfill = export.add_parser("backfill", help="run past windows of a recurring export (on its window grid, "
                                                  "within 60 days) under its request id")
    backfill.add_argument("request_id")
    backfill.add_argument("--from", dest="window_from", required=True, type=_instant("--from"))
    backfill.add_argument("--to", dest="window_to", required=True, type=_instant("--to"))
    backfill.add_argument("--replace", action="store_true", help="export windows that ran already again")

    runs = commands.add_parser("runs", help="one run: cancel it, or retry it now").add_subparsers(
        dest="action", required=True)
    runs.add_parser("cancel", help="cancel a Pending, Running or Failed run").add_argument("run_id", type=int)
    runs.add_parser("retry", help="run a Failed or Stopped run again now (same keys)").add_argument("run_id",
                                                                                                  type=int)

    run = commands.add_parser("run", help="run everything due, then exit")
    run.add_argument("--request-id")
    run.add_argument("--as-of", type=_instant("--as-of"), help="run what is due as of this instant (default now)")
    scheduler = commands.add_parser("scheduler", help="run what is due, in a loop, until SIGTERM or Ctrl-C")
    scheduler.add_argument("--interval", type=float, default=60.0, help="seconds between passes")
    scheduler.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz and /readyz on this port "
                                                            "(default: $EVENTEXPORT_METRICS_PORT, else none)")

    log = commands.add_parser("log", help="the activity log")
    log.add_argument("--request-id", help="this request's entries (an id or its first characters)")
    log.add_argument("--status", choices=activity_log.STATUSES)
    log.add_argument("--json", action="store_true")

    serve = commands.add_parser("serve", help="serve the REST API (OpenAPI at /openapi.json) until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    return parser


def _password(args):
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return os.environ.get(PASSWORD_ENV) or None


def _secret(args):
    if args.secret_access_key_stdin:
        return sys.stdin.readline().strip()
    return os.environ.get(SECRET_ENV, "")


def _print_table(rows, columns):
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _json_default(value):
    return value.isoformat() + "Z" if isinstance(value, dt.datetime) else str(value)


def _manage_user(engine, args):
    """user remove | role | password: the operator acts in the user's own account (an e-mail names one user)."""
    owner = accounts.get_user(engine, args.email)["account_id"]
    if args.action == "remove":
        accounts.remove_user(engine, owner, args.email)
        print(f"user {args.email!r} removed from account {owner!r}")
    elif args.action == "role":
        accounts.set_role(engine, owner, args.email, args.role)
        print(f"user {args.email!r} is now {args.role}")
    else:
        password = _password(args)
        if password is None:
            raise ConfigError(f"give the new password on standard input (--password-stdin) or in ${PASSWORD_ENV}")
        accounts.reset_password(engine, owner, args.email, password)
        print(f"password of {args.email!r} set")


def _database(args, settings):
    """`eventexport db upgrade|status`: the only commands that start on a database of another schema."""
    engine = connect(settings.db, prepare=False)
    if args.action == "status":
        with engine.connect() as connection:
            found = schema.state(connection)
        print(f"database revision: {found.revision or '(none)'} ({found.status}); this release: {found.head}")
        if found.problem():
            print(found.problem())
        return 0 if found.status == "current" else 1
    before, after = schema.upgrade(engine)
    if after.problem():
        raise schema.SchemaError(after.problem())
    print({"current": f"the control database is already at {after.revision}; nothing to do",
           "empty": f"created the control database's schema at {after.revision}",
           "unversioned": f"stamped the control database (made before schema versions) as {schema.BASELINE} "
                          f"and upgraded it to {after.revision}",
           "behind": f"upgraded the control database from {before.revision} to {after.revision}"}[before.status])
    return 0


def _dispatch(args, settings):
    if args.command == "config":
        print(json.dumps(settings.redacted(), indent=2))
        return 0
    if args.command == "db":
        return _database(args, settings)
    if args.command == "serve":
        from server.serve import serve   # the web stack loads only for this command
        return serve(settings, args.host, args.port)
    engine = connect(settings.db)
    accounts.ensure_default_account(engine, settings)
    account = accounts.get_account(engine, args.account)["id"]
    if args.command == "account":
        if args.action == "add":
            row = accounts.add_account(engine, account_id=args.account_id, name=args.name,
                                       event_store=args.event_store, profile_store=args.profile_store,
                                       database_id=args.database_id, data_region=args.data_region)
            print(f"account {row['id']!r} added")
        else:
            _print_table(accounts.list_accounts(engine), ("id", "name", "data_region", "database_id", "external_id",
                                                          "event_store", "profile_store"))
    elif args.command == "user":
        if args.action == "add":
            row = accounts.add_user(engine, account=account, email=args.email, role=args.role,
                                    password=_password(args))
            print(f"user {row['email']!r} added to account {account!r} as {row['role']}")
        elif args.action == "list":
            _print_table(accounts.list_users(engine, account), ("email", "role", "created_at"))
        elif args.action == "tokens":
            _print_table(accounts.list_tokens(engine, args.email), ("id", "label", "created_at", "expires_at"))
        elif args.action == "revoke" and args.token_id is not None:
            accounts.revoke_token(engine, args.email, args.token_id)
            print(f"token {args.token_id} of {args.email!r} revoked")
        elif args.action == "revoke":
            print(f"{accounts.revoke_tokens(engine, args.email)} token(s) of {args.email!r} revoked")
        elif args.action == "token":
            print(accounts.issue_token(engine, args.email, args.label, days=args.days))
        else:
            _manage_user(engine, args)
    elif args.command == "destination":
        if args.action == "add":
            row = dests.add_destination(
                engine, Vault(settings), account, name=args.name, bucket=args.bucket, data_region=args.data_region,
                role_arn=args.role_arn, access_key_id=args.access_key_id,
                secret_access_key=None if args.role_arn else _secret(args), prefix=args.prefix,
                endpoint_url=args.endpoint_url, region=args.region, path_style=args.path_style, sse=args.sse,
                sse_kms_key_id=args.sse_kms_key_id)
            print(f"destination {row['name']!r} saved: connection test passed for s3://{row['bucket']}/{row['prefix']}")
        elif args.action == "edit":
            changes = {k: getattr(args, k) for k in dests.EDITABLE if getattr(args, k, None) is not None}
            if args.access_key_id:
                changes["secret_access_key"] = _secret(args)
            row = dests.edit_destination(engine, Vault(settings), args.name, account, **changes)
            print(f"destination {row['name']!r} saved: connection test passed for s3://{row['bucket']}/{row['prefix']}")
        elif args.action == "list":
            _print_table([dests.public_view(r) for r in dests.list_destinations(engine, account)],
                         ("name", "bucket", "prefix", "data_region", "role_arn", "endpoint_url", "sse"))
        elif args.action == "show":
            print(json.dumps(dests.public_view(dests.get_destination(engine, args.name, account)), indent=2))
        elif args.action == "test":
            region = dests.test_destination(engine, Vault(settings), args.name, account)
            print(f"destination {args.name!r}: connection test passed (bucket region {region})")
        else:
            dests.remove_destination(engine, args.name, account)
            print(f"destination {args.name!r} removed")
    elif args.command == "export":
        if args.action == "create":
            print(exports.create_export(
                engine, account, destination=args.destination, export_type=args.export_type, format=args.format,
                frequency=args.frequency, events=args.events, window_from=args.window_from,
                window_to=args.window_to, every=args.every, now=args.now))
        elif args.action == "list":
            rows = exports.list_exports(engine, account)
            if args.json:
                print(json.dumps(rows, default=_json_default, indent=2))
            else:
                _print_table(rows, ("id", "destination", "export_type", "format", "frequency", "every_hours",
                                    "status", "created_at"))
        elif args.action == "show":
            print(json.dumps(exports.get_export(engine, args.request_id, account), default=_json_default, indent=2))
        elif args.action == "backfill":
            made = run_actions.backfill(engine, args.request_id, account, start=args.window_from,
                                        end=args.window_to, replace=args.replace)
            _print_table(made, ("id", "window_start", "window_end", "run_timestamp", "status"))
        elif args.action == "resume":
            resume_export(engine, args.request_id, account)
            print(f"export {args.request_id} resumed: it continues from its first window not yet Done")
        else:
            exports.stop_export(engine, args.request_id, account)
            print(f"export {args.request_id} stopped")
    elif args.command == "runs":
        act = run_actions.cancel_run if args.action == "cancel" else run_actions.retry_run
        run = act(engine, args.run_id, account)
        print(f"run {run['id']} of {run['request_id']} is now {run['status']}")
    elif args.command == "run":
        shutdown.install(settings.stop_grace_seconds)
        # a person's command prints its runs; in JSON they are log lines like the scheduler's
        lines = logging.getLogger("eventexport.scheduler").info if settings.log_format == "json" else print
        count = run_due(engine, settings, Vault(settings), as_of=args.as_of, request_id=args.request_id, log=lines)
        print(logs.line(settings.log_format, f"{count} run(s) attempted", logger="eventexport.cli", attempted=count))
    elif args.command == "scheduler":
        port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
        return run_scheduler(engine, settings, Vault(settings), args.interval, port)
    elif args.command == "log":
        entries = activity_log.activity(engine, account, args.request_id, args.status)
        if args.json:
            print(json.dumps(entries, indent=2, ensure_ascii=False))
        else:
            _print_table(entries, activity_log.COLUMNS)
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    fmt = "human"
    try:
        settings = load_settings()
        fmt = settings.log_format
        # a scheduler's log is its output, on stdout as `eventexport run` prints its runs; other commands keep
        # stdout for their answer (a token, an id)
        logs.configure(fmt, stream=sys.stdout if args.command in ("run", "scheduler") else sys.stderr)
        return _dispatch(args, settings)
    except ExportError as error:
        text = str(error) if fmt == "json" else f"eventexport: error: {error}"
        print(logs.line(fmt, text, logging.ERROR, "eventexport.cli", exit_status=error.exit_code), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
