"""A mailprims server in its own process, for the stress scenarios (``make stress``).

Usage: ``python serve.py '<json options>'``. Prints the port on the first line of stdout,
then serves until stdin is closed (or the process is killed: the kill -9 scenario does).
Options the installed mailprims does not know are dropped, so one scenario script measures
the code before and after a change alike.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

import mailprims as mp


def supported(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """The options ``cls`` accepts."""
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in options.items() if k in params}


def main() -> None:
    spec = json.loads(sys.argv[1])
    kind = spec.pop("kind")
    users = None
    if "users" in spec:
        users = mp.Users(domains=["example.org"])
        for name, password in spec.pop("users").items():
            users.add(name, password)
    store = mp.MaildirStore(spec.pop("store")) if "store" in spec else None
    server: Any
    if kind == "smtp":
        if spec.pop("sink", False):
            spec["handler"] = mp.Sink(maxlen=10)
        server = mp.SmtpServer(**supported(mp.SmtpServer, {"store": store, "users": users, **spec}))
    elif kind == "imap":
        server = mp.ImapServer(**supported(mp.ImapServer, {"store": store, "users": users, **spec}))
    else:
        server = mp.Pop3Server(**supported(mp.Pop3Server, {"store": store, "users": users, **spec}))
    server.start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
