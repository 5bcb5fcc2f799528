"""``mailprims serve``, ``send``, ``fetch`` and ``users``: a local mail system and its
clients on the command line (``__main__`` registers them with :func:`add_commands`).

Exit status: 0 done; 1 failed, with one line on standard error and no traceback; 2 bad
usage; 130 interrupted. ``serve`` logs to standard error and stops gracefully on Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import logging
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import mailprims as mp
from mailprims._compose import compose, guess_type
from mailprims._progress import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
    Progress,
    cli_words,
)
from mailprims._transcript import format_transcript

__all__ = ["add_commands", "run"]


# ---------------------------------------------------------------------------------------
# shared pieces


def _server_address(value: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port``."""
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:\[\]]+)(?::(\d+))?|([0-9A-Fa-f:]+)", value)
    if not match:
        raise CommandError(f"bad server address {value!r}: use HOST or HOST:PORT", EXIT_USAGE)
    host = match.group(1) or match.group(3) or match.group(5)
    port_text = match.group(2) or match.group(4)
    port = int(port_text) if port_text else default_port
    if not 0 < port < 65536:
        raise CommandError(f"bad port in {value!r}", EXIT_USAGE)
    return host, port


def _password(args: argparse.Namespace, prompt: str, *, confirm: bool = False) -> str:
    """From the environment variable ``--password-env`` names, else asked on the terminal."""
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise CommandError(f"the environment variable {args.password_env} is not set")
        return value
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password on: give --password-env VAR")
    password = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != password:
        raise CommandError("the passwords differ")
    return password


def _read(path: str, what: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as e:
        raise CommandError(f"cannot read the {what} {path}: {e.strerror or e}") from None


def _load_users(path: str) -> mp.Users:
    try:
        return mp.Users.load(path)
    except FileNotFoundError:
        raise CommandError(
            f"no users file {path} (make one with: mailprims users add --file {path} NAME)"
        ) from None
    except mp.UsersFileError as e:
        raise CommandError(f"bad users file {e}") from None
    except OSError as e:
        raise CommandError(f"cannot read the users file {path}: {e.strerror or e}") from None


def _tls_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tls",
        choices=["auto", "starttls", "implicit", "none"],
        default="auto",
        help="auto (default): implicit TLS on ports 465/995, else STARTTLS/STLS when offered",
    )
    parser.add_argument(
        "--cafile", metavar="FILE", help="trust this CA (PEM) instead of the system's"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="do not verify the server's certificate"
    )
    parser.add_argument(
        "--allow-insecure-auth",
        action="store_true",
        help="allow sending the password without TLS",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="give up on connecting, or on any one read or write, after this long (60)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the protocol dialogue on stderr"
    )


def _print_transcript(client: Any, enabled: bool) -> None:
    if enabled:
        for line in format_transcript(client.transcript, tls=client.tls_version):
            print(line, file=sys.stderr)


# ---------------------------------------------------------------------------------------
# serve


def _serve_log() -> logging.Logger:
    logger = logging.getLogger("mailprims.serve")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")
        )
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


_Server = mp.SmtpServer | mp.Pop3Server | mp.ImapServer | mp.WebInbox


def _start(
    server: _Server,
    name: str,
    host: str,
    port: int,
) -> None:
    try:
        server.start()
    except mp.MailConnectionError as e:
        code = getattr(e.__cause__, "errno", None)
        where = f"cannot listen on {host}:{port} for {name}"
        if code == errno.EADDRINUSE:
            raise CommandError(f"{where}: the port is in use") from None
        if code == errno.EACCES:
            raise CommandError(
                f"{where}: permission denied (ports below 1024 need privileges)"
            ) from None
        if code == errno.EADDRNOTAVAIL:
            raise CommandError(f"{where}: {host} is not an address of this machine") from None
        raise CommandError(f"{where}: {e.__cause__ or e}") from None


def _tls_files(args: argparse.Namespace) -> tuple[str | None, str | None]:
    if args.tls_cert is None and args.tls_key is None:
        return None, None
    if args.tls_cert is None or args.tls_key is None:
        raise CommandError("--tls-cert and --tls-key go together", EXIT_USAGE)
    cert = _read(args.tls_cert, "TLS certificate")
    key = _read(args.tls_key, "TLS key")
    try:
        mp.tls.check_server_identity(cert, key)
    except mp.ConfigError as e:
        raise CommandError(
            f"cannot serve TLS with {args.tls_cert} and {args.tls_key}: {e}"
        ) from None
    return args.tls_cert, args.tls_key


def cmd_serve(args: argparse.Namespace) -> int:
    users = _load_users(args.users)
    cert, key = _tls_files(args)
    try:
        store = mp.MaildirStore(args.maildir)
    except OSError as e:
        raise CommandError(
            f"cannot use {args.maildir} as the mail store: {e.strerror or e}"
        ) from None
    log = _serve_log()
    hostname = args.hostname or socket.getfqdn()

    def logged(protocol: str) -> Callable[[mp.ServerEvent], None]:
        return lambda event: log.info("%s %s", protocol, event)

    smtp = mp.SmtpServer(
        args.host,
        args.smtp_port,
        store=store,
        users=users,
        domains=args.domain or None,
        hostname=hostname,
        tls_cert=cert,
        tls_key=key,
        auth_require_tls=not args.allow_insecure_auth,
        shutdown_grace=args.shutdown_grace,
        on_event=logged("smtp"),
    )
    # POP3 and IMAP serve the same mailboxes with the same settings.
    pop3, imap = (
        server(
            args.host,
            port,
            store=store,
            users=users,
            hostname=hostname,
            tls_cert=cert,
            tls_key=key,
            allow_insecure_auth=args.allow_insecure_auth,
            shutdown_grace=args.shutdown_grace,
            on_event=logged(name),
        )
        for server, port, name in (
            (mp.Pop3Server, args.pop3_port, "pop3"),
            (mp.ImapServer, args.imap_port, "imap"),
        )
    )
    servers: list[tuple[_Server, str, int]] = [
        (smtp, "SMTP", args.smtp_port),
        (pop3, "POP3", args.pop3_port),
        (imap, "IMAP", args.imap_port),
    ]
    # The web inbox (issue 18): the same accounts log in to read their mail.
    web = None
    if args.web is not None:
        web = mp.WebInbox(store, host=args.host, port=args.web, users=users)
        servers.append((web, "the web inbox", args.web))
    for n, (server, name, port) in enumerate(servers):
        try:
            _start(server, name, args.host, port)
        except BaseException:
            for started, _, _ in servers[:n]:
                started.stop()
            raise
    stop = threading.Event()
    handlers = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        log.info(
            "mailprims %s serving %s: SMTP on %s:%d, POP3 on %s:%d, IMAP on %s:%d%s; "
            "store %s; %d accounts from %s",
            mp.__version__,
            hostname,
            args.host,
            smtp.port,
            args.host,
            pop3.port,
            args.host,
            imap.port,
            " (STARTTLS/STLS)" if cert else "",
            os.path.abspath(store.root),
            len(users),
            args.users,
        )
        if web is not None:
            log.info("web inbox on %s (log in with an account of %s)", web.url, args.users)
        _watch_users(stop, users, args.users, log)
    finally:
        for sig, previous in handlers.items():
            signal.signal(sig, previous)
        log.info("stopping")
        for server, _, _ in servers:
            server.stop()
        log.info("stopped")
    return 0


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _watch_users(stop: threading.Event, users: mp.Users, path: str, log: logging.Logger) -> None:
    """Wait for ``stop``, reloading the users file (in place, so both servers see it) when it
    changes: ``mailprims users add`` takes effect without a restart."""
    seen = _mtime(path)
    while not stop.wait(1.0):
        current = _mtime(path)
        if current == seen:
            continue
        seen = current
        try:
            users.reload(path)
        except (mp.UsersFileError, OSError) as e:
            log.warning("users file not reloaded, the old accounts stay: %s", e)
        else:
            log.info("reloaded %s: %d accounts", path, len(users))


# ---------------------------------------------------------------------------------------
# send


def cmd_send(args: argparse.Namespace) -> int:
    if args.body is not None and args.body_file is not None:
        raise CommandError("give --body or --body-file, not both", EXIT_USAGE)
    if args.body_file is not None:
        body = _read(args.body_file, "body file").decode("utf-8", "replace")
    else:
        body = args.body or ""
    html = _read(args.html_file, "HTML file").decode("utf-8", "replace") if args.html_file else None
    attachments = [(Path(p).name, _read(p, "attachment"), guess_type(p)) for p in args.attach]
    data = compose(
        from_=args.from_,
        to=args.to,
        cc=args.cc,
        subject=args.subject,
        text=body,
        html=html,
        attachments=attachments,
    )
    recipients = [*args.to, *args.cc, *args.bcc]
    password = _password(args, f"password for {args.user}: ") if args.user else None
    options: dict[str, Any] = {
        "tls": args.tls,
        "cafile": args.cafile,
        "verify": not args.no_verify,
        "username": args.user,
        "password": password,
        "allow_insecure_auth": args.allow_insecure_auth,
        "timeout": args.timeout,
    }
    envelope: dict[str, Any] = {"sender": None, "recipients": recipients if args.bcc else None}
    if args.mx:
        return _send_mx(data, envelope, options)
    host, port = _server_address(args.server, 25)
    client = mp.SmtpClient(host, port, transcript=args.verbose, **options)
    try:
        with client:
            result = client.send(data, **envelope)
    except mp.ConfigError:
        if args.user and client.tls_version is None and not args.allow_insecure_auth:
            raise CommandError(
                f"{host}:{port} offers no TLS: the password is not sent in clear "
                "(--allow-insecure-auth sends it anyway)"
            ) from None
        raise
    finally:
        _print_transcript(client, args.verbose)
    print(f"sent to {', '.join(result.accepted)} via {host}:{port}: {result.reply}")
    for address, reply in result.refused.items():
        print(f"refused {address}: {reply}", file=sys.stderr)
    return EXIT_FAILED if result.refused else 0


def _send_mx(data: bytes, envelope: dict[str, Any], options: dict[str, Any]) -> int:
    status = 0
    for domain, outcome in mp.deliver(data, **envelope, **options).items():
        if isinstance(outcome, mp.SendResult):
            print(f"{domain}: sent via {outcome.host}: {outcome.reply}")
            for address, reply in outcome.refused.items():
                print(f"refused {address}: {reply}", file=sys.stderr)
                status = EXIT_FAILED
        else:
            print(f"{domain}: not sent: {outcome}", file=sys.stderr)
            status = EXIT_FAILED
    return status


# ---------------------------------------------------------------------------------------
# fetch


def _file_name(uid: str | None, number: int) -> str:
    """A safe file name from a UIDL (RFC 1939: printable ASCII, which may include ``/``)."""
    if not uid:
        return f"message-{number}.eml"
    return re.sub(r"[^A-Za-z0-9._,=+-]", "_", uid).lstrip(".") + ".eml"


class _EmlFiles:
    """``<uidl>.eml`` files in a folder; a message already saved is not written again."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    def has(self, uid: str | None, number: int) -> bool:
        return uid is not None and (self.folder / _file_name(uid, number)).exists()

    def save(self, uid: str | None, number: int, data: bytes) -> None:
        path = self.folder / _file_name(uid, number)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


class _MaildirOutput:
    def __init__(self, folder: Path) -> None:
        self.maildir = mp.Maildir(folder)

    def has(self, uid: str | None, number: int) -> bool:
        return False

    def save(self, uid: str | None, number: int, data: bytes) -> None:
        self.maildir.add(data)


def _is_maildir(folder: Path) -> bool:
    return all((folder / d).is_dir() for d in ("cur", "new", "tmp"))


_Client = TypeVar("_Client", mp.Pop3Client, mp.ImapClient)


def _fetch_client(
    args: argparse.Namespace, cls: type[_Client], implicit_port: int, plain_port: int
) -> tuple[str, int, str, _Client]:
    """`fetch`'s server address, password and (unconnected) client, POP3 or IMAP alike."""
    host, port = _server_address(
        args.server, implicit_port if args.tls == "implicit" else plain_port
    )
    password = _password(args, f"password for {args.user}@{host}: ")
    client = cls(
        host,
        port,
        tls=args.tls,
        cafile=args.cafile,
        verify=not args.no_verify,
        allow_insecure_auth=args.allow_insecure_auth,
        timeout=args.timeout,
        transcript=args.verbose,
    )
    return host, port, password, client


def cmd_fetch(args: argparse.Namespace) -> int:
    if args.delete and args.output is None:
        raise CommandError("--delete needs --output: the messages would be lost", EXIT_USAGE)
    if args.imap:
        return _cmd_fetch_imap(args)
    if args.mailbox is not None:
        raise CommandError("--mailbox needs --imap", EXIT_USAGE)
    host, port, password, client = _fetch_client(args, mp.Pop3Client, 995, 110)
    try:
        # Leaving the block by an exception (Ctrl-C included) closes without QUIT, so the
        # server deletes nothing (RFC 1939 §6).
        with client:
            if client.tls_version is None and not (args.apop or args.allow_insecure_auth):
                raise CommandError(
                    f"{host}:{port} offers no TLS: the password is not sent in clear "
                    "(use --apop, or --allow-insecure-auth to send it anyway)"
                )
            if args.apop:
                client.apop(args.user, password)
            else:
                client.login(args.user, password)
            if args.output is None:
                _list_messages(client)
                return 0
            _fetch_messages(client, args)
    finally:
        _print_transcript(client, args.verbose)
    return 0


def _list_messages(client: mp.Pop3Client) -> None:
    sizes = client.list()
    for number in sorted(sizes):
        headers = client.top(number, 0)
        sender = ", ".join(str(a) for a in headers.from_)
        print(f"{number:>5} {sizes[number]:>10}  {sender[:36]:<36}  {headers.subject or ''}")
    print(f"{len(sizes)} message{'s' if len(sizes) != 1 else ''}, {sum(sizes.values())} octets")


def _fetch_messages(client: mp.Pop3Client, args: argparse.Namespace) -> None:
    folder = Path(args.output)
    kind = args.format or ("maildir" if _is_maildir(folder) else "eml")
    try:
        output: _EmlFiles | _MaildirOutput = (
            _MaildirOutput(folder) if kind == "maildir" else _EmlFiles(folder)
        )
    except OSError as e:
        raise CommandError(f"cannot write to {folder}: {e.strerror or e}") from None
    sizes = client.list()
    uids = client.uidl() if sizes else {}
    saved = skipped = octets = 0
    with Progress(len(sizes), "fetching") as progress:
        for number in sorted(sizes):
            uid = uids.get(number)
            if output.has(uid, number):
                skipped += 1
            else:
                data = client.retr_bytes(number)
                try:
                    output.save(uid, number, data)
                except OSError as e:
                    raise CommandError(f"cannot write to {folder}: {e.strerror or e}") from None
                saved += 1
                octets += len(data)
            # Only what is safely saved is marked deleted; deletion happens at QUIT.
            if args.delete:
                client.dele(number)
            progress.update(octets=sizes[number])
    where = f"{folder} ({'Maildir' if kind == 'maildir' else '.eml files'})"
    line = f"fetched {saved} message{'s' if saved != 1 else ''} ({octets} octets) into {where}"
    if skipped:
        line += f"; {skipped} already there"
    if args.delete:
        line += f"; deleted {len(sizes)} on the server"
    print(line)


# ---------------------------------------------------------------------------------------
# fetch --imap (issue 15)


def _cmd_fetch_imap(args: argparse.Namespace) -> int:
    if args.apop:
        raise CommandError("--apop is POP3's; IMAP logs in with a password", EXIT_USAGE)
    host, port, password, client = _fetch_client(args, mp.ImapClient, 993, 143)
    try:
        with client:
            if client.tls_version is None and not args.allow_insecure_auth:
                raise CommandError(
                    f"{host}:{port} offers no TLS: the password is not sent in clear "
                    "(use --allow-insecure-auth to send it anyway)"
                )
            client.login(args.user, password)
            if args.output is None and args.mailbox is None:
                _list_mailboxes(client)
                return 0
            _fetch_mailbox(client, args)
    finally:
        _print_transcript(client, args.verbose)
    return 0


def _list_mailboxes(client: mp.ImapClient) -> None:
    boxes = client.list(status=True)
    for box in boxes:
        st = box.status
        counts = f"{st.messages:>7} {st.unseen or 0:>7}" if st and st.messages is not None else ""
        print(f"{counts:>15}  {box.name}{'  ' + box.special_use if box.special_use else ''}")
    print(f"{len(boxes)} mailbox{'es' if len(boxes) != 1 else ''} (messages, unseen, name)")


def _fetch_mailbox(client: mp.ImapClient, args: argparse.Namespace) -> None:
    mailbox = args.mailbox or "INBOX"
    status = client.select(mailbox, readonly=not args.delete)
    uids = client.search()
    if args.output is None:
        for uid, r in client.fetch(uids, ["RFC822.SIZE", "ENVELOPE"]).items():
            env = r.envelope
            sender = ", ".join(a.email or "" for a in env.from_) if env else ""
            subject = (env.subject if env else None) or ""
            print(f"{uid:>7} {r.size or 0:>10}  {sender[:36]:<36}  {subject}")
        print(f"{len(uids)} message{'s' if len(uids) != 1 else ''} in {mailbox}")
        return
    folder = Path(args.output)
    kind = args.format or ("maildir" if _is_maildir(folder) else "eml")
    try:
        output: _EmlFiles | _MaildirOutput = (
            _MaildirOutput(folder) if kind == "maildir" else _EmlFiles(folder)
        )
    except OSError as e:
        raise CommandError(f"cannot write to {folder}: {e.strerror or e}") from None

    # UIDs name a message for good only together with the mailbox's UIDVALIDITY.
    def key(uid: int) -> str:
        return f"{status.uid_validity}.{uid}"

    todo = [uid for uid in uids if not output.has(key(uid), uid)]
    saved = octets = 0
    with Progress(len(todo), "fetching") as progress:
        for uid, data in client.fetch_messages_bytes(todo):
            try:
                output.save(key(uid), uid, data)
            except OSError as e:
                raise CommandError(f"cannot write to {folder}: {e.strerror or e}") from None
            saved += 1
            octets += len(data)
            progress.update(octets=len(data))
    where = f"{folder} ({'Maildir' if kind == 'maildir' else '.eml files'})"
    line = f"fetched {saved} message{'s' if saved != 1 else ''} ({octets} octets) into {where}"
    if len(uids) > len(todo):
        line += f"; {len(uids) - len(todo)} already there"
    if args.delete and uids:
        # Only what is saved (now or before) is deleted.
        client.add_flags(uids, "\\Deleted")
        if client.has_capability("UIDPLUS") or "IMAP4REV2" in client.enabled:
            client.expunge(uids)
        else:
            client.expunge()
        line += f"; deleted {len(uids)} on the server"
    print(line)


# ---------------------------------------------------------------------------------------
# users


def _users_or_new(path: Path) -> mp.Users:
    return _load_users(str(path)) if path.exists() else mp.Users()


def cmd_users_add(args: argparse.Namespace) -> int:
    path = Path(args.file)
    users = _users_or_new(path)
    if args.name in users:
        raise CommandError(f"{args.name} is already in {path}")
    password = (
        None if args.no_login else _password(args, f"password for {args.name}: ", confirm=True)
    )
    if password == "":
        raise CommandError("empty password: give one, or --no-login")
    users.add(args.name, password, apop_secret=password if args.apop else None)
    users.save(path)
    print(f"added {args.name} to {path}")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    path = Path(args.file)
    users = _load_users(str(path))
    if args.name not in users:
        raise CommandError(f"no user {args.name} in {path}")
    users.remove(args.name)
    users.save(path)
    print(f"removed {args.name} from {path}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    users = _load_users(args.file)
    for domain in users.domains:
        print(f"domain {domain}")
    for name in users:
        print(f"{name} (APOP)" if users.apop_secret(name) else name)
    for alias, target in users.aliases().items():
        print(f"{alias}: alias of {target}")
    return 0


# ---------------------------------------------------------------------------------------
# registration


def add_commands(sub: Any) -> None:
    """Register ``serve``, ``send``, ``fetch`` and ``users`` with the main parser's
    subparsers."""
    serve = sub.add_parser(
        "serve",
        help="run a local mail system: SMTP in, POP3 and IMAP out",
        description="Receive mail over SMTP into Maildirs (DIR/<user>/) and serve them over "
        "POP3 and IMAP, for the accounts of a users file, until Ctrl-C or SIGTERM. Every "
        "accepted message, login and retrieval is logged on stderr; the users file is "
        "reloaded when it changes. --web PORT adds the web inbox, where the same accounts "
        "log in.",
    )
    serve.add_argument("--maildir", required=True, metavar="DIR", help="the mail store")
    serve.add_argument("--users", required=True, metavar="FILE", help="the users file")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--smtp-port", type=int, default=2525, metavar="PORT", help="2525")
    serve.add_argument("--pop3-port", type=int, default=1110, metavar="PORT", help="1110")
    serve.add_argument("--imap-port", type=int, default=1143, metavar="PORT", help="1143")
    serve.add_argument("--tls-cert", metavar="FILE", help="PEM certificate: offer STARTTLS/STLS")
    serve.add_argument("--tls-key", metavar="FILE", help="its PEM private key")
    serve.add_argument(
        "--domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="a local mail domain (repeatable); without any, every domain is local",
    )
    serve.add_argument("--hostname", help="the name in greetings and Received: fields")
    serve.add_argument(
        "--allow-insecure-auth",
        action="store_true",
        help="accept passwords without TLS from other hosts (testing only)",
    )
    serve.add_argument("--shutdown-grace", type=float, default=10.0, metavar="SECONDS")
    serve.add_argument(
        "--web",
        type=int,
        metavar="PORT",
        help="also serve the web inbox (web UI and JSON API) on this port (0: any free port)",
    )
    serve.set_defaults(run_servers=cmd_serve)

    send = sub.add_parser(
        "send",
        help="send a message over SMTP",
        description="Compose a MIME message (text, optional HTML, attachments) and send it "
        "to an SMTP server, or straight to the recipients' mail exchangers with --mx.",
    )
    send.add_argument(
        "--from",
        dest="from_",
        required=True,
        metavar="ADDRESS",
        help="the sender: the From field and the envelope's MAIL FROM",
    )
    send.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="ADDRESS",
        help="a recipient (To field and RCPT TO); repeat for more",
    )
    send.add_argument(
        "--cc", action="append", default=[], metavar="ADDRESS", help="a Cc recipient; repeat"
    )
    send.add_argument(
        "--bcc",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a hidden recipient (RCPT TO only, no header field); repeat",
    )
    send.add_argument("--subject", default="", metavar="TEXT", help="the Subject field")
    send.add_argument("--body", metavar="TEXT", help="the text body")
    send.add_argument("--body-file", metavar="FILE", help="the text body ('-': standard input)")
    send.add_argument("--html-file", metavar="FILE", help="an HTML alternative of the body")
    send.add_argument(
        "--attach", action="append", default=[], metavar="FILE", help="attach a file; repeat"
    )
    where = send.add_mutually_exclusive_group()
    where.add_argument(
        "--server",
        default="localhost:25",
        metavar="HOST[:PORT]",
        help="the SMTP server to send through (localhost:25)",
    )
    where.add_argument("--mx", action="store_true", help="deliver to the recipients' MX hosts")
    send.add_argument("--user", help="log in (AUTH) as this user")
    send.add_argument("--password-env", metavar="VAR", help="read the password from $VAR")
    _tls_options(send)
    send.set_defaults(run_servers=cmd_send)

    fetch = sub.add_parser(
        "fetch",
        help="fetch mail over POP3 (or IMAP with --imap)",
        description="List the messages of a POP3 maildrop or, with --output, save them as "
        "<uidl>.eml files (those already saved are skipped) or into a Maildir. --delete "
        "deletes what was saved, when the session ends. With --imap: list the mailboxes, "
        "or the messages of --mailbox, or save a mailbox (INBOX by default) as "
        "<uidvalidity>.<uid>.eml files or into a Maildir.",
    )
    fetch.add_argument("--imap", action="store_true", help="use IMAP (port 143, 993 with TLS)")
    fetch.add_argument("--mailbox", metavar="NAME", help="with --imap: the mailbox to read")
    fetch.add_argument("--server", default="localhost", metavar="HOST[:PORT]")
    fetch.add_argument("--user", required=True)
    fetch.add_argument("--password-env", metavar="VAR", help="read the password from $VAR")
    fetch.add_argument("--apop", action="store_true", help="log in with APOP")
    fetch.add_argument("--output", metavar="DIR", help="save the messages here")
    fetch.add_argument(
        "--format", choices=["eml", "maildir"], help="default: maildir if DIR is one"
    )
    fetch.add_argument("--delete", action="store_true", help="delete the saved messages")
    _tls_options(fetch)
    fetch.set_defaults(run_servers=cmd_fetch)

    users = sub.add_parser("users", help="manage a users file (accounts for serve)")
    actions = users.add_subparsers(dest="users_command", metavar="action", required=True)
    add = actions.add_parser("add", help="add an account (asks for its password)")
    add.add_argument("--file", required=True, metavar="FILE")
    add.add_argument("name")
    add.add_argument("--password-env", metavar="VAR", help="read the password from $VAR")
    add.add_argument("--apop", action="store_true", help="allow APOP with the password")
    add.add_argument("--no-login", action="store_true", help="receives mail, cannot log in")
    add.set_defaults(run_servers=cmd_users_add)
    remove = actions.add_parser("remove", help="remove an account")
    remove.add_argument("--file", required=True, metavar="FILE")
    remove.add_argument("name")
    remove.set_defaults(run_servers=cmd_users_remove)
    listing = actions.add_parser("list", help="list the accounts")
    listing.add_argument("--file", required=True, metavar="FILE")
    listing.set_defaults(run_servers=cmd_users_list)


def run(args: argparse.Namespace) -> int:
    """Run the command ``args`` were parsed for; returns the exit status."""
    command = args.command
    try:
        status: int = args.run_servers(args)
        return status
    except CommandError as e:
        _fail(command, str(e))
        return e.status
    except KeyboardInterrupt:
        print(f"mailprims {command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (mp.MailError, OSError, ValueError) as e:
        # The library's messages name Python keywords (cafile=...): say the flags instead.
        _fail(command, cli_words(str(e)) or type(e).__name__)
        return EXIT_FAILED


def _fail(command: str, message: str) -> None:
    print(f"mailprims {command}: error: {message}", file=sys.stderr)
