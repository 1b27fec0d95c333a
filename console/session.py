"""Who is logged in: a signed session cookie carrying the user's email and a CSRF token.

The cookie is HttpOnly (page scripts cannot read it), SameSite=Lax (other sites cannot send it with a
form post), Secure when the console is served over HTTPS, and signed with a key derived from the
deployment's master key, so it cannot be forged. It expires after `SESSION_AGE`, or when its user logs
out: its random id is then recorded as ended (control/sessions.py), so a copy of the cookie is refused
too; or when the user's password is set again (the session's stamp no longer matches the user's). Every form carries the session's CSRF token and every POST must return it; a visitor who is not
logged in gets a session with a token but no user, so the log-in form is protected too.
"""

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["SessionCodec", "COOKIE", "SESSION_AGE", "CSRF_FIELD", "CSRF_HEADER"]

COOKIE = "eventexport_session"
SESSION_AGE = 12 * 3600   # seconds: a working day, then log in again
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SessionCodec:
    def __init__(self, key):
        self._serializer = URLSafeTimedSerializer(key, salt="eventexport-console-session")

    @staticmethod
    def new(email=None, stamp=None):
        """A session for `email` (None: nobody logged in); `stamp` is the user's credential stamp, so a
        password change ends every session made before it (control/accounts.py `session_user`)."""
        return {"id": secrets.token_urlsafe(24), "email": email, "stamp": stamp, "csrf": secrets.token_urlsafe(32)}

    def read(self, request):
        """(session, True) from the request's cookie, or (a fresh anonymous session, False) when there is
        none or it is forged or old."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                found = self._serializer.loads(raw, max_age=SESSION_AGE)
                if isinstance(found, dict) and all(isinstance(found.get(k), str) for k in ("id", "csrf")):
                    return found, True
            except BadSignature:
                pass
        return self.new(), False

    def write(self, response, session, secure):
        response.set_cookie(COOKIE, self._serializer.dumps(session), max_age=SESSION_AGE, httponly=True,
                            samesite="lax", secure=secure, path="/")

    @staticmethod
    def csrf_ok(session, sent):
        return bool(sent) and hmac.compare_digest(str(sent), session["csrf"])
