"""The pytest plugin (entry point ``pytest11``): its fixtures, run by pytester in a test file
of the kind an application's test suite has, talking to them with the stdlib's smtplib and
poplib (real clients nobody here wrote)."""

from __future__ import annotations

import importlib.metadata
import re
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

INI = """\
[pytest]
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""

APPLICATION_TESTS = """
import imaplib
import poplib
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage

import pytest


def message(to="bob@example.org", subject="Welcome!"):
    msg = EmailMessage()
    msg["From"] = "app@example.org"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Thanks for signing up.")
    return msg


def test_smtp_server_keeps_what_it_receives(smtp_server):
    with smtplib.SMTP(*smtp_server.address) as client:
        client.send_message(message())
    (envelope,) = smtp_server.messages
    assert envelope.mail_from == "app@example.org"
    assert envelope.rcpt_tos == ["bob@example.org"]
    assert envelope.message.subject == "Welcome!"
    assert smtp_server.cafile is None


@pytest.mark.smtp_server(tls=True, auth={"app": "s3cret"})
def test_smtp_server_with_starttls_and_auth(smtp_server):
    context = ssl.create_default_context(cafile=str(smtp_server.cafile))
    with smtplib.SMTP(*smtp_server.address) as client:
        client.starttls(context=context)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("app", "wrong")
        client.login("app", "s3cret")
        client.send_message(message(subject="over TLS"))
    (envelope,) = smtp_server.messages
    assert envelope.session.tls is not None and envelope.session.auth_user == "app"


@pytest.mark.smtp_server(max_message_size=1000)
def test_other_marker_options_reach_the_server(smtp_server):
    with smtplib.SMTP(*smtp_server.address) as client:
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail("a@example.org", ["b@example.org"], b"x" * 2000)


PORTS = []


def test_a_server_per_test_part_one(smtp_server, mail_system):
    PORTS.extend(
        [smtp_server.port, mail_system.smtp_port, mail_system.pop3_port, mail_system.imap_port]
    )


def test_a_server_per_test_part_two():
    # the previous test's servers were stopped when it ended
    for port in PORTS:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)


def test_mail_system_round_trip(mail_system):
    with smtplib.SMTP(mail_system.host, mail_system.smtp_port) as client:
        client.send_message(message())
    assert [m.subject for m in mail_system.messages("bob")] == ["Welcome!"]
    pop = poplib.POP3(mail_system.host, mail_system.pop3_port, timeout=10)
    pop.user("bob")
    pop.pass_(mail_system.passwords["bob"])
    assert pop.stat()[0] == 1
    lines = pop.retr(1)[1]
    assert b"Subject: Welcome!" in lines
    pop.dele(1)
    pop.quit()
    assert mail_system.messages("bob") == []
    kinds = [(e.kind, e.user) for e in mail_system.events]
    assert kinds == [("delivered", None), ("login", "bob"), ("retrieved", "bob"),
                     ("deleted", "bob")]


def test_mail_system_imap_sees_what_smtp_delivers(mail_system):
    imap = imaplib.IMAP4(mail_system.host, mail_system.imap_port, timeout=10)
    imap.login("bob", mail_system.passwords["bob"])
    assert imap.select("INBOX") == ("OK", [b"0"])
    with smtplib.SMTP(mail_system.host, mail_system.smtp_port) as client:
        client.send_message(message())
    imap.noop()
    # imaplib keeps every EXISTS since SELECT (its 0 first).
    assert imap.untagged_responses["EXISTS"][-1] == b"1"
    typ, data = imap.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    assert data[0][1] == b"Subject: Welcome!\\r\\n\\r\\n"
    imap.store("1", "+FLAGS", "(\\\\Deleted)")
    imap.expunge()
    imap.logout()
    assert mail_system.messages("bob") == []
    kinds = [(e.kind, e.user) for e in mail_system.events]
    assert kinds == [("login", "bob"), ("delivered", None), ("deleted", "bob")]


def test_mail_system_refuses_unknown_users(mail_system):
    with smtplib.SMTP(mail_system.host, mail_system.smtp_port) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.send_message(message(to="nobody@example.org"))


@pytest.mark.mail_system(users={"carol": "pw"}, tls=True)
def test_mail_system_marker_users_and_tls(mail_system):
    context = ssl.create_default_context(cafile=str(mail_system.cafile))
    with smtplib.SMTP(mail_system.host, mail_system.smtp_port) as client:
        client.starttls(context=context)
        client.login("carol", "pw")
        client.send_message(message(to="carol@example.org"))
    pop = poplib.POP3(mail_system.host, mail_system.pop3_port, timeout=10)
    pop.stls(context=context)
    pop.user("carol")
    pop.pass_("pw")
    assert pop.stat()[0] == 1
    pop.quit()
    imap = imaplib.IMAP4(mail_system.host, mail_system.imap_port, timeout=10)
    imap.starttls(ssl_context=context)
    imap.login("carol", "pw")
    assert imap.select("INBOX", readonly=True) == ("OK", [b"1"])
    imap.logout()
    assert sorted(mail_system.passwords) == ["carol"]


def test_wait_for_messages_sent_in_the_background(mail_system):
    def send_later():
        with smtplib.SMTP(mail_system.host, mail_system.smtp_port) as client:
            client.send_message(message(to="alice@example.org", subject="later"))

    thread = threading.Thread(target=send_later)
    thread.start()
    (msg,) = mail_system.wait_for_messages("alice", timeout=10)
    thread.join()
    assert msg.subject == "later"
    with pytest.raises(TimeoutError):
        mail_system.wait_for_messages("bob", timeout=0.1)


def test_the_helpers_clients(mail_system):
    with mail_system.smtp_client() as client:
        client.send(message().as_bytes())
    with mail_system.pop3_client() as pop:
        pop.login("bob", mail_system.passwords["bob"])
        assert pop.retr(1).subject == "Welcome!"
"""


def test_the_entry_point_is_declared() -> None:
    # pip install mailprims is all it takes (pyproject.toml [project.entry-points.pytest11])
    points = importlib.metadata.entry_points(group="pytest11")
    assert {p.name: p.value for p in points}.get("mailprims") == "mailprims.pytest_plugin"


def test_fixtures_in_an_application_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_app=APPLICATION_TESTS)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=11)


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.smtp_server(*", "@pytest.mark.mail_system(*"])


def test_marker_misuse_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_bad=textwrap.dedent(
            """
            import pytest

            @pytest.mark.mail_system({"alice": "pw"})
            def test_positional(mail_system):
                pass
            """
        )
    )
    result = pytester.runpytest_subprocess("-q")
    result.stdout.fnmatch_lines(["*takes keyword arguments only*"])
    assert result.ret != 0


def test_the_docs_example(pytester: pytest.Pytester) -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "guide" / "pytest-plugin.md"
    match = re.search(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
    assert match, "the plugin's guide page has no example"
    pytester.makeini(INI)
    pytester.makepyfile(test_readme=match[1])
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)
