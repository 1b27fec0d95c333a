"""An account's notification settings: who gets its mail and after how many failures in a row a recurring
export is paused. No row, or an empty value, means the deployment's default: the account's admins, and
the setting pause_after_failures (default 5).
"""

import re

import sqlalchemy as sa

from control.models import notification_settings, users
from transforms.errors import ConfigError

__all__ = ["get_preferences", "set_preferences", "recipients", "pause_after", "MAX_RECIPIENTS", "MAX_PAUSE_AFTER"]

MAX_RECIPIENTS = 20          # a team's list, not a mailing list: use a list address for more
MAX_PAUSE_AFTER = 100        # beyond this a failing export would retry for weeks before anyone is told twice
# One @, no spaces or angle brackets, a dot in the domain: enough to catch a typo; the SMTP server says the rest.
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


def get_preferences(connection, account):
    """{"email_to": list or None, "pause_after": int or None} of `account`; None is the default."""
    row = connection.execute(sa.select(notification_settings).where(
        notification_settings.c.account_id == account)).first()
    return {"email_to": row.email_to if row else None, "pause_after": row.pause_after if row else None}


def _checked_addresses(email_to):
    if email_to is None:
        return None
    addresses = [str(a).strip() for a in email_to if str(a).strip()]
    for address in addresses:
        if len(address) > 254 or not _ADDRESS.fullmatch(address):
            raise ConfigError(f"{address[:60]!r} is not an e-mail address such as ops@example.com", field="email_to")
    if len(addresses) > MAX_RECIPIENTS:
        raise ConfigError(f"At most {MAX_RECIPIENTS} addresses, not {len(addresses)}; use a list address for "
                          "more", field="email_to")
    return list(dict.fromkeys(addresses)) or None


def set_preferences(engine, account, *, email_to=None, pause_after=None):
    """Save the account's settings (None: the default); returns them as saved."""
    email_to = _checked_addresses(email_to)
    if pause_after is not None and (isinstance(pause_after, bool) or not isinstance(pause_after, int)
                                    or not 1 <= pause_after <= MAX_PAUSE_AFTER):
        raise ConfigError(f"Pause after {pause_after!r} failures is not allowed: give 1 to {MAX_PAUSE_AFTER} "
                          "failed runs in a row, or empty for the deployment's default", field="pause_after")
    with engine.begin() as connection:
        connection.execute(notification_settings.delete().where(notification_settings.c.account_id == account))
        connection.execute(notification_settings.insert().values(account_id=account, email_to=email_to,
                                                                 pause_after=pause_after))
        return get_preferences(connection, account)


def recipients(connection, account):
    """Where the account's mail goes: its list, else its admins' addresses."""
    chosen = get_preferences(connection, account)["email_to"]
    if chosen:
        return chosen
    return [r.email for r in connection.execute(sa.select(users.c.email).where(
        (users.c.account_id == account) & (users.c.role == "admin")).order_by(users.c.id))]


def pause_after(connection, settings, account):
    """Failed runs in a row after which the account's recurring exports are paused."""
    return get_preferences(connection, account)["pause_after"] or settings.pause_after_failures
