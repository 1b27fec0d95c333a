"""`make console`: the web console on the demo's data, with the scheduler beside it, until Ctrl-C.

Like `make demo` it makes a sample event store and a local S3 server (IAM enforced, with STS) with a bucket
and a least-privilege key, and a second bucket behind the customer's role. It adds an admin user with a
fresh password (printed), saves the buckets as the destinations `acme` (by key) and `acme-role` (by role),
creates a one-time export of the last two days to each, and runs the scheduler every few
seconds so exports created in the console run while you watch. Ctrl-C or SIGTERM stops it all: the run
in progress is handed back, and the web server and the local S3 server end with it.
"""

import datetime as dt
import os
import secrets
import shutil
import sys
import threading

from control import accounts, destinations, exports
from control.ops import shutdown
from control.scheduler import run_due
from control.settings import load_settings
from devtools.demo import (BUCKET, PREFIX, REGION, ROLE_BUCKET, customer_role, demo_parser, platform_identity, run_demo,
                           sample_store)
from devtools.local_s3 import LocalS3Server, provision_least_privilege
from server.app import create_app
from server.serve import serve_in_thread

__all__ = ["main"]

ADMIN_EMAIL = "admin@acme.example"
SCHEDULER_INTERVAL = 5.0   # seconds between scheduler passes: quick enough to watch a run go by


def _scheduler(engine, settings, vault):
    while not shutdown.requested():
        try:
            run_due(engine, settings, vault, log=lambda line: print(f"scheduler: {line}", flush=True))
        except Exception as error:  # the next pass retries, as `eventexport scheduler` does
            print(f"scheduler: pass failed, retrying: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        shutdown.wait(SCHEDULER_INTERVAL)


def main(argv=None):
    parser = demo_parser("devtools.console_demo", __doc__, "console-out", 50_000)
    parser.add_argument("--port", type=int, default=8000, help="0 lets the OS pick a free port")
    return run_demo(_run, parser.parse_args(argv))


def _run(args):
    workdir = os.path.abspath(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    store, counts = sample_store(workdir, args.events, now.date())
    print(f"sample store: {counts['events']:,} events, {counts['profiles']:,} profiles in {store}", flush=True)
    with LocalS3Server(region=REGION) as s3:
        key = provision_least_privilege(s3, BUCKET, region=REGION)
        principal = platform_identity(s3)   # in this process's environment: the console shows it, runs inherit it
        settings = load_settings({
            "EVENTEXPORT_DB": f"sqlite:///{workdir}/eventexport.db", "EVENTEXPORT_KEY_FILE": f"{workdir}/master.key",
            "EVENTEXPORT_EVENT_STORE": f"{store}/events", "EVENTEXPORT_PROFILE_STORE": f"{store}/profiles",
            "EVENTEXPORT_MANIFESTS": f"{workdir}/manifests", "EVENTEXPORT_DATABASE_ID": "eu1",
            "EVENTEXPORT_DATA_REGION": "EU"})
        app = create_app(settings)   # the REST API and the console; creates the tables and the default account
        engine, vault = app.state.context.engine, app.state.context.vault
        password = secrets.token_urlsafe(12)
        accounts.add_user(engine, account=accounts.DEFAULT_ACCOUNT, email=ADMIN_EMAIL, role="admin", password=password)
        destinations.add_destination(engine, vault, name="acme", bucket=BUCKET, data_region="EU",
                                     access_key_id=key.access_key_id, secret_access_key=key.secret_access_key,
                                     prefix=PREFIX, endpoint_url=s3.endpoint_url, path_style=True)
        external_id = accounts.get_account(engine, accounts.DEFAULT_ACCOUNT)["external_id"]
        role_arn = customer_role(s3, principal, external_id)
        destinations.add_destination(engine, vault, name="acme-role", bucket=ROLE_BUCKET, data_region="EU",
                                     role_arn=role_arn, prefix=PREFIX, endpoint_url=s3.endpoint_url, path_style=True)
        for destination in ("acme", "acme-role"):
            exports.create_export(engine, destination=destination, export_type="all_events", format="json",
                                  frequency="once", window_from=now - dt.timedelta(days=2),
                                  window_to=now - dt.timedelta(hours=1))
        try:
            server, url = serve_in_thread(app, port=args.port)
        except RuntimeError:   # the port is taken: any free one will do
            server, url = serve_in_thread(app, port=0)
        scheduler = threading.Thread(target=_scheduler, args=(engine, settings, vault), name="scheduler")
        scheduler.start()
        print(f"""
The console is running: open {url}/console/   (REST API at {url}/api/v1, OpenAPI at {url}/openapi.json)
  log in as  {ADMIN_EMAIL}
  password   {password}

The scheduler runs what is due every {SCHEDULER_INTERVAL:.0f} s. To add a destination of your own under
Settings > Partners > Exports, use the local S3 server (endpoint URL {s3.endpoint_url}, path-style addressing
on, data region EU) and either
  a role (recommended): bucket {ROLE_BUCKET}, prefix {PREFIX}, role ARN {role_arn}
    (made with the trust policy the page shows: {principal} with external id {external_id})
  or a key: bucket {BUCKET}, access key ID {key.access_key_id}, secret access key {key.secret_access_key}
(throwaway credentials of this local server; they die with it). Ctrl-C stops everything.""", flush=True)
        try:
            while scheduler.is_alive():
                scheduler.join(0.5)
        finally:   # Ctrl-C or SIGTERM: the scheduler hands its run back and ends, then the servers
            shutdown.request(0)
            scheduler.join()
            server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
