"""mailprims.Maildir: the Maildir spec (cr.yp.to/proto/maildir.html), interoperability with
Python's mailbox.Maildir both ways, durability under failing writes, concurrency, the POP3 lock."""

from __future__ import annotations

import errno
import mailbox
import os
import pickle
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import mailprims as mp

MESSAGES = [
    b"Subject: plain\n\nHello, world.\n",
    b"Subject: crlf\r\n\r\nCRLF line endings\r\nstay as they are\r\n",
    b"Subject: 8bit \xc3\xa9t\xc3\xa9\n\nbinary \x00\xff\x80 bytes\nno final newline",
    b"From someone@example.org Mon Jan  1 00:00:00 2024\nSubject: from line\n\nFrom me\n",
    b"",
]


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def listing(path: Path) -> list[str]:
    return sorted(os.listdir(path))


@pytest.fixture
def md(tmp_path: Path) -> mp.Maildir:
    return mp.Maildir(tmp_path / "Maildir")


def test_layout_names_and_modes(md: mp.Maildir) -> None:
    root = Path(md.path)
    assert listing(root) == ["cur", "new", "tmp"]
    for sub in ("cur", "new", "tmp"):
        assert (root / sub).stat().st_mode & 0o777 == 0o700
    key = md.add(MESSAGES[0])
    # time.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<crlf size> (Maildir spec + Dovecot's fields)
    host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
    m = re.fullmatch(r"(\d+)\.M(\d+)P(\d+)Q(\d+)\.(.+),S=(\d+),W=(\d+)", key)
    assert m is not None, key
    assert abs(int(m[1]) - time.time()) < 600
    assert int(m[3]) == os.getpid()
    assert m[5] == host.replace(",", r"\054")
    assert (int(m[6]), int(m[7])) == (len(MESSAGES[0]), len(crlf(MESSAGES[0])))
    assert listing(root / "new") == [key]
    assert listing(root / "tmp") == []
    assert (root / "new" / key).stat().st_mode & 0o777 == 0o600


def test_mapping_api(md: mp.Maildir) -> None:
    keys = [md.add(m) for m in MESSAGES]
    assert md.keys() == keys  # delivery order
    assert len(md) == len(MESSAGES)
    assert [md[k].as_bytes() for k in keys] == MESSAGES
    assert [m.as_bytes() for m in md] == MESSAGES
    assert list(md.items_bytes()) == list(zip(keys, MESSAGES, strict=True))
    assert list(md.iterkeys()) == keys
    assert keys[0] in md
    assert "nope" not in md
    assert 42 not in md
    assert "../../etc/passwd" not in md
    with md.get_file(keys[2]) as f:
        assert f.read() == MESSAGES[2]
    assert Path(md.get_path(keys[0])).read_bytes() == MESSAGES[0]
    del md[keys[0]]
    md.remove(keys[1])
    md.discard(keys[1])
    assert md.remove_many([keys[2], keys[3], "missing"]) == 2
    assert md.keys() == [keys[4]]
    with pytest.raises(KeyError):
        md[keys[0]]
    with pytest.raises(mp.MessageNotFoundError) as exc:
        md.remove(keys[0])
    assert exc.value.key == keys[0]
    assert isinstance(exc.value, mp.MailError)


def test_sizes_without_reading(md: mp.Maildir) -> None:
    keys = [md.add(m) for m in MESSAGES]
    entries = md.entries()
    assert [e.key for e in entries] == keys
    for e, m in zip(entries, MESSAGES, strict=True):
        assert e.size == len(m) == md.get_size(e.key)
        assert e.crlf_size == len(crlf(m)) == md.get_crlf_size(e.key)
        assert e.subdir == "new"
        assert e.flags == ""
        # RFC 1939 §7: 1-70 characters in 0x21-0x7E
        assert 1 <= len(e.uidl) <= 70
        assert all(0x21 <= ord(c) <= 0x7E for c in e.uidl)
    assert abs(md.get_date(keys[0]) - time.time()) < 600


def test_flags_info_and_mark_seen(md: mp.Maildir) -> None:
    root = Path(md.path)
    key = md.add(MESSAGES[0])
    md.mark_seen(key)
    # Dovecot, on RETR: new/<key> -> cur/<key>:2,S
    assert listing(root / "new") == []
    assert listing(root / "cur") == [f"{key}:2,S"]
    md.set_flags(key, "TSRF")
    assert md.get_flags(key) == "FRST"  # ASCII order (spec)
    md.remove_flag(key, "RT")
    md.add_flag(key, "D")
    assert md.get_info(key) == "2,DFS"
    assert listing(root / "cur") == [f"{key}:2,DFS"]
    assert md[key].as_bytes() == MESSAGES[0]
    assert md[key].subject == "plain"
    with pytest.raises(ValueError):
        md.set_flags(key, "S1")
    md.set_info(key, "")
    assert listing(root / "cur") == [key]
    k2 = md.add(MESSAGES[1], flags="SF")
    assert listing(root / "cur") == sorted([key, f"{k2}:2,FS"])


def test_python_mailbox_reads_what_we_write(md: mp.Maildir) -> None:
    keys = [md.add(m) for m in MESSAGES]
    md.mark_seen(keys[1])
    md.set_flags(keys[2], "FR")
    flagged = md.add(MESSAGES[0], flags="T")
    std = mailbox.Maildir(md.path, factory=None, create=False)
    assert sorted(std.keys()) == sorted([*keys, flagged])
    for k, m in zip(keys, MESSAGES, strict=True):
        assert std.get_bytes(k) == m
    expected = {keys[1]: ("S", "cur"), keys[2]: ("FR", "cur"), flagged: ("T", "cur")}
    for k in std.keys():
        msg = std.get_message(k)
        assert (msg.get_flags(), msg.get_subdir()) == expected.get(k, ("", "new"))


def test_we_read_what_python_mailbox_writes(tmp_path: Path) -> None:
    std = mailbox.Maildir(tmp_path / "std")
    plain = [std.add(m) for m in MESSAGES]
    seen = mailbox.MaildirMessage(MESSAGES[0])
    seen.set_flags("SR")
    seen.set_subdir("cur")
    k_seen = std.add(seen)
    md = mp.Maildir(tmp_path / "std", create=False)
    assert sorted(md.keys()) == sorted([*plain, k_seen])
    for k, m in zip(plain, MESSAGES, strict=True):
        assert md.get_bytes(k) == m
        assert md.get_size(k) == len(m)  # from stat: Python writes no ,S=
        assert md.get_crlf_size(k) == len(crlf(m))  # computed by reading
    assert md.get_flags(k_seen) == "RS"
    # Python replaces a message under the same key; we find it where it went.
    md.mark_seen(plain[0])
    msg = std.get_message(plain[0])
    assert msg.get_flags() == "S"
    msg.set_flags("F")
    std[plain[0]] = msg
    assert md.get_flags(plain[0]) == "F"
    assert md[plain[0]].as_bytes() == MESSAGES[0]


def test_pickle_and_repr(md: mp.Maildir) -> None:
    key = md.add(b"x\n")
    again = pickle.loads(pickle.dumps(md))
    assert type(again) is mp.Maildir
    assert again.keys() == [key]
    assert repr(md) == f"Maildir({md.path!r})"


def test_missing_and_wrong_paths(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as exc:
        mp.Maildir(tmp_path / "nope", create=False)
    assert exc.value.errno == errno.ENOENT
    assert exc.value.filename == str(tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        mp.Maildir(tmp_path / "file", create=False)
    with pytest.raises(FileExistsError):
        mp.Maildir(tmp_path / "file")
    with pytest.raises(TypeError):
        mp.Maildir(tmp_path / "md").add("text is not bytes")  # type: ignore[arg-type]
    assert mp.Maildir(tmp_path / "md").add(bytearray(b"ba\n")) in mp.Maildir(tmp_path / "md")
    assert mp.Maildir(tmp_path / "md").add(memoryview(b"mv\n"))


def test_clean_removes_old_tmp_files(md: mp.Maildir) -> None:
    tmp = Path(md.path) / "tmp"
    (tmp / "old").write_bytes(b"x")
    (tmp / "fresh").write_bytes(b"x")
    past = time.time() - 40 * 3600  # the spec: 36 hours
    os.utime(tmp / "old", (past, past))
    assert md.clean() == 1
    assert listing(tmp) == ["fresh"]


def test_concurrent_deliveries_from_threads(md: mp.Maildir) -> None:
    n_threads, per_thread = 8, 40
    results: list[list[str]] = [[] for _ in range(n_threads)]

    def deliver(t: int) -> None:
        for i in range(per_thread):
            results[t].append(md.add(f"Subject: t{t} m{i}\n\n".encode()))

    threads = [threading.Thread(target=deliver, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    keys = [k for r in results for k in r]
    assert len(keys) == len(set(keys)) == n_threads * per_thread
    assert sorted(md.keys()) == sorted(keys)
    for t, r in enumerate(results):
        for i, k in enumerate(r):
            assert md[k].as_bytes() == f"Subject: t{t} m{i}\n\n".encode()


def test_concurrent_deliveries_from_processes(md: mp.Maildir) -> None:
    script = textwrap.dedent(
        """
        import sys, mailprims
        md = mailprims.Maildir(sys.argv[1], create=False)
        for i in range(30):
            md.add(b"Subject: %d\\n\\n" % i)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, md.path]) for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    keys = md.keys()
    assert len(keys) == len(set(keys)) == 120
    pids = {int(m[1]) for k in keys if (m := re.search(r"P(\d+)Q", k))}
    assert pids == {p.pid for p in procs}


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_failing_write_leaves_nothing_in_new(md: mp.Maildir) -> None:
    # RLIMIT_FSIZE makes write() fail with EFBIG part-way, as a full quota would.
    result = _run(
        """
        import resource, signal, sys, mailprims
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        md = mailprims.Maildir(sys.argv[1], create=False)
        try:
            md.add(b"x" * 100_000)
        except mailprims.StoreError as e:
            print("errno", e.errno)
        print(md.add(b"small\\n"))
        """,
        md.path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:2] == ["errno", str(errno.EFBIG)]
    assert md.keys() == [lines[2]]
    assert listing(Path(md.path) / "tmp") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_leaves_nothing_half_written(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        md = mp.Maildir(mnt / "Maildir")
        message = b"Subject: filler\n\n" + b"x" * 3000 + b"\n"
        keys = []
        with pytest.raises(mp.StoreError) as exc:
            for _ in range(100):
                keys.append(md.add(message))
        assert exc.value.errno == errno.ENOSPC
        assert keys  # some fitted
        assert sorted(md.keys()) == sorted(keys)
        assert all(md.get_bytes(k) == message for k in keys)
        assert listing(mnt / "Maildir" / "tmp") == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_missing_new_directory_fails_cleanly(md: mp.Maildir) -> None:
    os.rmdir(Path(md.path) / "new")
    with pytest.raises(FileNotFoundError):
        md.add(b"lost\n")
    assert listing(Path(md.path) / "tmp") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_new_directory(md: mp.Maildir) -> None:
    new = Path(md.path) / "new"
    new.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            md.add(b"refused\n")
    finally:
        new.chmod(0o700)
    assert listing(new) == []
    assert listing(Path(md.path) / "tmp") == []


def test_maildrop_lock(md: mp.Maildir) -> None:
    with md.lock() as lock:
        assert lock.held
        assert Path(lock.path).name == "dovecot-pop3-session.lock"
        # Dovecot's dot-lock content: "<pid>:<host>"
        assert Path(lock.path).read_text() == f"{os.getpid()}:{socket.gethostname()}"
        with pytest.raises(mp.MailboxLockedError) as exc:
            md.lock()
        assert exc.value.holder == f"{os.getpid()}:{socket.gethostname()}"
        assert exc.value.errno == errno.EAGAIN
        assert isinstance(exc.value, mp.StoreError)
        assert isinstance(exc.value, OSError)
        lock.touch()
    assert not lock.held
    assert not Path(lock.path).exists()
    md.lock().release()


def test_a_dead_processs_maildrop_lock_is_broken(md: mp.Maildir) -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=60)
    lock_path = Path(md.path) / "dovecot-pop3-session.lock"
    lock_path.write_text(f"{p.pid}:{socket.gethostname()}")
    with md.lock() as lock:
        assert lock.held


def test_store_error_pickles() -> None:
    err = mp.StoreError(errno.ENOSPC, "No space left on device (fsync)", "/m/new")
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), again.errno, again.filename) == (mp.StoreError, errno.ENOSPC, "/m/new")
    locked = mp.MailboxLockedError(errno.EAGAIN, "mailbox is locked", "/m/l", holder="1:h")
    again2 = pickle.loads(pickle.dumps(locked))
    assert (again2.holder, again2.filename) == ("1:h", "/m/l")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_delivery_to_maildirs_on_different_file_systems(tmp_path: Path) -> None:
    # A hard link cannot cross file systems (EXDEV): the message is copied instead.
    store = mp.MaildirStore(tmp_path / "mail")
    mnt = tmp_path / "mail" / "mem"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        for users in (["disk", "mem"], ["mem", "disk"]):
            data = f"Subject: to {users}\n\n".encode()
            got = store.deliver(data, users)
            for user in users:
                assert store[user].get_bytes(got[user]) == data
        for user in ("disk", "mem"):
            assert listing(tmp_path / "mail" / user / "tmp") == []
            assert len(store[user]) == 2
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
