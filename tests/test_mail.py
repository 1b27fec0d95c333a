"""control/notifications/mail.py: notification mail through a real SMTP server (aiosmtpd on 127.0.0.1), one
per failure streak, not per attempt, and one when a recurring export is paused; on SQLite."""

import pytest

from control.notifications import preferences
from control.settings import load_settings
from control.notifications.outbox import deliver_due, recent_deliveries
from tests.support.notifications import MailServer, control_plane, end_attempt, recurring_export
from transforms.errors import ConfigError


@pytest.fixture
def mail(tmp_path):
    with MailServer() as server:
        engine, settings, vault = control_plane(f"sqlite:///{tmp_path}/control.db", tmp_path, **server.settings())
        yield server, engine, settings, vault
        engine.dispose()


def _attempts(engine, settings, vault, request, outcomes):
    for outcome in outcomes:
        end_attempt(engine, settings, request, outcome)
        deliver_due(engine, settings, vault)


def test_one_mail_per_failure_streak_to_the_account_s_admins(mail):
    server, engine, settings, vault = mail
    request = recurring_export(engine, "once")
    _attempts(engine, settings, vault, request, ["Failed"] * 4)
    [(to, message)] = server.mails
    assert to == ["admin@acme.example"] and message["To"] == "admin@acme.example"
    assert message["Subject"] == f"eventexport: export {request} is failing"
    assert "the bucket refused us" in message.get_content()
    _attempts(engine, settings, vault, request, ["Done", "Failed", "Failed"])   # a new streak: one more mail
    assert len(server.mails) == 2


def test_a_paused_export_is_mailed_once_more_and_the_account_s_list_gets_it(mail):
    server, engine, settings, vault = mail
    preferences.set_preferences(engine, "acme", email_to=["ops@acme.example", "oncall@acme.example"], pause_after=3)
    request = recurring_export(engine)
    _attempts(engine, settings, vault, request, ["Failed"] * 3)
    assert [to for to, _ in server.mails] == [["ops@acme.example", "oncall@acme.example"]] * 2
    paused = server.mails[1][1]
    assert paused["Subject"] == f"eventexport: export {request} is paused"
    text = paused.get_content()
    assert "paused after 3 failed runs in a row" in text and f"/api/v1/exports/{request}/resume" in text


def test_without_an_smtp_server_no_mail_is_queued(tmp_path):
    engine, settings, _ = control_plane(f"sqlite:///{tmp_path}/control.db", tmp_path)
    assert end_attempt(engine, settings, recurring_export(engine), "Failed") == []


def test_an_unreachable_smtp_server_is_retried_like_a_webhook(tmp_path):
    with MailServer() as server:
        environ = dict(server.settings())
    engine, settings, vault = control_plane(f"sqlite:///{tmp_path}/control.db", tmp_path, **environ)  # its port closed
    end_attempt(engine, settings, recurring_export(engine), "Failed")
    deliver_due(engine, settings, vault)
    [delivery] = recent_deliveries(engine, "acme")
    assert (delivery["channel"], delivery["status"], delivery["attempts"]) == ("email", "pending", 1)
    assert delivery["error"].startswith("the mail server: ConnectionRefusedError")


@pytest.mark.parametrize("email_to, pause_after, field", [
    (["not an address"], None, "email_to"), ([f"a{n}@x.example" for n in range(21)], None, "email_to"),
    (None, 0, "pause_after"), (None, 101, "pause_after"),
])
def test_bad_notification_settings_are_refused(tmp_path, email_to, pause_after, field):
    engine, _, _ = control_plane(f"sqlite:///{tmp_path}/control.db", tmp_path)
    with pytest.raises(ConfigError) as refused:
        preferences.set_preferences(engine, "acme", email_to=email_to, pause_after=pause_after)
    assert refused.value.field == field


def test_smtp_settings_are_checked_and_the_password_is_redacted():
    with pytest.raises(ConfigError, match="EVENTEXPORT_SMTP_TLS 'tls' must be one of starttls, ssl, none"):
        load_settings({"EVENTEXPORT_SMTP_TLS": "tls"})
    with pytest.raises(ConfigError, match="EVENTEXPORT_SMTP_PORT"):
        load_settings({"EVENTEXPORT_SMTP_PORT": "smtp"})
    shown = load_settings({"EVENTEXPORT_SMTP_HOST": "mail.example", "EVENTEXPORT_SMTP_PASSWORD": "hunter2-hunter2"})
    assert shown.smtp_password == "hunter2-hunter2" and shown.redacted()["smtp_password"] == "***"
