"""Request bodies over `MAX_BODY_BYTES` are answered 413 before anything parses them.

A declared Content-Length over the limit is refused before the body is read at all. A body without one
(chunked) is counted as it arrives: past the limit, reading stops, the handler's own answer (whatever a
parser made of the cut-off body) is dropped, and the 413 goes out instead. Nothing the API or the console
takes comes near the limit: a destination, an export of 1,000 names of 512 bytes, a log-in.
"""

__all__ = ["BodyLimit", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 1 << 20   # 1 MiB


class _TooLarge(Exception):
    """Raised into the handler reading a body that has passed the limit."""


class BodyLimit:
    """ASGI middleware. `refusal(scope)` makes the 413 answer (an ASGI app) for the request's path."""

    def __init__(self, app, refusal, limit=MAX_BODY_BYTES):
        self.app, self.refusal, self.limit = app, refusal, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self.refusal(scope)(scope, receive, send)
        state = {"received": 0, "over": False, "started": False}

        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["over"] = True
                    raise _TooLarge()
            return message

        async def unless_over(message):
            if state["over"] and not state["started"]:
                return   # the handler's answer to a body cut short: the 413 goes out instead
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, unless_over)
        except _TooLarge:
            pass
        if state["over"] and not state["started"]:
            await self.refusal(scope)(scope, receive, send)
