"""Auto-pause: a recurring export whose runs fail `pause_after` times in a row is paused, with its reason,
until someone resumes it.

How failures are counted: every attempt of a run ends Done or Failed (control/claims.py `finish`), and a
Failed run is tried again after `retry_delay` (5 minutes, doubling, at most 4 hours) while later windows
wait behind it (control/scheduler.py), so failed attempts in a row are the export's own streak. The
export keeps it (`failure_streak`): one more on each Failed attempt, back to 0 on a Done run or a resume.
At the account's limit (control/notifications/preferences.py `pause_after`, default the deployment's
`pause_after_failures`, 5) a recurring export's status becomes `paused`: the scheduler neither plans nor
claims the runs of an export that is not active, so nothing runs, and nothing is lost either. Resuming
makes it active and its failed run due at once; the windows that ended meanwhile are planned on the next
pass, from the first window not yet Done, in order, so no window is skipped. One-time exports are never
paused: they have one window, and stopping them is the user's call.
"""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from control.errors import ConflictError
from control.exports import get_export
from control.models import fetch_all, requests, runs, utc
from control.notifications.preferences import pause_after

__all__ = ["count_outcome", "pause_if_due", "resume_export", "paused_exports"]


def count_outcome(connection, request, failed):
    """Count a run's outcome on its export's streak (within the caller's transaction); the new streak."""
    streak = request["failure_streak"] + 1 if failed else 0
    if streak != request["failure_streak"]:
        connection.execute(requests.update().where(requests.c.id == request["id"]).values(
            failure_streak=requests.c.failure_streak + 1 if failed else 0))
        streak = connection.execute(sa.select(requests.c.failure_streak).where(
            requests.c.id == request["id"])).scalar()
    return streak


def pause_if_due(connection, settings, request, streak, error, now):
    """Pause the export when its streak reached the account's limit; the reason if this call paused it."""
    limit = pause_after(connection, settings, request["account_id"])
    if request["frequency"] != "recurring" or streak < limit:
        return None
    reason = (f"paused after {streak} failed runs in a row (the limit is {limit}); the last error: "
              f"{(error or 'unknown')[:500]}. Fix the cause, then resume the export: it continues from the first "
              "window not yet Done")
    paused = connection.execute(requests.update().where(
        (requests.c.id == request["id"]) & (requests.c.status == "active")).values(
        status="paused", paused_reason=reason, paused_at=now))
    return reason if paused.rowcount == 1 else None


def resume_export(engine, request_id, account, now=None):
    """Make a paused export active again; its failed run is due at once, later windows follow in order."""
    request = get_export(engine, request_id, account)
    if request["status"] != "paused":
        raise ConflictError(f"export {request_id} is {request['status']}, not paused; only a paused export is "
                            "resumed")
    now = utc(now or dt.datetime.now(dt.timezone.utc))
    try:
        with engine.begin() as connection:
            connection.execute(requests.update().where(
                (requests.c.id == request_id) & (requests.c.status == "paused")).values(
                status="active", paused_reason=None, paused_at=None, failure_streak=0))
            connection.execute(runs.update().where((runs.c.request_id == request_id) & (runs.c.status == "Failed"))
                               .values(next_attempt_at=now))
    except IntegrityError:   # a profile export: another became active meanwhile (one per account)
        raise ConflictError(f"export {request_id} exports profiles, and another profile export of the account is "
                            "active now; stop that one first, then resume this one") from None
    return get_export(engine, request_id, account)


def paused_exports(engine, account):
    """The account's paused exports, oldest first."""
    return fetch_all(engine, requests, requests.c.created_at,
                     (requests.c.account_id == account) & (requests.c.status == "paused"))
