"""A customer's S3 endpoint may only be a public address: never our loopback, private network, link-local
or cloud metadata service, however the address is spelt.

An account's admin names the endpoint, and our servers connect to it (the connection test, every run),
so without this rule any admin could make us call into our own network and read the answers, or time
them to scan its ports. The rule is checked on the address actually connected to: a guarded client
resolves the host once at connect time, refuses the connection if any address is not public, and
connects to the very address it checked, so a name that resolves to a public address first and to
127.0.0.1 a moment later (DNS rebinding) gains nothing. Spellings (`localhost`, `[::1]`, `2130706433`,
`0x7f.1`, `::ffff:127.0.0.1`) all meet the same resolver, so none slips past. Redirects are never
followed (botocore asks urllib3 for none) and any a client did follow would meet the same guard.

A deployment that reaches its own S3-compatible server (on-premise MinIO, the demos, the tests) sets
EVENTEXPORT_ALLOW_PRIVATE_ENDPOINTS=true; it is off by default.
"""

import functools
import ipaddress
import os
import socket
import urllib.parse

from botocore.awsrequest import AWSHTTPConnectionPool, AWSHTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from transforms.errors import ConfigError

__all__ = ["ALLOW_PRIVATE_ENV", "EndpointRefusedError", "private_allowed", "refusal", "check_host", "guard_client",
           "GuardedConnection", "GuardedHTTPConnection", "guarded_pool"]

ALLOW_PRIVATE_ENV = "EVENTEXPORT_ALLOW_PRIVATE_ENDPOINTS"
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
# Cloud instance metadata services (AWS IMDS and ECS task metadata, AWS's IPv6 IMDS, Alibaba Cloud):
# the credentials of the machine we run on, one request away.
_METADATA = frozenset(map(ipaddress.ip_address, ("169.254.169.254", "169.254.170.2", "169.254.170.23",
                                                 "fd00:ec2::254", "100.100.100.200")))
_SHARED = ipaddress.ip_network("100.64.0.0/10")              # RFC 6598, carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")                # RFC 6052: an IPv4 address in its last 32 bits
_PRIVATE = tuple(map(ipaddress.ip_network, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")))
# (why an address is refused, test), in the order a message names them; the first that holds is named
_RULES = (
    ("the cloud metadata address", lambda ip: ip in _METADATA),
    ("an unspecified address (0.0.0.0, ::)", lambda ip: ip.is_unspecified),
    ("a loopback address (127.0.0.0/8, ::1)", lambda ip: ip.is_loopback),
    ("a link-local address (169.254.0.0/16, fe80::/10)", lambda ip: ip.is_link_local),
    ("a multicast address (224.0.0.0/4, ff00::/8)", lambda ip: ip.is_multicast),
    ("a shared address (100.64.0.0/10)", lambda ip: ip in _SHARED),
    ("a private address (RFC 1918: 10/8, 172.16/12, 192.168/16; fc00::/7)",
     lambda ip: any(ip in network for network in _PRIVATE if network.version == ip.version)),
    ("a reserved address (not publicly routable)", lambda ip: not ip.is_global),
)


class EndpointRefusedError(ConfigError):
    """The endpoint resolves to an address we never connect to; nothing was sent to it."""


def private_allowed(environ=os.environ):
    """Whether this deployment lets endpoints be non-public addresses (EVENTEXPORT_ALLOW_PRIVATE_ENDPOINTS)."""
    value = environ.get(ALLOW_PRIVATE_ENV, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"{ALLOW_PRIVATE_ENV} {value!r} must be true or false")
    return value in _TRUE


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 address carries to a v4 host (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):   # not :: or ::1, which are themselves
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(address):
    """Why we never connect to `address` (an IP address as text), or None when it is a public unicast one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])   # an IPv6 zone (fe80::1%eth0) is no part of the rule
    for candidate in filter(None, (_embedded_ipv4(ip), ip)):
        for reason, applies in _RULES:
            if applies(candidate):
                return reason
    return None


def _message(host, address, reason):
    shown = host if host == address else f"{host} ({address})"
    return (f"could not connect to the endpoint {shown}: it is {reason}, and an endpoint (S3 or webhook) must be a "
            f"public address (a deployment that reaches its own servers sets {ALLOW_PRIVATE_ENV}=true)")


def _addresses(host, port):
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def check_host(host, port):
    """Raise EndpointRefusedError when any address `host` resolves to is not public. A name that does not
    resolve passes: connecting to it fails anyway, saying only that it could not connect."""
    try:
        addresses = _addresses(host, port)
    except (socket.gaierror, UnicodeError):
        return
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise EndpointRefusedError(_message(host, address, reason), field="endpoint_url")


@functools.lru_cache(maxsize=64)
def _checked_before(host, port):
    check_host(host, port)


def _check_request(request, **_):
    """botocore's before-send: refuse a request to a non-public host before its connection is even asked
    for, with the rule's message and no retry. (The connect-time guard below is the one that counts.)"""
    parts = urllib.parse.urlsplit(request.url)
    _checked_before(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


class GuardedConnection:
    """A urllib3 connection mixin that resolves its host once, refuses a non-public address, and connects to
    the address it checked (urllib3 would resolve again inside create_connection). botocore's connections
    below use it, and so do webhook deliveries (control/notifications/http.py)."""

    def _new_conn(self):
        try:
            addresses = _addresses(self._dns_host, self.port)
        except (socket.gaierror, UnicodeError) as error:
            raise NewConnectionError(self, "could not connect: the name does not resolve") from error
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise NewConnectionError(self, _message(self._dns_host, address, reason))
        failure = None
        for address in addresses:
            try:
                return create_connection((address, self.port), self.timeout, source_address=self.source_address,
                                         socket_options=self.socket_options)
            except socket.timeout as error:
                failure = ConnectTimeoutError(self, f"could not connect to {self.host} (timed out)")
                failure.__cause__ = error
            except OSError as error:
                failure = NewConnectionError(self, f"could not connect to {self.host}")
                failure.__cause__ = error
        raise failure


def guarded_pool(pool):
    """A subclass of urllib3's connection pool class `pool` whose connections obey the rule (the S3 clients'
    pools here, the webhooks' in control/notifications/http.py)."""
    connection = type(f"Guarded{pool.ConnectionCls.__name__}", (GuardedConnection, pool.ConnectionCls), {})
    return type(f"Guarded{pool.__name__}", (pool,), {"ConnectionCls": connection})


_GUARDED_POOLS = {"http": guarded_pool(AWSHTTPConnectionPool), "https": guarded_pool(AWSHTTPSConnectionPool)}
GuardedHTTPConnection = _GUARDED_POOLS["http"].ConnectionCls


def guard_client(client):
    """Make every connection of boto3 `client` obey the rule; call before its first request. botocore has
    no public setting for its connection class, so its session's pool classes are replaced in place (the
    same dict serves its pool manager and any proxy manager): if botocore ever moves them, this fails
    loudly rather than leaving the client unguarded."""
    pools = client._endpoint.http_session._pool_classes_by_scheme
    if set(pools) != {"http", "https"} or pools["http"] is not AWSHTTPConnectionPool:
        raise RuntimeError("botocore's connection pools are not where the endpoint guard expects them")
    pools.update(_GUARDED_POOLS)
    client.meta.events.register("before-send", _check_request)
    return client
