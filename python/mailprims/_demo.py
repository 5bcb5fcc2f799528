"""The main job, ``python -m mailprims demo``: the textbook chapter's examples, computed live."""

from __future__ import annotations

from typing import TextIO

import mailprims as mp

__all__ = ["run"]


def _section(out: TextIO, title: str) -> None:
    out.write(f"\n== {title} ==\n")


def _bits(data: bytes) -> str:
    return " ".join(f"{b:08b}" for b in data)


def run(out: TextIO) -> int:
    """Print the demo to ``out``; returns the exit status."""
    out.write(f"mailprims {mp.__version__}: Internet mail primitives on a Rust core\n")

    _section(out, "Base64 (RFC 4648), the chapter's examples")
    for hexdata in ("14fb9c03d97e", "14", "14fb"):
        data = bytes.fromhex(hexdata)
        encoded = mp.base64.encode(data)
        six = "".join(f"{b:08b}" for b in data)
        groups = [six[i : i + 6].ljust(6, "0") for i in range(0, len(six), 6)]
        out.write(f"input 0x{hexdata}\n")
        out.write(f"  8-bit   {_bits(data)}\n")
        out.write(f"  6-bit   {' '.join(groups)}\n")
        out.write(f"  decimal {' '.join(str(int(g, 2)) for g in groups)}\n")
        out.write(f"  base64  {encoded.decode()}\n")
        assert mp.base64.decode(encoded, strict=True) == data

    _section(out, "Base64 as MIME bodies carry it: 76-character lines")
    body = bytes(range(256)) * 2
    wrapped = mp.base64.encode(body)
    lines = wrapped.split(b"\r\n")
    out.write(f"{len(body)} bytes -> {len(lines)} lines of <= 76 characters\n")
    out.write(f"  {lines[0].decode()}\n  ...\n  {lines[-1].decode()}\n")

    _section(out, "Quoted-printable (RFC 2045 §6.7)")
    text = (
        "Voilà l'été: a line that is rather long, with = signs and trailing spaces   \n"
        "and a second line.\n"
    )
    qp = mp.quoted_printable.encode(text.encode())
    for line in qp.decode().split("\r\n"):
        out.write(f"  {line}\n")
    assert mp.quoted_printable.decode(qp).decode() == text.replace("\n", "\r\n")

    _section(out, "RFC 2047 encoded words in headers")
    for subject in ("Hello", "Réunion à 15h", "Привет, Боб"):
        word = mp.encoded_word.encode(subject)
        out.write(f"  Subject: {word}\n     -> {mp.encoded_word.decode(word)}\n")
    example = "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"
    out.write(f"  {example}\n     -> {mp.encoded_word.decode(example)}\n")

    _section(out, "RFC 2231 parameters")
    disposition = "attachment; " + mp.params.encode("filename", "Überweisung März.pdf")
    out.write(f"  Content-Disposition: {disposition}\n")
    value, params = mp.params.decode(disposition)
    out.write(f"     -> {value}, filename={params['filename']!r}\n")
    out.write("\nok\n")
    return 0
