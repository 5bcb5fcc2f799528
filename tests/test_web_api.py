"""The web inbox's JSON API over real HTTP (``http.client`` and :class:`WebInboxClient`),
with mail sent by the standard library's smtplib to a mailprims SmtpServer over the same
store, and Maildir changes made by another writer (the standard library's ``mailbox``)."""

from __future__ import annotations

import http.client
import json
import mailbox
import os
import smtplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import mailprims as mp

PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw"}


class System:
    def __init__(self, root: Path, *, users: bool = False) -> None:
        self.store = mp.MaildirStore(root / "mail")
        self.users = mp.Users()
        for name, password in PASSWORDS.items():
            self.users.add(name, password)
            self.store.mailbox(name)
        self.smtp = mp.SmtpServer(store=self.store, users=self.users, shutdown_grace=2.0)
        self.web = mp.WebInbox(
            self.store, users=self.users if users else None, auth_failure_delay=0.05
        )

    def __enter__(self) -> System:
        self.smtp.start()
        self.web.start()
        assert self.web.wait_ready(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.web.stop()
        self.smtp.stop()

    def send(self, msg: EmailMessage) -> None:
        with smtplib.SMTP("127.0.0.1", self.smtp.port) as s:
            s.send_message(msg)


def email(
    subject: str,
    *,
    to: str = "bob@example.org",
    sender: str = "Alice <alice@example.org>",
    body: str = "hello\n",
    attachment: bytes | None = None,
    date: str | None = None,
) -> EmailMessage:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    if date:
        m["Date"] = date
    m.set_content(body)
    if attachment is not None:
        m.add_attachment(
            attachment, maintype="application", subtype="octet-stream", filename="data.bin"
        )
    return m


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    with System(tmp_path) as s:
        yield s


def request(
    inbox: mp.WebInbox,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", inbox.port, timeout=30)
    try:
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        conn.request(method, path, body=data, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_a_message_sent_over_smtp_is_listed_at_once(system: System) -> None:
    client = system.web.client()
    system.send(email("Quarterly report", body="Numbers inside.\n"))
    # Listed before the SMTP reply: no waiting.
    page = client.messages()
    assert page.total == 1
    m = page.messages[0]
    assert (m.mailbox, m.subject, m.from_, m.to) == (
        "bob",
        "Quarterly report",
        "Alice <alice@example.org>",
        "bob@example.org",
    )
    assert not m.seen and m.flags == "" and not m.has_attachments
    assert m.snippet == "Numbers inside."
    assert m.key in system.store.mailbox("bob")
    detail = client.get(m.id)
    assert detail["text"].replace("\r\n", "\n") == "Numbers inside.\n"
    assert ["Subject", "Quarterly report"] in detail["headers"]
    hops = detail["trace"]["hops"]
    assert len(hops) == 1 and hops[0]["from_ip"] == "127.0.0.1"
    assert client.raw(m.id) == system.store.mailbox("bob").get_bytes(m.key)
    assert client.message(m.id).subject == "Quarterly report"
    assert client.mailboxes() == {"alice": (0, 0), "bob": (1, 1)}


def test_search_narrows(system: System) -> None:
    system.send(email("Invoice 42", to="alice@example.org", date="Mon, 5 Jan 2026 10:00:00 +0000"))
    system.send(email("Lunch", body="pizza at noon\n", date="Fri, 6 Feb 2026 10:00:00 +0000"))
    system.send(
        email(
            "Photos",
            sender="carol@example.net",
            attachment=b"\x00\x01",
            date="Sun, 1 Mar 2026 10:00:00 +0000",
        )
    )
    client = system.web.client()

    def subjects(q: str, **kw: Any) -> list[str]:
        return sorted(m.subject for m in client.search(q, **kw))

    assert subjects("") == ["Invoice 42", "Lunch", "Photos"]
    assert subjects("to:alice") == ["Invoice 42"]
    assert subjects("from:carol") == ["Photos"]
    assert subjects("has:attachment") == ["Photos"]
    assert subjects("PIZZA") == ["Lunch"]
    assert subjects("text:noon") == ["Lunch"]
    assert subjects('subject:"invoice 42"') == ["Invoice 42"]
    assert subjects("after:2026-02-01 before:2026-03-01") == ["Lunch"]
    assert subjects("", mailbox="bob") == ["Lunch", "Photos"]
    assert subjects("is:unread from:alice") == ["Invoice 42", "Lunch"]
    assert client.messages("from:alice").total == 2
    with pytest.raises(mp.WebInboxError) as e:
        client.search("after:someday")
    assert e.value.status == 400


def test_paging(system: System) -> None:
    for i in range(7):
        system.send(email(f"m{i}"))
    client = system.web.client()
    first = client.messages(limit=3)
    assert [m.subject for m in first.messages] == ["m6", "m5", "m4"]
    assert first.total == 7
    last = client.messages(limit=3, offset=6)
    assert [m.subject for m in last.messages] == ["m0"]
    older = client.messages(limit=3, before=first.messages[-1].seq)
    assert [m.subject for m in older.messages] == ["m3", "m2", "m1"]


def test_attachment_downloads_byte_identical_and_inert(system: System) -> None:
    payload = bytes(range(256)) * 300 + b"<script>alert(1)</script>"
    system.send(email("With file", attachment=payload))
    client = system.web.client()
    m = client.wait("has:attachment", timeout=10)
    detail = client.get(m.id)
    (att,) = detail["attachments"]
    assert att["filename"] == "data.bin" and att["size"] == len(payload)
    assert client.part(m.id, att["part"]) == payload
    status, headers, _ = request(
        system.web, "GET", f"/api/v1/messages/bob/{m.key}/parts/{att['part']}"
    )
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"].startswith('attachment; filename="data.bin"')
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"]


def test_mark_read_and_delete_act_on_the_maildir_as_imap_reads_it(system: System) -> None:
    system.send(email("Flag me"))
    client = system.web.client()
    m = client.messages().messages[0]
    path = Path(system.store.root) / "bob"
    assert [p.name for p in (path / "new").iterdir()] == [m.key]
    updated = client.mark_read(m.id)
    assert updated.seen and updated.flags == "S"
    # Where Dovecot and the stdlib look: cur/<key>:2,S.
    assert [p.name for p in (path / "cur").iterdir()] == [f"{m.key}:2,S"]
    stdlib = mailbox.Maildir(path, create=False)
    assert stdlib[m.key].get_flags() == "S" and stdlib[m.key].get_subdir() == "cur"
    assert client.mark_read(m.id, False).flags == ""
    assert stdlib[m.key].get_flags() == ""
    client.delete(m.id)
    assert m.key not in system.store.mailbox("bob")
    assert client.messages().total == 0
    with pytest.raises(mp.MessageNotFoundError):
        client.get(m.id)


def test_changes_by_another_process_reach_the_index(system: System) -> None:
    client = system.web.client()
    cursor = client.cursor()
    stdlib = mailbox.Maildir(Path(system.store.root) / "alice", create=False)
    key = stdlib.add(email("From the stdlib"))
    found = client.wait("subject:stdlib", after=cursor, timeout=10)
    assert found.key == key and found.mailbox == "alice"
    # A flag change as Dovecot (and mutt) make it: one rename into cur/ with the info.
    root = Path(system.store.root) / "alice"
    os.rename(root / "new" / key, root / "cur" / f"{key}:2,FS")
    deadline = time.monotonic() + 10
    while not client.search("is:flagged"):
        assert time.monotonic() < deadline, "the flag change never reached the index"
        time.sleep(0.02)
    assert client.search("is:flagged")[0].seq == found.seq
    stdlib.remove(key)
    while client.messages().total:
        assert time.monotonic() < deadline, "the deletion never reached the index"
        time.sleep(0.02)


def test_a_new_user_maildir_is_picked_up(system: System) -> None:
    client = system.web.client()
    mailbox.Maildir(Path(system.store.root) / "carol", create=True).add(email("Hi carol"))
    assert client.wait("subject:carol", timeout=10).mailbox == "carol"
    assert "carol" in client.mailboxes()


def test_wait_never_races(system: System) -> None:
    client = system.web.client()
    cursor = client.cursor()
    # Sent before the wait starts: still found.
    system.send(email("early bird"))
    assert client.wait("early", after=cursor, timeout=10).subject == "early bird"
    # Sent while it waits.
    threading.Timer(0.2, lambda: system.send(email("late comer"))).start()
    late = client.wait("subject:late", after=cursor, timeout=10)
    assert late.subject == "late comer"
    # Nothing newer than the last one: a timeout, as TimeoutError.
    with pytest.raises(TimeoutError):
        client.wait("subject:late", after=late.seq, timeout=0.3)
    status, _, body = request(system.web, "GET", "/api/v1/wait?q=nothing&after=0&timeout=0.1")
    assert status == 200 and json.loads(body)["message"] is None


def test_live_updates_as_server_sent_events(system: System) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", system.web.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/events")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
        system.send(email("Live one"))
        lines = []
        while not any(line.startswith(b"data:") for line in lines):
            lines.append(r.fp.readline().strip())
        assert b"event: added" in lines
        data = json.loads(next(line for line in lines if line.startswith(b"data:"))[5:])
        assert data["subject"] == "Live one" and data["mailbox"] == "bob"
    finally:
        conn.close()


def test_state_changes_need_the_csrf_token_and_the_same_origin(system: System) -> None:
    system.send(email("Keep me"))
    m = system.web.client().messages().messages[0]
    token = system.web.client().session()["csrf_token"]
    path = f"/api/v1/messages/bob/{m.key}"
    host = f"127.0.0.1:{system.web.port}"
    json_type = {"Content-Type": "application/json"}
    assert request(system.web, "DELETE", path)[0] == 403
    assert request(system.web, "DELETE", path, {"X-CSRF-Token": "0" * 64})[0] == 403
    evil = {"X-CSRF-Token": token, "Origin": "http://evil.example", "Host": host}
    assert request(system.web, "DELETE", path, evil)[0] == 403
    cross = {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site", **json_type}
    assert request(system.web, "POST", f"{path}/flags", cross, {"seen": True})[0] == 403
    assert m.key in system.store.mailbox("bob")
    ok = {"X-CSRF-Token": token, "Origin": f"http://{host}", **json_type}
    assert request(system.web, "POST", f"{path}/flags", ok, {"seen": True})[0] == 200
    assert request(system.web, "DELETE", path, ok)[0] == 200
    assert m.key not in system.store.mailbox("bob")


def test_dns_rebinding_is_refused(system: System) -> None:
    status, _, _ = request(system.web, "GET", "/api/v1/messages", {"Host": "evil.example"})
    assert status == 421
    assert request(system.web, "GET", "/api/v1/messages", {"Host": "localhost"})[0] == 200


def test_pages_and_their_security_headers(system: System) -> None:
    status, headers, body = request(system.web, "GET", "/")
    assert status == 200 and b"/assets/app.js" in body
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    for asset in ("/assets/app.js", "/assets/app.css", "/assets/login.js", "/login"):
        assert request(system.web, "GET", asset)[0] == 200
    assert request(system.web, "GET", "/nope")[0] == 404


def test_html_preview_is_sanitised_and_locked_down(system: System) -> None:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "x@example.org", "bob@example.org", "hostile"
    m.set_content("plain")
    m.add_alternative(
        "<p onclick='steal()'>Hi</p><script>document.title='pwned'</script>"
        "<img src='https://tracker.example/p.gif' onerror='alert(1)'>",
        subtype="html",
    )
    system.send(m)
    found = system.web.client().wait("hostile", timeout=10)
    status, headers, body = request(system.web, "GET", f"/api/v1/messages/bob/{found.key}/html")
    assert status == 200
    for bad in (b"<script", b"onclick", b"onerror", b"pwned"):
        assert bad not in body
    assert b"https://tracker.example/p.gif" in body  # kept, but the policy blocks it
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "img-src data:;" in csp and "sandbox" in csp
    assert "script-src" not in csp
    _, remote, _ = request(system.web, "GET", f"/api/v1/messages/bob/{found.key}/html?remote=1")
    assert "img-src data: http: https:" in remote["content-security-policy"]


def test_trace_delays_match_mailprims_trace(system: System) -> None:
    raw = (
        b"Received: from mx.example (mx.example [192.0.2.9]) by in.example with ESMTPS id B;\r\n"
        b" Thu, 1 Jan 2026 10:02:05 +0000\r\n"
        b"Received: from client.example by mx.example with ESMTP id A;\r\n"
        b" Thu, 1 Jan 2026 11:00:00 +0100\r\n"
        b"Authentication-Results: in.example; dkim=pass header.d=example.org;\r\n"
        b" spf=fail smtp.mailfrom=x.example\r\n"
        b"From: a@example.org\r\nTo: bob@example.org\r\nSubject: traced\r\n"
        b"Date: Thu, 1 Jan 2026 09:59:00 +0000\r\n\r\nbody\r\n"
    )
    system.store.deliver(raw, ["bob"])
    client = system.web.client()
    found = client.wait("traced", timeout=10)
    detail = client.get(found.id)
    ours = detail["trace"]["hops"]
    theirs = mp.Message.parse(raw).trace().to_dicts()
    assert [h["delay_seconds"] for h in ours] == [h["delay_seconds"] for h in theirs]
    assert [(h["from"], h["by"], h["tls"]) for h in ours] == [
        (h["from"], h["by"], bool(h["tls"])) for h in theirs
    ]
    assert detail["trace"]["transit_seconds"] == 125
    results = detail["authentication_results"][0]["results"]
    assert [(r["method"], r["result"]) for r in results] == [("dkim", "pass"), ("spf", "fail")]


def test_request_size_is_capped(system: System) -> None:
    token = system.web.client().session()["csrf_token"]
    headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
    status, _, _ = request(
        system.web, "POST", "/api/v1/messages/bob/x/flags", headers, b"{" + b" " * 100_000 + b"}"
    )
    assert status == 413


def test_connections_are_capped(tmp_path: Path) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    with mp.WebInbox(store, max_connections=1) as web:
        first = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        first.request("GET", "/api/v1/session")
        assert first.getresponse().read()
        second = http.client.HTTPConnection("127.0.0.1", web.port, timeout=0.5)
        second.request("GET", "/api/v1/session")
        with pytest.raises(TimeoutError):
            second.getresponse()  # waits in the backlog while the first holds the slot
        second.close()
        first.close()
        third = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        third.request("GET", "/api/v1/session")
        assert third.getresponse().status == 200
        third.close()


def test_login_is_required_with_users(tmp_path: Path) -> None:
    with System(tmp_path, users=True) as system:
        system.send(email("For bob"))
        system.send(email("For alice", to="alice@example.org"))
        assert request(system.web, "GET", "/api/v1/messages")[0] == 401
        status, headers, _ = request(system.web, "GET", "/")
        assert status == 303 and headers["location"] == "/login"
        with pytest.raises(mp.WebInboxError) as e:
            system.web.client(user="bob", password="wrong")
        assert e.value.status == 401
        with pytest.raises(mp.WebInboxError):
            system.web.client(user="mallory", password="x")
        bob = system.web.client(user="bob", password=PASSWORDS["bob"])
        assert [m.subject for m in bob.messages().messages] == ["For bob"]
        assert list(bob.mailboxes()) == ["bob"]
        alice_msg = (
            system.web.client(user="alice", password=PASSWORDS["alice"]).messages().messages[0]
        )
        with pytest.raises(mp.MessageNotFoundError):
            bob.get(alice_msg.id)
        with pytest.raises(mp.MessageNotFoundError):
            bob.messages(mailbox="alice")
        # A login from another site's form is refused.
        status, _, _ = request(
            system.web,
            "POST",
            "/api/v1/login",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"user=bob&password=bob-pw",
        )
        assert status == 403
        bob.logout()
        with pytest.raises(mp.WebInboxError) as e:
            bob.messages()
        assert e.value.status == 401


def test_lifecycle(tmp_path: Path) -> None:
    web = mp.WebInbox(mp.MaildirStore(tmp_path / "mail"))
    assert "not started" in repr(web)
    with pytest.raises(RuntimeError):
        _ = web.port
    web.start()
    assert web.url == f"http://127.0.0.1:{web.port}"
    assert repr(web) == f"<WebInbox 127.0.0.1:{web.port}>"
    web.stop()
    with pytest.raises(RuntimeError):
        web.start()
    with pytest.raises(TypeError):
        mp.WebInbox("not a store")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mp.WebInbox(mp.MaildirStore(tmp_path / "mail"), max_connections=0)


def test_serve_waits_in_asyncio(tmp_path: Path) -> None:
    import asyncio

    async def main() -> int:
        web = mp.WebInbox(mp.MaildirStore(tmp_path / "mail"))
        task = asyncio.create_task(web.serve())
        await asyncio.sleep(0.1)
        client = web.client()
        status = await asyncio.to_thread(lambda: client.session()["ready"])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return int(status)

    assert asyncio.run(main()) in (0, 1)


def test_mail_system_fixture_waits_for_a_message(mail_system: Any) -> None:
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", mail_system.smtp_port) as s:
            s.send_message(email("Welcome aboard"))

    threading.Timer(0.1, send).start()
    found = mail_system.wait_for_message("to:bob subject:welcome", timeout=10)
    assert found.mailbox == "bob"
    assert mail_system.web_client().message(found.id).subject == "Welcome aboard"
    with pytest.raises(TimeoutError):
        mail_system.wait_for_message("subject:welcome", timeout=0.2, after=found.seq)


def test_cli_serve_with_web(tmp_path: Path) -> None:
    from test_cli_servers import PASSWORDS as CLI_PASSWORDS
    from test_cli_servers import make_users, serving

    users = tmp_path / "users"
    make_users(users)
    with serving("--maildir", str(tmp_path / "mail"), "--users", str(users), "--web", "0") as s:
        line = s.wait_for("web inbox on")
        url = line.split("web inbox on ", 1)[1].split()[0]
        with smtplib.SMTP("127.0.0.1", s.smtp_port) as smtp:
            smtp.send_message(email("Via the CLI"))
        client = mp.WebInboxClient(url, user="bob", password=CLI_PASSWORDS["bob"])
        assert client.wait("via", timeout=10).subject == "Via the CLI"
        assert s.stop() == 0
