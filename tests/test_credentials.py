"""transforms/sinks/credentials.py: the role's names and refusals, table-driven (the calls themselves run against
the local server in tests/test_role_destinations.py)."""

import pytest
from botocore.exceptions import ClientError

from transforms.errors import ConfigError, DestinationError
from transforms.sinks.credentials import RoleSettings, check_role_arn, session_name
from transforms.sinks.s3 import S3Settings, Secret, classify

ROLE = RoleSettings("arn:aws:iam::123456789012:role/eventexport", "eex-abc", "eventexport-acme-r1",
                    sts_endpoint_url=None, duration_seconds=3600, refresh_seconds=900)


def _error(code, operation="PutObject", status=403):
    return ClientError({"Error": {"Code": code, "Message": "words of the endpoint"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@pytest.mark.parametrize("error, action, words", [
    (_error("AccessDenied", "AssumeRole"), "list", "we may not assume role arn:aws:iam::123456789012:role/eventexport: "
     "check the role ARN, and that the role's trust policy names our principal"),
    (_error("AccessDenied", "AssumeRole"), "list", "requires sts:ExternalId eex-abc"),
    (_error("ValidationError", "AssumeRole", 400), "put", "maximum session duration (at least 3600 seconds)"),
    (_error("InvalidClientTokenId", "AssumeRole"), "list", "this deployment's identity for assuming roles"),
    (_error("ExpiredToken", "PutObject", 400), "put", "the session of role arn:aws:iam::123456789012:role/eventexport "
     "expired and could not be renewed"),
    (_error("AccessDenied"), "put", "may not put objects in bucket 'b': its permission policy must allow "
     "s3:PutObject on arn:aws:s3:::b/exports/*"),
    (_error("AccessDenied", "ListObjectsV2"), "list", "may not list bucket 'b': its permission policy must allow "
     "s3:ListBucket on arn:aws:s3:::b"),
    (_error("SomethingNew", "AssumeRole"), "list", "STS refused to start a session with role"),
])
def test_each_refusal_of_a_role_has_its_own_message(error, action, words):
    refusal = classify(error, action, "b", S3Settings(role=ROLE), "exports/")
    assert isinstance(refusal, DestinationError) and not refusal.transient
    assert words in str(refusal) and "words of the endpoint" not in str(refusal)


def test_a_keys_refusals_keep_their_words():
    assert "grant s3:PutObject" in str(classify(_error("AccessDenied"), "put", "b", S3Settings(), "exports/"))


@pytest.mark.parametrize("account, request_id, expected", [
    ("acme", "8f14e45f", "eventexport-acme-8f14e45f"),
    ("a b/c", "r:1", "eventexport-a-b-c-r-1"),
    ("x" * 80, "r", "eventexport-" + "x" * 52),
])
def test_the_session_name_names_the_account_and_export_within_stss_rules(account, request_id, expected):
    assert session_name(account, request_id) == expected


@pytest.mark.parametrize("arn", ["", "arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:user/x",
                                 "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:role/"])
def test_only_a_roles_arn_is_taken(arn):
    with pytest.raises(ConfigError, match="is not an IAM role's ARN, e.g. arn:aws:iam::123456789012:role/"):
        check_role_arn(arn)


def test_a_destination_has_a_key_or_a_role_and_a_role_has_the_external_id():
    with pytest.raises(ConfigError, match="a key or a role to assume, not both"):
        S3Settings(role=ROLE, access_key_id=Secret("AKIA"), secret_access_key=Secret("s"))
    with pytest.raises(ConfigError, match="needs the account's external id"):
        RoleSettings("arn:aws:iam::123456789012:role/eventexport", "")
    assert check_role_arn("arn:aws-cn:iam::123456789012:role/path/to/export-role")


def test_the_deployments_settings_travel_with_the_role_and_are_checked(monkeypatch):
    monkeypatch.setenv("EVENTEXPORT_STS_ENDPOINT_URL", "http://sts.local")
    monkeypatch.setenv("EVENTEXPORT_ASSUME_ROLE_REFRESH_SECONDS", "120")
    role = RoleSettings("arn:aws:iam::123456789012:role/r", "eex-1")
    assert (role.sts_endpoint_url, role.duration_seconds, role.refresh_seconds) == ("http://sts.local", 3600, 120)
    monkeypatch.setenv("EVENTEXPORT_ASSUME_ROLE_DURATION_SECONDS", "soon")
    with pytest.raises(ConfigError, match="EVENTEXPORT_ASSUME_ROLE_DURATION_SECONDS 'soon' is not a whole number"):
        RoleSettings("arn:aws:iam::123456789012:role/r", "eex-1")
