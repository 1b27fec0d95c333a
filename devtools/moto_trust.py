"""The local server's STS, as AWS's: AssumeRole of a role that does not exist is refused. Runs as the moto server.

moto 5.2.5 holds AssumeRole of an existing role to its trust policy (iam/access_control.py: the principal
must be the caller's exact ARN or `*`, an account's root is not understood, and conditions such as
`sts:ExternalId` must hold), but assumes a role that does not exist for any caller allowed sts:AssumeRole,
whose requests then fail with HTTP 500. AWS refuses it with AccessDenied, the answer it gives for a role
that does not trust the caller, so a caller cannot tell the two apart; this module adds exactly that,
then starts moto's server with the command line it was given. devtools/local_s3.py runs it by path, so it
needs nothing of this project.
"""

import sys

from moto.iam.models import iam_backends
from moto.server import main
from moto.sts import responses
from moto.sts.exceptions import STSClientError

_assume_role = responses.TokenResponse.assume_role


def _existing_role_only(self):
    arn = self._get_param("RoleArn")
    try:
        iam_backends[self.current_account]["aws"].get_role_by_arn(arn)
    except Exception:   # moto's NotFoundException, or an ARN it cannot read
        raise STSClientError("AccessDenied", f"Not authorized to perform: sts:AssumeRole on resource: {arn}") from None
    return _assume_role(self)


responses.TokenResponse.assume_role = _existing_role_only

if __name__ == "__main__":
    sys.exit(main())
