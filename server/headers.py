"""Security headers on every answer the app gives: pages, JSON, static files, errors, refusals.

`nosniff` keeps a browser from reading a JSON or text answer as script or a page; the content security
policy lets pages load only the console's own files and nothing frame them (`frame-ancestors 'none'`,
and `X-Frame-Options` for older browsers); answers that are not pages allow nothing at all. The referrer
never carries a console address to another site. HSTS is sent only over HTTPS (a browser ignores it
over plain HTTP, and a local `make console` must stay reachable over HTTP).
"""

__all__ = ["SecurityHeaders", "PAGE_POLICY", "OTHER_POLICY", "HSTS"]

PAGE_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"   # a year, as browsers' preload lists expect


class SecurityHeaders:
    """ASGI middleware: adds the headers to each response start, keeping any a handler set itself."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                page = any(name.lower() == b"content-type" and value.startswith(b"text/html")
                           for name, value in headers)
                wanted = {b"x-content-type-options": b"nosniff", b"referrer-policy": b"same-origin",
                          b"x-frame-options": b"DENY",
                          b"content-security-policy": (PAGE_POLICY if page else OTHER_POLICY).encode()}
                if https:
                    wanted[b"strict-transport-security"] = HSTS.encode()
                headers += [(name, value) for name, value in wanted.items() if name not in present]
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, with_headers)
