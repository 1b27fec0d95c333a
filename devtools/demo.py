"""`make demo`: the whole product on embedded defaults, offline, in about a minute.

It generates a sample event store, starts a local S3 server (moto, IAM enforced) with a bucket and a
key holding exactly the least-privilege policy customers give us, and a second bucket behind a role of
the customer's that trusts the platform's identity with the account's external id (STS on the same
server), then drives the `eventexport` CLI as a user would: adds both destinations (each runs the
connection test), creates a one-time export to each and a recurring one, runs what is due, prints the
activity log, and lists the buckets with the customer's key and through the role.
"""

import argparse
import datetime as dt
import os
import shlex
import shutil
import subprocess
import sys

from control.accounts import DEFAULT_ACCOUNT, get_account
from control.models import connect
from control.roles import trust_policy
from devtools import generate
from devtools.local_s3 import LocalS3Server, provision_least_privilege, provision_platform_identity, provision_role
from devtools.signals import run_stoppable
from transforms.sinks import credentials
from transforms.sinks.endpoint_guard import ALLOW_PRIVATE_ENV
from transforms.sinks.preflight import list_objects
from transforms.sinks.s3 import S3Settings

__all__ = ["main", "sample_store", "platform_identity", "customer_role", "BUCKET", "ROLE_BUCKET", "PREFIX", "REGION"]

BUCKET = "acme-analytics-exports"
ROLE_BUCKET = "acme-role-exports"   # reached by role
PREFIX = "eventexport"
REGION = "eu-west-1"   # the EU data region's


def _eventexport(env, *args):
    shown = " ".join(shlex.quote(a) for a in args)
    print(f"\n$ eventexport {shown}", flush=True)
    done = subprocess.run([sys.executable, "-m", "control.cli", *args], env=env, text=True,  # nosec B603  # no shell
                          capture_output=True)
    print((done.stdout + done.stderr).rstrip(), flush=True)
    if done.returncode:
        raise SystemExit(done.returncode)
    return done.stdout.strip()


def sample_store(workdir, events, today):
    """The demo's event and profile store under `workdir`, ending today; returns (root, counts)."""
    store = os.path.join(workdir, "store")
    return store, generate.generate(store, events, 4, "parquet", seed=7, end=today + dt.timedelta(days=1),
                                    hostile=True)


def platform_identity(server):
    """The deployment's identity for assuming customers' roles (sts:AssumeRole only) on the local server, set in
    this process's environment, which runs and their workers inherit; returns its principal's ARN."""
    key, principal = provision_platform_identity(server)
    os.environ.update({credentials.PLATFORM_KEY_ID_ENV: key.access_key_id,
                       credentials.PLATFORM_SECRET_ENV: key.secret_access_key,
                       credentials.PLATFORM_PRINCIPAL_ENV: principal,
                       credentials.STS_ENDPOINT_ENV: server.endpoint_url})
    return principal


def customer_role(server, principal, external_id):
    """ROLE_BUCKET and the customer's role for it, made as the console tells them (trust: our principal with the
    account's external id; permissions: list the bucket, put under the prefix); returns the role's ARN."""
    return provision_role(server, ROLE_BUCKET, trust_policy(external_id, principal), PREFIX + "/",
                          role_name="acme-eventexport", region=REGION)


SHOWN = 8   # objects listed by name; the rest are counted


def show_bucket(server, key, bucket, prefix, region, role=None):
    """List `bucket` with the customer's own key (or through their `role`), as they would, print its first
    objects; return the listing."""
    settings = S3Settings(region=region, endpoint_url=server.endpoint_url, path_style=True, role=role,
                          access_key_id=key and key.access_key_id, secret_access_key=key and key.secret_access_key)
    listed = list_objects(settings, bucket, prefix + "/")
    print(f"\nbucket {bucket}, listed {'through the role' if role else 'with the key'}: {len(listed)} objects, "
          f"{sum(size for size, _ in listed.values()):,} bytes")
    for name in sorted(listed)[:SHOWN]:
        print(f"  {listed[name][0]:>9,}  s3://{bucket}/{name}")
    return listed


def demo_parser(module, doc, workdir, events):
    """The options every demo shares: where it works and how many events its sample store holds."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.split("\n")[0])
    parser.add_argument("--workdir", default=workdir)
    parser.add_argument("--events", type=int, default=events)
    return parser


def run_demo(run, args):
    """Run a demo until it ends or is stopped; its S3 server is the local one, on 127.0.0.1, so it is allowed."""
    os.environ[ALLOW_PRIVATE_ENV] = "true"
    return run_stoppable(run, args)


def main(argv=None):
    return run_demo(_run, demo_parser("devtools.demo", __doc__, "demo-out", 50_000).parse_args(argv))


def _run(args):
    workdir = os.path.abspath(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    today = now.date()
    store, counts = sample_store(workdir, args.events, today)
    print(f"sample store: {counts['events']:,} events, {counts['profiles']:,} profiles in {store}")
    with LocalS3Server(region=REGION) as server:
        key = provision_least_privilege(server, BUCKET, region=REGION)
        print(f"local S3 at {server.endpoint_url}: bucket {BUCKET} and a key that may only list it and put objects")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTEXPORT_"))}
        env.update(EVENTEXPORT_DB=f"sqlite:///{workdir}/eventexport.db", EVENTEXPORT_KEY_FILE=f"{workdir}/master.key",
                   EVENTEXPORT_EVENT_STORE=f"{store}/events", EVENTEXPORT_PROFILE_STORE=f"{store}/profiles",
                   EVENTEXPORT_MANIFESTS=f"{workdir}/manifests", EVENTEXPORT_DATABASE_ID="eu1",
                   EVENTEXPORT_SECRET_ACCESS_KEY=key.secret_access_key, **{ALLOW_PRIVATE_ENV: "true"})
        _eventexport(env, "destination", "add", "--name", "acme", "--bucket", BUCKET, "--data-region", "EU",
                     "--access-key-id", key.access_key_id, "--prefix", PREFIX, "--endpoint-url",
                     server.endpoint_url, "--path-style")
        principal = platform_identity(server)
        env.update({k: v for k, v in os.environ.items() if k.startswith("EVENTEXPORT_ASSUME_ROLE_")},
                   **{credentials.STS_ENDPOINT_ENV: server.endpoint_url})
        _eventexport(env, "account", "list")   # shows the account's external id
        external_id = get_account(connect(env["EVENTEXPORT_DB"]), DEFAULT_ACCOUNT)["external_id"]
        role_arn = customer_role(server, principal, external_id)
        print(f"\nthe customer made role {role_arn} for bucket {ROLE_BUCKET}: it trusts {principal} "
              f"with external id {external_id}, and may only list the bucket and put under {PREFIX}/")
        _eventexport(env, "destination", "add", "--name", "acme-role", "--bucket", ROLE_BUCKET, "--data-region", "EU",
                     "--role-arn", role_arn, "--prefix", PREFIX, "--endpoint-url", server.endpoint_url, "--path-style")
        for destination in ("acme", "acme-role"):
            _eventexport(env, "export", "create", "--destination", destination, "--type", "all_events", "--format",
                         "json", "--frequency", "once", "--from", f"{today - dt.timedelta(days=2)}T00:00:00Z",
                         "--to", f"{today}T00:00:00Z")
        _eventexport(env, "export", "create", "--destination", "acme", "--type", "select_events",
                     "--event", "Charged", "--event", "Items, Bought", "--format", "csv", "--frequency", "recurring",
                     "--every", "4h")
        _eventexport(env, "run", "--as-of", (now + dt.timedelta(hours=8, minutes=5)).isoformat())
        _eventexport(env, "log")
        listed = show_bucket(server, key, BUCKET, PREFIX, REGION)
        print(f"  ... {max(0, len(listed) - SHOWN)} more; our manifest copies are in {workdir}/manifests")
        role = credentials.RoleSettings(role_arn, external_id, "eventexport-demo-listing")
        show_bucket(server, None, ROLE_BUCKET, PREFIX, REGION, role=role)
    print("\nTo do all this in a browser: `make console` starts the web console on this same sample data,\n"
          "with the scheduler beside it, and prints the address and an admin's password.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
