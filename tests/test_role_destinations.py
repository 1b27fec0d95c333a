"""Destinations by IAM role against the local S3 server with IAM enforced: the platform's identity may only
call sts:AssumeRole, the customer's role may only list the bucket and put under the prefix, and every
AssumeRole goes through a real HTTP proxy (tests/support/sts_proxy.py) that shows what was sent.

The local server holds AssumeRole to the role's trust policy as AWS does (moto itself, and
devtools/moto_trust.py for a role that does not exist): a wrong external id, or no such role, is refused.
"""

import datetime as dt
import os
import subprocess
import sys
import uuid

import pytest

from control.roles import permission_policy, trust_policy
from control.scheduler import run_due
from devtools.generate import generate
from devtools.local_s3 import provision_platform_identity, provision_role
from tests.support.api_deployment import bearer, deployment, stores  # noqa: F401 (fixtures)
from tests.support.control_deployment import BEST_DATABASE
from tests.support.sts_proxy import StsProxy
from transforms.errors import ConfigError, DestinationError
from transforms.sinks import credentials
from transforms.sinks.credentials import RoleSettings
from transforms.sinks.preflight import check_destination
from transforms.sinks.s3 import S3Settings

API = "/api/v1"
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def platform(server):
    """The platform's identity (sts:AssumeRole only), set up as a deployment sets it, with STS behind a proxy."""
    key, principal = provision_platform_identity(server, f"platform-{uuid.uuid4().hex[:6]}")
    with StsProxy(server.endpoint_url) as proxy, pytest.MonkeyPatch.context() as patch:
        patch.setenv(credentials.PLATFORM_KEY_ID_ENV, key.access_key_id)
        patch.setenv(credentials.PLATFORM_SECRET_ENV, key.secret_access_key)
        patch.setenv(credentials.PLATFORM_PRINCIPAL_ENV, principal)
        patch.setenv(credentials.STS_ENDPOINT_ENV, proxy.url)
        yield {"key": key, "principal": principal, "proxy": proxy, "server": server}


def _role(platform, external_id, policy=None, prefix="exports/"):
    bucket = f"role-{uuid.uuid4().hex[:10]}"
    arn = provision_role(platform["server"], bucket, trust_policy(external_id, platform["principal"]), prefix,
                         region="eu-west-1", policy=policy)
    return bucket, arn


def _settings(platform, arn, external_id="eex-test-external-id"):
    return S3Settings(region="eu-west-1", endpoint_url=platform["server"].endpoint_url, path_style=True,
                      role=RoleSettings(arn, external_id, "eventexport-test-check"))


@pytest.mark.slow
@BEST_DATABASE
def test_a_role_destination_saved_through_the_api_exports_with_list_and_put_only(deployment, platform):
    d, tenant, proxy = deployment, deployment.tenants["globex"], platform["proxy"]
    me = d.client.get(f"{API}/me", headers=bearer(tenant.viewer)).json()
    assert me["external_id"].startswith("eex-") and me["role_principal"] == platform["principal"]
    bucket, arn = _role(platform, me["external_id"])
    body = {"name": "by-role", "bucket": bucket, "data_region": "EU", "role_arn": arn, "prefix": "exports",
            "endpoint_url": d.server.endpoint_url, "path_style": True}
    for given in ({"external_id": "mine"}, {"access_key_id": tenant.key.access_key_id}):
        refused = d.client.post(f"{API}/destinations", json={**body, **given}, headers=bearer(tenant.admin))
        assert refused.status_code == 422, refused.text   # the external id is ours; a key and a role never both
    calls, mark = len(proxy.assume_role_calls), d.server.mark()
    saved = d.client.post(f"{API}/destinations", json=body, headers=bearer(tenant.admin))
    assert saved.status_code == 201, saved.text
    assert saved.json()["role_arn"] == arn and "external_id" not in saved.json()
    now = dt.datetime.now(UTC)
    created = d.client.post(f"{API}/exports", headers=bearer(tenant.admin), json={
        "destination": "by-role", "export_type": "all_events", "format": "json", "frequency": "once",
        "window_from": (now - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_to": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert created.status_code == 201, created.text
    assert run_due(d.engine, d.settings, d.vault, log=lambda _line: None) == 1
    run = d.client.get(f"{API}/runs", headers=bearer(tenant.viewer)).json()["items"][0]
    assert run["status"] == "Done" and run["rows"] > 0, run
    # the connection test and the run reached the bucket with the role's session alone, and only to list it and
    # put objects
    to_bucket = [r for r in d.server.recorded_since(mark) if r.path.lstrip("/").split("/")[0] == bucket]
    assert to_bucket and all(r.headers.get("x-amz-security-token") for r in to_bucket)
    assert {("list" if r.method == "GET" and "list-type=2" in r.query else r.method) for r in to_bucket} == \
        {"list", "PUT"}
    assert d.server.object_access_violations(mark, bucket) == []
    listed = d.server.admin_client().list_objects_v2(Bucket=bucket, Prefix="exports/")["Contents"]
    assert sum(1 for item in listed if item["Key"].endswith(".json.gz")) == run["objects"]
    # every AssumeRole (the connection test's and the run's) carried this account's external id
    made = proxy.assume_role_calls[calls:]
    assert len(made) >= 2 and all(c["ExternalId"] == me["external_id"] and c["RoleArn"] == arn for c in made)
    assert any(c["RoleSessionName"] == f"eventexport-globex-{created.json()['id']}" for c in made)
    verified = d.client.post(f"{API}/runs/{run['id']}/verify", headers=bearer(tenant.viewer))
    assert verified.status_code == 200 and verified.json()["ok"], verified.text


def test_the_session_is_refreshed_within_a_run_and_each_refresh_carries_the_external_id(platform, tmp_path):
    """A refresh margin longer than the session (STS's shortest, 900 s) makes every request need fresh
    credentials, so one run assumes the role again and again, as a run longer than the session would.
    The customer's KMS key goes on every put, and the role's policy grants it."""
    store = tmp_path / "store"
    generate(str(store), 300, 2, "parquet", seed=7, end=dt.date(2026, 11, 27))
    kms = platform["server"].admin_client("kms", "eu-west-1").create_key()["KeyMetadata"]["Arn"]
    bucket = f"role-{uuid.uuid4().hex[:10]}"
    arn = provision_role(platform["server"], bucket, trust_policy("eex-refresh-test", platform["principal"]),
                         region="eu-west-1", policy=permission_policy(bucket, "exports", kms))
    calls, mark = len(platform["proxy"].assume_role_calls), platform["server"].mark()
    env = dict(os.environ, **{credentials.DURATION_ENV: "900", credentials.REFRESH_ENV: "1000"})
    done = subprocess.run([
        sys.executable, "-m", "pipelines.export", "--source", str(store / "events"),
        "--destination", f"s3://{bucket}/exports/", "--end", "2026-11-27T00:00:00Z", "--start", "2026-11-25T00:00:00Z",
        "--max_file_bytes", "20000", "--destination_role_arn", arn, "--destination_external_id", "eex-refresh-test",
        "--destination_role_session_name", "eventexport-acme-refresh", "--destination_region", "eu-west-1",
        "--destination_endpoint_url", platform["server"].endpoint_url, "--destination_path_style",
        "--sse", "aws:kms", "--sse_kms_key_id", kms], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    recorded = platform["server"].recorded_since(mark)
    puts = [r for r in recorded if r.method == "PUT" and r.path.startswith(f"/{bucket}/")]
    assert puts and all(r.headers.get("x-amz-server-side-encryption-aws-kms-key-id") == kms for r in puts)
    keys = [o["Key"] for o in platform["server"].admin_client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert sum(key.endswith(".json.gz") for key in keys) >= 2 and any(key.endswith("manifest.json") for key in keys)
    made = platform["proxy"].assume_role_calls[calls:]
    assert len(made) >= len(keys)   # one session per request: refreshed, never reused once due
    assert all(c["ExternalId"] == "eex-refresh-test" and c["DurationSeconds"] == "900" for c in made)
    assert platform["key"].secret_access_key not in done.stderr + " ".join(done.args)


def test_a_role_denied_put_or_not_ours_to_assume_each_get_their_own_message(platform, server):
    denied = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::*"]}]}
    bucket, arn = _role(platform, "eex-test-external-id", policy=denied)
    with pytest.raises(DestinationError, match=rf"role {arn} may not put objects in bucket '{bucket}'.*"
                                               rf"s3:PutObject on arn:aws:s3:::{bucket}/exports/\*"):
        check_destination(_settings(platform, arn), bucket, "exports/", "EU")
    # a wrong external id, a role that does not exist, an identity the trust policy does not name: AWS's one answer
    for wrong in (_settings(platform, arn, "eex-another-account"), _settings(platform, arn + "-gone")):
        with pytest.raises(DestinationError, match=rf"we may not assume role {wrong.role.role_arn}: check the role "
                                                   rf"ARN, .* names our principal {platform['principal']} and "
                                                   rf"requires sts:ExternalId {wrong.role.external_id}"):
            check_destination(wrong, bucket, "exports/", "EU")
    stranger, _ = provision_platform_identity(server, f"stranger-{uuid.uuid4().hex[:6]}")
    server.admin_client("iam").delete_user_policy(UserName=_.split("/")[-1], PolicyName="assume-roles")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(credentials.PLATFORM_KEY_ID_ENV, stranger.access_key_id)
        patch.setenv(credentials.PLATFORM_SECRET_ENV, stranger.secret_access_key)
        with pytest.raises(DestinationError, match=rf"we may not assume role {arn}: .* requires sts:ExternalId "
                                                   "eex-other-id"):
            check_destination(_settings(platform, arn, "eex-other-id"), bucket, "exports/", "EU")
        patch.setenv(credentials.PLATFORM_SECRET_ENV, "not-the-secret")
        with pytest.raises(DestinationError, match="this deployment's identity for assuming roles is not valid"):
            check_destination(_settings(platform, arn, "eex-bad-secret"), bucket, "exports/", "EU")


@pytest.mark.slow
def test_dask_workers_assume_the_role_with_their_own_identity(server, dask_cluster, platform, monkeypatch, tmp_path):
    """The workers receive the role (ARN, external id, STS endpoint) with the run's settings, never an identity:
    they assume it as the platform identity their own environment gives them (the cluster's platform key through
    boto3's chain, or the EVENTEXPORT_ASSUME_ROLE_ key if the cluster started after this module set it), so the
    role trusts both."""
    from pipelines.export import run
    user = f"export-{dask_cluster.platform_bucket}"   # the workers' platform key's user (dask_fixtures.py)
    server.admin_client("iam").put_user_policy(UserName=user, PolicyName="assume-roles", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}'))
    chain = server.admin_client("iam").get_user(UserName=user)["User"]["Arn"]
    for name, value in dask_cluster.platform_env.items():   # the launcher, like the workers, is the platform
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(credentials.PLATFORM_KEY_ID_ENV)
    monkeypatch.delenv(credentials.PLATFORM_SECRET_ENV)
    bucket = f"role-{uuid.uuid4().hex[:10]}"
    arn = provision_role(server, bucket, trust_policy("eex-dask-test", [chain, platform["principal"]]), "exports/")
    store = tmp_path / "store"
    generate(str(store), 600, 2, "parquet", seed=9, end=dt.date(2026, 11, 27))
    calls, mark = len(platform["proxy"].assume_role_calls), server.mark()
    status, text = run([
        "--source", str(store / "events"), "--destination", f"s3://{bucket}/exports/", "--format", "csv",
        "--start", "2026-11-25T00:00:00Z", "--end", "2026-11-27T00:00:00Z", "--destination_role_arn", arn,
        "--destination_external_id", "eex-dask-test", "--destination_role_session_name", "eventexport-dask",
        "--destination_endpoint_url", server.endpoint_url, "--destination_path_style",
        "--temp_location", f"s3://{dask_cluster.platform_bucket}/spill", "--s3_endpoint_url", server.endpoint_url,
        "--runner", "DaskRunner", "--dask_client_address", dask_cluster.address])
    assert status == 0, text
    puts = [r for r in server.recorded_since(mark) if r.method == "PUT" and r.path.startswith(f"/{bucket}/")]
    assert len(puts) >= 3 and all(r.headers.get("x-amz-security-token") for r in puts)   # role sessions, not keys
    assert server.object_access_violations(mark, bucket) == []
    made = platform["proxy"].assume_role_calls[calls:]
    assert made and all(c["ExternalId"] == "eex-dask-test" and c["RoleArn"] == arn for c in made)


def test_an_edit_moves_a_destination_from_its_key_to_a_role_and_back(platform, server, tmp_path):
    from control import accounts, destinations
    from control.models import connect
    from control.secrets import Vault
    from control.settings import load_settings
    from devtools.local_s3 import provision_least_privilege
    settings = load_settings({"EVENTEXPORT_DB": f"sqlite:///{tmp_path}/control.db",
                              "EVENTEXPORT_KEY_FILE": str(tmp_path / "master.key"), "EVENTEXPORT_EVENT_STORE": "/x"})
    engine, vault = connect(settings.db), Vault(settings)
    external_id = accounts.ensure_default_account(engine, settings)["external_id"]
    bucket, arn = _role(platform, external_id)
    key = provision_least_privilege(server, bucket, region="eu-west-1", create_bucket=False)
    where = {"endpoint_url": server.endpoint_url, "path_style": True}
    destinations.add_destination(engine, vault, name="acme", bucket=bucket, data_region="EU", prefix="exports",
                                 access_key_id=key.access_key_id, secret_access_key=key.secret_access_key, **where)
    calls = len(platform["proxy"].assume_role_calls)
    by_role = destinations.edit_destination(engine, vault, "acme", role_arn=arn)
    assert by_role["role_arn"] == arn and by_role["access_key_id_sealed"] is None is by_role["secret_sealed"]
    assert platform["proxy"].assume_role_calls[calls]["ExternalId"] == external_id   # tested before it was saved
    with pytest.raises(ConfigError, match="not an IAM role's ARN"):
        destinations.edit_destination(engine, vault, "acme", role_arn="arn:aws:iam::1:user/x")
    kept = destinations.edit_destination(engine, vault, "acme", sse="AES256")   # the role stays
    assert kept["role_arn"] == arn and kept["sse"] == "AES256"
    by_key = destinations.edit_destination(engine, vault, "acme", access_key_id=key.access_key_id,
                                           secret_access_key=key.secret_access_key)
    assert by_key["role_arn"] is None and vault.open(by_key["secret_sealed"]) == key.secret_access_key
