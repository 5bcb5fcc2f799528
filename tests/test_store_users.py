"""mailprims.Users (accounts, Argon2id hashes, APOP secrets, aliases, domains, the users file)
and mailprims.MaildirStore (one Maildir per user, path-traversal refusal, multi-user delivery)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import mailprims as mp


@pytest.fixture(scope="module")
def users() -> mp.Users:
    u = mp.Users(domains=["Example.ORG"])
    u.add("Alice", "wonderland")
    u.add("bob", "builder", apop_secret="tanstaaf: 100%")
    u.add("noreply", None)
    u.add_alias("abuse", "alice")
    u.add_alias("postmaster", "bob")
    return u


def test_verify(users: mp.Users) -> None:
    assert users.verify("Alice", "wonderland")
    assert users.verify("alice", "wonderland")  # names match case-insensitively
    assert not users.verify("alice", "Wonderland")
    assert not users.verify("alice", "")
    assert not users.verify("mallory", "wonderland")  # unknown: same work, False
    assert not users.verify("noreply", "")  # receive-only account
    assert not users.verify("abuse", "wonderland")  # aliases do not log in


def test_hash_is_argon2id_phc(tmp_path: Path, users: mp.Users) -> None:
    text = users.dumps()
    line = next(x for x in text.splitlines() if x.startswith("Alice:"))
    # RFC 9106 Argon2id in PHC string form, OWASP parameters (19 MiB, 2 passes).
    assert line.startswith("Alice:$argon2id$v=19$m=19456,t=2,p=1$")
    other = mp.Users()
    other.add("alice", "wonderland")
    assert other.dumps().splitlines()[-1] != line  # a fresh salt each time


def test_apop_secret_only_for_accounts_that_opt_in(users: mp.Users) -> None:
    assert users.apop_secret("bob") == "tanstaaf: 100%"
    assert users.apop_secret("alice") is None
    assert users.apop_secret("nobody") is None


def test_resolve(users: mp.Users) -> None:
    assert users.resolve("alice@example.org") == "Alice"
    assert users.resolve("<ALICE@Example.Org>") == "Alice"
    assert users.resolve('"alice"@example.org') == "Alice"
    assert users.resolve("abuse@example.org") == "Alice"
    assert users.resolve("alice@example.com") is None
    assert users.resolve("carol@example.org") is None
    assert users.resolve("../alice@example.org") is None
    # RFC 5321 §4.5.1: postmaster exists, case-insensitively, with or without a domain.
    assert users.resolve("Postmaster") == "bob"
    assert users.resolve("POSTMASTER@example.org") == "bob"
    assert users.postmaster == "bob"
    assert mp.Users(domains=["x.org"]).resolve("postmaster@x.org") == "postmaster"
    assert users.is_local_domain("EXAMPLE.org")
    assert users.domains == ["example.org"]


def test_account_errors() -> None:
    u = mp.Users()
    u.add("alice", "pw")
    with pytest.raises(mp.AccountError) as exc:
        u.add("ALICE", "pw2")
    assert exc.value.name == "ALICE"
    assert isinstance(exc.value, ValueError)
    with pytest.raises(mp.AccountError):
        u.add_alias("staff", "nobody")
    u.add_alias("staff", "alice")
    with pytest.raises(mp.AccountError, match="alias"):
        u.remove("alice")  # still the target of "staff"
    u.remove("staff")
    u.remove("alice")
    assert "alice" not in u
    assert len(u) == 0
    with pytest.raises(mp.AccountError):
        u.remove("alice")
    with pytest.raises(mp.AccountError):
        u.set_password("alice", "x")
    for bad in ["../x", "a/b", ".hidden", "a\x00b", "a\nb", "a b", "", "a:b"]:
        with pytest.raises(mp.AccountError):
            u.add(bad, "pw")


def test_set_password_and_secret() -> None:
    u = mp.Users()
    u.add("carol", "old")
    u.set_password("carol", "new")
    assert u.verify("carol", "new")
    assert not u.verify("carol", "old")
    u.set_apop_secret("carol", "s")
    assert u.apop_secret("carol") == "s"
    u.set_password("carol", None)
    assert not u.verify("carol", "new")
    assert list(u) == ["carol"]


def test_users_file_round_trip(tmp_path: Path, users: mp.Users) -> None:
    path = tmp_path / "users"
    users.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "domain example.org\n" in text
    assert "bob:$argon2id$" in text
    assert ":apop=tanstaaf%3A%20100%25\n" in text
    assert "noreply:!\n" in text
    assert "abuse: Alice\n" in text or "abuse: alice\n" in text
    assert "postmaster: bob\n" in text
    loaded = mp.Users.load(path)
    assert type(loaded) is mp.Users
    assert loaded.dumps() == users.dumps()
    assert loaded.verify("bob", "builder")
    assert loaded.apop_secret("bob") == "tanstaaf: 100%"
    assert loaded.aliases() == users.aliases()
    assert os.listdir(tmp_path) == ["users"]  # written via a temporary file, renamed
    # Saving again replaces the file atomically.
    loaded.add("dave", "pw")
    loaded.save(path)
    assert "dave" in mp.Users.load(path)


@pytest.mark.parametrize(
    ("text", "lineno", "reason"),
    [
        ("alice:plaintext\n", 1, "bad password hash"),
        ("# users\n\nbob:!\nbob:!\n", 4, "defined twice"),
        ("bob:!:uid=1000\n", 1, "unknown field"),
        ("domains example.org\n", 1, "unknown directive"),
        ("bob:!\nabuse: carol\n", 2, "alias target"),
        ("../etc:!\n", 1, "invalid user name"),
        ("alice\n", 1, "expected"),
        ("a: b\nb: a\n", 1, "alias loop"),
    ],
)
def test_bad_users_files_name_the_line(tmp_path: Path, text: str, lineno: int, reason: str) -> None:
    path = tmp_path / "users"
    path.write_text(text)
    with pytest.raises(mp.UsersFileError) as exc:
        mp.Users.load(path)
    assert exc.value.lineno == lineno
    assert exc.value.path == str(path)
    assert reason in exc.value.reason
    assert f"{path}:{lineno}:" in str(exc.value)
    assert isinstance(exc.value, mp.ParseError)


def test_users_file_not_utf8_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_bytes(b"bob:!\n\xff\n")
    with pytest.raises(mp.UsersFileError) as exc:
        mp.Users.load(path)
    assert exc.value.lineno == 2
    with pytest.raises(FileNotFoundError):
        mp.Users.load(tmp_path / "missing")


# ---- MaildirStore -----------------------------------------------------------------------


def test_store_delivers_to_each_user_once(tmp_path: Path) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    got = store.deliver(b"Subject: hi\n\nto all\n", ["alice", "bob", "alice"])
    assert sorted(got) == ["alice", "bob"]
    assert store.users() == ["alice", "bob"]
    assert list(store) == ["alice", "bob"]
    assert "alice" in store
    assert "carol" not in store
    inodes = set()
    for user, key in got.items():
        md = store.mailbox(user)
        assert isinstance(md, mp.Maildir)
        assert md.path == str(tmp_path / "mail" / user)
        assert md[key].as_bytes() == b"Subject: hi\n\nto all\n"
        inodes.add(os.stat(md.get_path(key)).st_ino)
    assert len(inodes) == 1  # one file, hard-linked into each Maildir
    assert store["alice"].keys() == [got["alice"]]


def test_store_refuses_path_traversal(tmp_path: Path) -> None:
    root = tmp_path / "mail"
    store = mp.MaildirStore(root)
    for bad in ["../escape", "/etc", "a/../../b", ".", "..", ".dovecot", "a\x00", "a\tb"]:
        with pytest.raises(mp.AccountError):
            store.mailbox(bad)
        with pytest.raises(mp.AccountError):
            store.deliver(b"x\n", [bad])
    assert os.listdir(tmp_path) == ["mail"]
    assert os.listdir(root) == []


def test_store_missing_mailboxes(tmp_path: Path) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    with pytest.raises(FileNotFoundError):
        store.mailbox("nobody", create=False)
    with pytest.raises(FileNotFoundError):
        store["nobody"]
    with pytest.raises(FileNotFoundError):
        mp.MaildirStore(tmp_path / "absent", create=False)
    with pytest.raises(TypeError):
        store.deliver(b"x", "alice")


def test_store_with_users(tmp_path: Path, users: mp.Users) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    rcpts = ["abuse@example.org", "Postmaster", "bob@example.org"]
    resolved = [users.resolve(r) for r in rcpts]
    assert resolved == ["Alice", "bob", "bob"]
    got = store.deliver(b"Subject: report\n\n", [r for r in resolved if r])
    assert sorted(got) == ["Alice", "bob"]


def test_reload_replaces_the_accounts_in_place(tmp_path: Path) -> None:
    # What `mailprims serve` does when the users file changes: the servers hold this very
    # object, so they see the new accounts without a restart; a bad file changes nothing.
    live = mp.Users()
    live.add("alice", "a")
    store = mp.MaildirStore(tmp_path / "mail")
    path = tmp_path / "users"
    edited = mp.Users(domains=["example.org"])
    edited.add("carol", "c")
    edited.save(path)
    with mp.Pop3Server(store=store, users=live, auth_failure_delay=0) as server:
        live.reload(path)
        assert sorted(live) == ["carol"] and live.domains == ["example.org"]
        with mp.Pop3Client("127.0.0.1", server.port, tls="none", allow_insecure_auth=True) as pop:
            pop.login("carol", "c")
        path.write_text("carol:not-a-hash\n")
        with pytest.raises(mp.UsersFileError):
            live.reload(path)
        assert live.verify("carol", "c")
        with pytest.raises(FileNotFoundError):
            live.reload(tmp_path / "absent")
