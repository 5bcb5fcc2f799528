"""Habits a user brings from the stdlib (issue 14): errors that say what to do next, over real
peers (Dovecot's POP3 and POP3S, smtplib and poplib, the package's own servers on loopback),
and the ``email.message.EmailMessage`` way of reading headers, side by side with the stdlib
over the test corpus."""

from __future__ import annotations

import email
import email.policy
import os
import pathlib
import poplib
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from _dovecot import Dovecot, available

import mailprims as mp
from mailprims import tls

pytest_plugins = ["pytester"]

CORPUS = pathlib.Path(__file__).parent / "corpus"
HOST = "mail.example.org"
TIMEOUT = 60
USERS = {"habit": "habit-password"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MP_TEST_PASSWORD": "pw"}
    return subprocess.run(
        [sys.executable, "-m", "mailprims", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    return tls.write_self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not available():
        pytest.skip("Dovecot (Debian packages dovecot-core, dovecot-pop3d) is not installed")
    with Dovecot(USERS) as server:
        yield server


# ---- TLS failures say what to do next ------------------------------------------------------


def test_unknown_issuer_names_cafile_smtp(certificate: tuple[pathlib.Path, pathlib.Path]) -> None:
    cert, key = certificate
    with mp.SmtpServer(
        handler=mp.Sink(), hostname=HOST, tls_cert=str(cert), tls_key=str(key)
    ) as server:
        client = mp.SmtpClient("127.0.0.1", server.port, tls="starttls", timeout=10)
        with pytest.raises(mp.TlsError) as err:
            client.send(b"Subject: x\r\n\r\nx\r\n", sender="a@example.org", recipients=["b@x.org"])
        assert err.value.reason == "unknown_issuer"
        assert "cafile=" in str(err.value) and "self-signed" in str(err.value)
        # What the message says to do works.
        with mp.SmtpClient("127.0.0.1", server.port, tls="starttls", cafile=cert) as ok:
            ok.send(b"Subject: x\r\n\r\nx\r\n", sender="a@example.org", recipients=["b@x.org"])
        assert len(server.messages) == 1


def test_unknown_issuer_names_cafile_pop3s_dovecot(dovecot: Dovecot) -> None:
    client = mp.Pop3Client("127.0.0.1", dovecot.pop3s_port, tls="implicit", timeout=10)
    with pytest.raises(mp.TlsError) as err:
        client.connect()
    assert err.value.reason == "unknown_issuer", err.value
    assert "cafile=" in str(err.value)
    ok = mp.Pop3Client(
        "127.0.0.1", dovecot.pop3s_port, tls="implicit", cafile=dovecot.cert, timeout=10
    )
    with ok:
        ok.login("habit", USERS["habit"])
        assert ok.stat()[0] >= 0


def test_imap_shares_the_advice(
    tmp_path: pathlib.Path, certificate: tuple[pathlib.Path, pathlib.Path]
) -> None:
    cert, key = certificate
    store = mp.MaildirStore(tmp_path / "mail")
    users = mp.Users()
    with mp.ImapServer(
        store=store, users=users, hostname=HOST, tls_cert=cert, tls_key=key
    ) as server:
        with pytest.raises(mp.TlsError) as err:
            mp.ImapClient("127.0.0.1", server.port, tls="starttls", timeout=10).connect()
        assert err.value.reason == "unknown_issuer" and "cafile=" in str(err.value)
        with pytest.raises(mp.TlsError) as err:
            mp.ImapClient("127.0.0.1", server.port, tls="implicit", timeout=10).connect()
        assert err.value.reason == "not_tls" and "tls='starttls'" in str(err.value)
        with mp.ImapClient("127.0.0.1", server.port, tls="starttls", cafile=cert) as ok:
            assert ok.tls_version is not None


def test_implicit_tls_on_a_plain_port_says_starttls(dovecot: Dovecot) -> None:
    # Dovecot's POP3 port speaks plain text first ("+OK"), as a STARTTLS/STLS port does.
    client = mp.Pop3Client("127.0.0.1", dovecot.port, tls="implicit", timeout=10)
    with pytest.raises(mp.TlsError) as err:
        client.connect()
    assert err.value.reason == "not_tls", err.value
    assert "STARTTLS" in str(err.value) and "tls='starttls'" in str(err.value)


def test_implicit_tls_on_an_smtp_submission_port(
    certificate: tuple[pathlib.Path, pathlib.Path],
) -> None:
    cert, key = certificate
    with mp.SmtpServer(
        handler=mp.Sink(), hostname=HOST, tls_cert=str(cert), tls_key=str(key)
    ) as server:
        client = mp.SmtpClient("127.0.0.1", server.port, tls="implicit", cafile=cert, timeout=10)
        with pytest.raises(mp.TlsError) as err:
            client.send(b"Subject: x\r\n\r\nx\r\n", sender="a@example.org", recipients=["b@x.org"])
        assert err.value.reason == "not_tls"
        assert "tls='starttls'" in str(err.value)


def test_auth_before_starttls_says_auth_comes_after(
    certificate: tuple[pathlib.Path, pathlib.Path],
) -> None:
    cert, key = certificate
    # As Postfix with smtpd_tls_auth_only: AUTH is offered only after STARTTLS.
    with mp.SmtpServer(
        handler=mp.Sink(),
        hostname=HOST,
        tls_cert=str(cert),
        tls_key=str(key),
        authenticator=lambda user, password: password == "pw",
    ) as server:
        client = mp.SmtpClient(
            "127.0.0.1",
            server.port,
            tls="none",
            allow_insecure_auth=True,
            username="alice",
            password="pw",
            timeout=10,
        )
        with pytest.raises(mp.SmtpNotSupportedError) as err:
            client.send(b"Subject: x\r\n\r\nx\r\n", sender="a@example.org", recipients=["b@x.org"])
        assert "AUTH comes after STARTTLS" in str(err.value)
        # The advice works.
        with mp.SmtpClient(
            "127.0.0.1",
            server.port,
            tls="starttls",
            cafile=cert,
            username="alice",
            password="pw",
            timeout=10,
        ) as ok:
            ok.send(b"Subject: x\r\n\r\nx\r\n", sender="a@example.org", recipients=["b@x.org"])


def test_cli_names_flags_not_keywords(certificate: tuple[pathlib.Path, pathlib.Path]) -> None:
    cert, key = certificate
    with mp.SmtpServer(
        handler=mp.Sink(),
        hostname=HOST,
        tls_cert=str(cert),
        tls_key=str(key),
        authenticator=lambda user, password: password == "pw",
    ) as server:
        where = f"127.0.0.1:{server.port}"
        common = ["send", "--server", where, "--from", "a@example.org", "--to", "b@x.org"]
        p = cli(*common, "--body", "hi", "--tls", "starttls")
        assert p.returncode == 1
        assert "--cafile FILE" in p.stderr and "--no-verify" in p.stderr, p.stderr
        assert "cafile=" not in p.stderr and "verify=False" not in p.stderr
        p = cli(*common, "--body", "hi", "--tls", "implicit")
        assert p.returncode == 1
        assert "--tls starttls" in p.stderr and "tls=" not in p.stderr, p.stderr
        login = ["--user", "alice", "--password-env", "MP_TEST_PASSWORD"]
        p = cli(*common, "--body", "hi", "--tls", "none", "--allow-insecure-auth", *login)
        assert p.returncode == 1
        assert "AUTH comes after STARTTLS" in p.stderr and "--tls starttls" in p.stderr
        assert "tls=" not in p.stderr, p.stderr
        # The CLI's way to trust a self-signed certificate.
        p = cli(*common, "--body", "hi", "--tls", "starttls", "--cafile", str(cert), *login)
        assert (p.returncode, p.stderr) == (0, ""), p.stderr
        assert len(server.messages) == 1


# ---- Message.parse given a path --------------------------------------------------------------


def test_parse_given_a_path_points_to_parse_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "hello.eml"
    path.write_bytes(b"Subject: hello\r\n\r\nbody\r\n")
    for arg in (path, str(path)):
        with pytest.raises(TypeError, match=r"Message\.parse_file"):
            mp.Message.parse(arg)  # type: ignore[arg-type]
    assert mp.Message.parse_file(path).subject == "hello"
    # Content stays content: a one-line message, a name of no file, text with a newline.
    assert mp.Message.parse("Subject: one line").subject == "one line"
    assert mp.Message.parse(str(tmp_path / "missing.eml")).text == str(tmp_path / "missing.eml")
    assert mp.Message.parse(f"Subject: s\n\n{path}\n").subject == "s"


def test_cli_parse_warns_about_a_file_without_header(tmp_path: pathlib.Path) -> None:
    plain = tmp_path / "notes.txt"
    plain.write_text("just some notes\nand more\n")
    p = cli("parse", str(plain))
    assert p.returncode == 0
    assert "warning" in p.stderr and "no header fields" in p.stderr, p.stderr
    p = cli("parse", str(CORPUS / "seed" / "received-trace.eml"))
    assert (p.returncode, p.stderr) == (0, "")


# ---- EmailMessage habits, side by side with the stdlib ---------------------------------------


def corpus_files() -> list[pathlib.Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".eml", ".msg"))
    assert len(files) > 20
    return files


STRUCTURED = {
    "bcc",
    "cc",
    "content-disposition",
    "content-transfer-encoding",
    "content-type",
    "date",
    "from",
    "in-reply-to",
    "message-id",
    "mime-version",
    "references",
    "reply-to",
    "resent-date",
    "resent-from",
    "resent-to",
    "sender",
    "to",
}


def _stdlib_value(value: object) -> str:
    return str(value)


def test_mapping_access_matches_email_message() -> None:
    compared = differing = 0
    for path in corpus_files():
        data = path.read_bytes()
        ours = mp.Message.parse(data)
        theirs = email.message_from_bytes(data, policy=email.policy.default)
        if theirs.defects:
            continue  # where the stdlib misreads (obsolete syntax...): test_message_stdlib.py
        names = list(theirs.keys())
        assert [n.lower() for n in ours.keys()] == [n.lower() for n in names], path
        for name in {n.lower() for n in names}:
            assert name in ours and name.upper() in ours, (path, name)
            try:
                expected_all = [_stdlib_value(v) for v in theirs.get_all(name)]
                expected = _stdlib_value(theirs[name])
            except Exception:
                continue
            got_all = ours.get_all(name)
            assert got_all is not None and len(got_all) == len(expected_all), (path, name)
            assert ours[name] == ours.get(name) == got_all[0]
            compared += 1
            # Unstructured fields decode alike. Structured ones the stdlib re-renders
            # (quotes parameters, drops Date comments, re-quotes display names); ours are
            # the field as written, decoded.
            if ours[name] != expected:
                differing += 1
                assert name in STRUCTURED, (path, name, ours[name], expected)
        for missing in ("X-Not-There", "x-not-there"):
            assert ours[missing] is None and theirs[missing] is None
            assert ours.get_all(missing) is None and theirs.get_all(missing) is None
            assert ours.get(missing, "d") == theirs.get(missing, "d") == "d"
            assert (missing in ours) is (missing in theirs) is False
    assert compared > 100
    assert differing < compared / 4, (differing, compared)


def test_str_and_as_string_read_back_as_the_stdlib_reads_the_bytes() -> None:
    for path in corpus_files():
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # str(msg) replaces invalid bytes; the stdlib keeps them as surrogates
        ours = mp.Message.parse(data)
        text = str(ours)
        assert text == ours.as_string() and "\r\n" not in text
        theirs = email.message_from_bytes(data, policy=email.policy.default)
        again = email.message_from_string(text, policy=email.policy.default)
        assert list(again.keys()) == list(theirs.keys()), path
        assert mp.Message.parse(text) == mp.Message.parse(data.replace(b"\r\n", b"\n"))


def test_stdlib_code_ports_by_changing_the_parse_call() -> None:
    data = (CORPUS / "seed" / "received-trace.eml").read_bytes()

    def summary(msg: object) -> tuple[object, ...]:
        m: object = msg
        return (
            m["subject"],  # type: ignore[index]
            m["From"],  # type: ignore[index]
            len(m.get_all("Received", [])),  # type: ignore[attr-defined]
            "Date" in m,  # type: ignore[operator]
            m.get("X-Nope"),  # type: ignore[attr-defined]
        )

    theirs = summary(email.message_from_bytes(data, policy=email.policy.default))
    ours = summary(mp.Message.parse(data))
    # The stdlib's values are str subclasses (header objects); ours are plain str.
    assert tuple(str(v) if isinstance(v, str) else v for v in theirs) == ours


def test_construction_and_assignment_point_to_build_and_edit() -> None:
    with pytest.raises(TypeError, match=r"Message\.build"):
        mp.Message()
    msg = mp.Message.parse(b"Subject: hi\r\n\r\nbody\r\n")
    with pytest.raises(AttributeError, match=r"msg\.edit\(\)"):
        msg.subject = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError, match=r"msg\.edit\(\)"):
        msg.anything = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"msg\.edit\(\)"):
        msg["Subject"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError, match=r"msg\.edit\(\)"):
        del msg["Subject"]  # type: ignore[attr-defined]
    # The way the errors point to works.
    edited = msg.edit().set_header("Subject", "changed").build()
    assert edited["Subject"] == "changed" and msg["Subject"] == "hi"


# ---- SmtpServer without handler or store ----------------------------------------------------


def test_smtp_server_without_handler_or_store_refuses_to_start() -> None:
    with pytest.raises(mp.ConfigError, match=r"handler=Sink\(\)") as err:
        mp.SmtpServer(hostname=HOST)
    assert "store=" in str(err.value)


# ---- POP3 before login -----------------------------------------------------------------------


def test_pop3_client_command_before_login(dovecot: Dovecot) -> None:
    never = mp.Pop3Client("127.0.0.1", dovecot.port, tls="none", timeout=10)
    with pytest.raises(mp.MailError, match="not logged in"):
        never.stat()
    with mp.Pop3Client("127.0.0.1", dovecot.port, tls="none", timeout=10) as client:
        with pytest.raises(mp.Pop3Error, match="not logged in") as err:
            client.stat()
        assert err.value.text  # Dovecot's own words are kept


def test_pop3_client_before_login_against_our_server(tmp_path: pathlib.Path) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    users = mp.Users()
    users.add("bob", "bob-password")
    with mp.Pop3Server(store=store, users=users, hostname=HOST, allow_insecure_auth=True) as server:
        with mp.Pop3Client("127.0.0.1", server.port, tls="none", timeout=10) as client:
            with pytest.raises(mp.Pop3Error, match="not logged in") as err:
                client.list()
            assert err.value.text is not None and "Not logged in" in err.value.text
        # The stdlib client sees the server's reply.
        pop = poplib.POP3("127.0.0.1", server.port, timeout=10)
        try:
            with pytest.raises(poplib.error_proto, match="Not logged in: STAT"):
                pop.stat()
            pop.user("bob")
            pop.pass_("bob-password")
            assert pop.stat() == (0, 0)
        finally:
            pop.quit()


# ---- small things ----------------------------------------------------------------------------


def test_build_text_ends_with_a_line_break() -> None:
    msg = mp.Message.build(from_="a@example.org", to="b@example.org", text="hi", html="<p>hi</p>")
    assert msg.text == "hi\r\n" and msg.html == "<p>hi</p>\r\n"
    stdlib = email.message.EmailMessage()
    stdlib.set_content("hi")
    assert stdlib.get_content() == "hi\n"
    assert mp.Message.build(from_="a@example.org", text="two\nlines\n").text == "two\r\nlines\r\n"
    edited = mp.Message.parse(b"Subject: x\r\n\r\nold\r\n").edit().set_text("new").build()
    assert edited.text == "new\r\n"


def test_trace_html_shows_its_summary_once() -> None:
    msg = mp.Message.parse_file(CORPUS / "seed" / "received-trace.eml")
    summary = msg.trace().summary()
    html = msg._repr_html_()
    from html import escape

    assert html.count(escape(summary)) == 1
    assert msg.trace()._repr_html_().count(escape(summary)) == 1


def test_cli_flags_have_help() -> None:
    p = cli("send", "--help")
    assert p.returncode == 0
    options = p.stdout[p.stdout.index("options:") :]
    for flag, words in (
        ("--from ADDRESS", "sender"),
        ("--to ADDRESS", "recipient"),
        ("--timeout SECONDS", "give up"),
    ):
        at = options.index(flag)
        assert words in " ".join(options[at : at + 200].split()), p.stdout
    p = cli("fetch", "--help")
    assert "give up" in p.stdout


@pytest.mark.parametrize("lines", [1, 3])
def test_parse_into_head_ends_quietly(tmp_path: pathlib.Path, lines: int) -> None:
    box = tmp_path / "big.mbox"
    one = b"From a@example.org Mon Mar  8 19:55:06 2010\nSubject: s\n\nbody\n\n"
    box.write_bytes(one * 20000)
    for target in (box, CORPUS / "seed" / "received-trace.eml"):
        p = subprocess.run(
            [
                "bash",
                "-c",
                f'"$0" -m mailprims parse "$1" | head -n {lines}; '
                'echo "status=${PIPESTATUS[0]}" >&2',
                sys.executable,
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert len(p.stdout.splitlines()) == lines
        assert "Traceback" not in p.stderr and "Exception" not in p.stderr, p.stderr
        assert p.stderr.strip() in ("status=0", "status=141"), p.stderr


# ---- the pytest plugin -----------------------------------------------------------------------


def test_smtp_server_fixture_failure_shows_what_was_received(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(
        test_app=textwrap.dedent(
            """
            import smtplib

            def test_sends_two(smtp_server):
                assert "127.0.0.1:" in repr(smtp_server) and "messages=0" in repr(smtp_server)
                with smtplib.SMTP(*smtp_server.address) as client:
                    client.sendmail(
                        "app@example.org", ["bob@example.org"],
                        b"Subject: Welcome aboard\\r\\n\\r\\nhi\\r\\n",
                    )
                assert "messages=1" in repr(smtp_server)
                assert len(smtp_server.messages) == 2

            def test_nothing_sent(smtp_server):
                assert smtp_server.messages
            """
        )
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "mail_from='app@example.org'" in out
    assert "rcpt_tos=['bob@example.org']" in out
    assert "subject='Welcome aboard'" in out
    assert "no message received" in out
