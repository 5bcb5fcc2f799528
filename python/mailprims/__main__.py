"""Command line: ``python -m mailprims <command>`` (also installed as ``mailprims``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mailprims import _cli_auth, _cli_mail_system, _cli_messages, _demo

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mailprims command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="mailprims",
        description="Internet mail primitives: codecs, MIME, SMTP and POP3.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.add_parser("demo", help="walk through the textbook examples, live")
    _cli_messages.add_commands(sub)
    _cli_mail_system.add_commands(sub)
    _cli_auth.add_commands(sub)
    args = parser.parse_args(argv)
    if args.version:
        from mailprims import __version__

        print(__version__)
        return 0
    if args.command == "demo":
        return _demo.run(sys.stdout)
    if getattr(args, "handler", None) is not None:
        return _cli_messages.run(args)
    if getattr(args, "run_servers", None) is not None:
        return _cli_mail_system.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
