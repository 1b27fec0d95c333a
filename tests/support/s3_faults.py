"""A seeded fault-injecting HTTP proxy in front of the local S3 server, for the S3 fault tests.

The exporter talks to the proxy as if it were S3 (path style, so the Host header and SigV4 hold); the
proxy forwards each request to the moto server unchanged, unless the fault plan picks it. Requests are
sorted into S3 operations (PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
ListObjects, ...) and a plan says, per operation, which faults may hit it and how often, drawn from a
seeded `random.Random` per operation (so the order in which objects are written does not move the faults
between operations), and a failing case replays exactly. Faults:

- "500" / "503": an S3 error answer (InternalError, SlowDown) without touching the server;
- "reset": the connection is reset after half the request body was read (mid-upload, mid-part);
- "reset-after": the request reaches the server, then the connection is reset before the answer
  (the object was written; the client cannot know it);
- "hang": no answer ever comes (until the proxy closes); only the client's read timeout ends it;
- "403": AccessDenied, as S3 answers once the key's permission has been taken away;
- "404": NoSuchUpload, as S3 answers a multipart request whose upload is gone (completed or aborted).

`limit` caps the faults one request (the same method, path and query: a retry) receives, so a plan of
transient faults always lets the client's retries through; `limit=None` makes every pick persistent.
`on_request(operation, number)` is called before forwarding the operation's `number`th request
(from 1), which is how a test acts at an exact point of a run (revoke the key, kill the exporter); a
fault name it returns strikes that request, whatever the plan says. `rewrite(operation, path, request
headers, response headers, body)` may change a forwarded answer (headers as a list of pairs); it returns
the new (headers, body), which is how a test gives moto's answers the form AWS's have.
"""

import http.client
import http.server
import random
import socket
import struct
import threading
import urllib.parse
from collections import Counter

__all__ = ["FaultProxy", "operation_of", "FAULTS"]

FAULTS = ("500", "503", "reset", "reset-after", "hang", "403", "404")
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "403": (403, "AccessDenied", "Access Denied"),
    "404": (404, "NoSuchUpload", "The specified upload does not exist."),
}


def operation_of(method, path):
    """The S3 operation a path-style request is (`path` with its query)."""
    parts = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    has_key = "/" in parts.path.lstrip("/")
    if method == "PUT" and "partNumber" in query:
        return "UploadPart"
    if method == "PUT":
        return "PutObject" if has_key else "CreateBucket"
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    if method == "DELETE" and "uploadId" in query:
        return "AbortMultipartUpload"
    if method == "GET" and not has_key:
        return "ListObjects"
    return f"{method} {'object' if has_key else 'bucket'}"


class FaultProxy:
    """`plan`: {operation: (rate, faults)}; each request of that operation is hit with probability
    `rate` by one of `faults` (seeded). `log` lists (operation, path, fault or None) in arrival order."""

    def __init__(self, upstream, plan=None, seed=0, limit=2, on_request=None, rewrite=None):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.plan, self.limit, self.on_request, self.rewrite = dict(plan or {}), limit, on_request, rewrite
        unknown = {fault for _, faults in self.plan.values() for fault in faults} - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        self.seed = seed
        self._randoms = {}
        self.log = []
        self._faults_per_request = Counter()
        self._numbers = Counter()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.endpoint_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._closed.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def faults(self, fault=None, operation=None):
        """How many requests got `fault` (any fault if None), of `operation` (any if None)."""
        return sum(1 for op, _, hit in self.log if hit and (fault is None or hit == fault)
                   and (operation is None or op == operation))

    def count(self, operation):
        return sum(1 for op, _, _ in self.log if op == operation)

    def _pick(self, method, path):
        operation = operation_of(method, path)
        with self._lock:
            self._numbers[operation] += 1
            number = self._numbers[operation]
        chosen = self.on_request(operation, number) if self.on_request else None
        with self._lock:
            rate, faults = self.plan.get(operation, (0, ()))
            fault = chosen
            draw = self._randoms.setdefault(operation, random.Random(f"{self.seed}:{operation}"))
            if fault is None and faults and draw.random() < rate:
                request = (method, path)
                if self.limit is None or self._faults_per_request[request] < self.limit:
                    fault = draw.choice(faults)
                    self._faults_per_request[request] += 1
            self.log.append((operation, path, fault))
        return fault

    def _handler(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # so botocore's "Expect: 100-continue" is answered at once

            def log_message(self, *args):
                pass

            def _reset(self):
                """Close with an RST, not a FIN: what a dropped connection looks like to the client."""
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def _answer(self, status, headers, data):
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _relay(self):
                length = int(self.headers.get("Content-Length", 0) or 0)
                fault = proxy._pick(self.command, self.path)
                if fault == "reset":
                    self.rfile.read(length // 2)
                    return self._reset()
                body = self.rfile.read(length)
                if fault == "hang":
                    proxy._closed.wait()
                    return self._reset()
                if fault in _ERRORS:
                    status, code, message = _ERRORS[fault]
                    text = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
                    return self._answer(status, [("Content-Type", "application/xml")], text)
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                if fault == "reset-after":
                    return self._reset()
                headers = answer.getheaders()
                if proxy.rewrite and answer.status < 300:
                    headers, data = proxy.rewrite(operation_of(self.command, self.path), self.path, self.headers,
                                                  headers, data)
                return self._answer(answer.status, headers, data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

        return Handler
