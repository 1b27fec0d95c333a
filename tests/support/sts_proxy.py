"""A real HTTP proxy in front of the local STS (and S3) server that records every AssumeRole call's form.

The exporter's STS endpoint is pointed here (EVENTEXPORT_STS_ENDPOINT_URL), so the test sees exactly what
went over the wire: which role, which external id, which session name, how many times (a refresh is
another call). The request is passed on byte for byte with its Host header, so its SigV4 signature still
holds at the server.
"""

import http.client
import http.server
import threading
import urllib.parse

__all__ = ["StsProxy"]


class StsProxy:
    """`with StsProxy("http://127.0.0.1:5000") as proxy:` ... `proxy.url`, `proxy.assume_role_calls`."""

    def __init__(self, target):
        self.target = urllib.parse.urlsplit(target)
        self.assume_role_calls = []   # one dict of form fields (first values) per AssumeRole
        self._lock = threading.Lock()
        self._server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
                if form.get("Action") == "AssumeRole":
                    with proxy._lock:
                        proxy.assume_role_calls.append(form)
                upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=60)
                upstream.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    upstream.putheader(name, value)
                upstream.endheaders(body)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
