"""The local server's STS, as AWS's: AssumeRole honours the role's trust policy. Runs as the moto server.

moto 5.2.5 assumes any role for any caller allowed sts:AssumeRole, even a role that does not exist, and
never reads the trust policy. AWS refuses (AccessDenied, the same answer for each, so a caller cannot tell
which) a role that does not exist, one whose trust policy does not name the caller (its ARN, its account's
root or `*`), and one whose `StringEquals` `sts:ExternalId` condition the call's external id does not meet.
This module adds exactly those checks to moto's AssumeRole, then starts moto's server with the command
line it was given; devtools/local_s3.py runs it by path, so it needs nothing of this project.
"""

import json
import re
import sys

from moto.iam.models import iam_backends
from moto.server import main
from moto.sts import responses
from moto.sts.exceptions import STSClientError

_KEY_ID = re.compile(r"Credential=([^/,\s]+)/")


def _listed(value):
    return value if isinstance(value, list) else [] if value is None else [value]


def trusted(document, caller, account, external_id):
    """Whether a trust policy lets `caller` (an ARN) of `account` assume the role with `external_id`."""
    for statement in _listed(document.get("Statement")):
        principal = statement.get("Principal")
        named = _listed(principal.get("AWS") if isinstance(principal, dict) else principal)
        if statement.get("Effect") != "Allow" or "sts:AssumeRole" not in _listed(statement.get("Action")):
            continue
        if not {"*", caller, account, f"arn:aws:iam::{account}:root"} & set(named):
            continue
        wanted = (statement.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted is None or external_id in _listed(wanted):
            return True
    return False


_assume_role = responses.TokenResponse.assume_role


def _checked_assume_role(self):
    backend = iam_backends[self.current_account]["aws"]
    key = _KEY_ID.search(self.headers.get("Authorization", ""))
    user = backend.get_user_from_access_key_id(key.group(1)) if key else None
    caller = user.arn if user else "an unknown caller"
    try:
        document = json.loads(backend.get_role_by_arn(self._get_param("RoleArn")).assume_role_policy_document)
    except Exception:   # no such role: AWS answers as for a role that does not trust the caller
        document = {}
    if not trusted(document, caller, self.current_account, self._get_param("ExternalId")):
        raise STSClientError("AccessDenied", f"User: {caller} is not authorized to perform: sts:AssumeRole on "
                                             f"resource: {self._get_param('RoleArn')}")
    return _assume_role(self)


responses.TokenResponse.assume_role = _checked_assume_role

if __name__ == "__main__":
    sys.exit(main())
