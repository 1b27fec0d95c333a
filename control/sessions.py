"""Console sessions ended before their cookie expires.

A console session lives in a signed cookie (console/session.py), so the server keeps no list of who is
logged in, and clearing the browser's cookie at log-out would leave any copy of it (a shared computer, a
proxy's log) valid until it expires. So logging out records the session's id here until that moment,
and a page refuses a cookie whose session is recorded.
"""

import datetime as dt

import sqlalchemy as sa

from control.models import ended_sessions, utc

__all__ = ["end_session", "session_ended"]


def end_session(engine, session_id, expires_at):
    """Refuse session `session_id` from now until `expires_at`; forget sessions whose time has passed."""
    now = utc(dt.datetime.now(dt.timezone.utc))
    try:
        with engine.begin() as connection:
            connection.execute(sa.delete(ended_sessions).where(ended_sessions.c.expires_at < now))
            connection.execute(sa.insert(ended_sessions).values(session_id=session_id, expires_at=utc(expires_at)))
    except sa.exc.IntegrityError:
        pass   # ended already: the same cookie logged out twice at once


def session_ended(engine, session_id):
    with engine.connect() as connection:
        return connection.execute(sa.select(ended_sessions.c.session_id)
                                  .where(ended_sessions.c.session_id == session_id)).first() is not None
