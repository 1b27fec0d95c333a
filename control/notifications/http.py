"""Webhook POSTs through `requests`, on connections that obey the endpoint rule (DESIGN.md, "Two S3 worlds"):
resolve once, refuse a non-public address, connect to the address checked (transforms/sinks/endpoint_guard.py's
guarded_pool, the same guard the S3 clients use). TLS still verifies the certificate against the URL's
host name, and redirects are never followed, so a receiver cannot send us on to another address.
"""

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from transforms.sinks.endpoint_guard import guarded_pool, private_allowed

__all__ = ["post", "describe_failure"]


_GUARDED_POOLS = {"http": guarded_pool(HTTPConnectionPool), "https": guarded_pool(HTTPSConnectionPool)}


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_GUARDED_POOLS)


def _session():
    session = requests.Session()
    session.trust_env = False   # no proxy from the environment: a proxy would connect for us, past the guard
    if not private_allowed():
        for scheme in ("http://", "https://"):
            session.mount(scheme, _GuardedAdapter())
    return session


def post(url, body, headers, timeout):
    """POST `body` (bytes) to `url`; the receiver's HTTP status. Raises requests' errors when no answer came."""
    with _session() as session:
        return session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False).status_code


def describe_failure(error):
    """A short cause for a delivery that got no answer, without the URL (a webhook's path may be its key)."""
    if isinstance(error, requests.Timeout):
        return "timed out"
    seen, cause = set(), error
    while isinstance(cause, BaseException) and id(cause) not in seen:
        if isinstance(cause, NewConnectionError):
            return str(cause).split(": ", 1)[-1]   # urllib3 puts the connection's repr first
        seen.add(id(cause))
        cause = cause.__cause__ or getattr(cause, "reason", None) or (cause.args[0] if cause.args else None)
    return f"no answer ({type(error).__name__})"
