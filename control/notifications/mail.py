"""Notification e-mail through the deployment's SMTP server (settings smtp_*), with smtplib and email.message.

Who gets an account's mail is the account's choice (control/notifications/preferences.py): a list of
addresses, or by default its admins. A mail is queued in the outbox like a webhook delivery
(control/notifications/outbox.py), so a slow or failing mail server never holds up a run, and a mail that
could not be handed over is tried again with the same backoff.
"""

import smtplib
import ssl
from email.message import EmailMessage

__all__ = ["mail_enabled", "send_mail"]


def mail_enabled(settings):
    return bool(settings.smtp_host)


def _message(settings, recipients, subject, text):
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(text)
    return message


def send_mail(settings, recipients, subject, text):
    """Hand one mail to the SMTP server; smtplib's errors (refused, unreachable, timed out) are raised."""
    timeout = settings.notify_timeout_seconds
    if settings.smtp_tls == "ssl":
        server = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with server:
        if settings.smtp_tls == "starttls":
            server.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            server.login(settings.smtp_user, settings.smtp_password or "")
        server.send_message(_message(settings, recipients, subject, text))
