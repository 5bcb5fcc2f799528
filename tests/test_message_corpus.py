"""Golden tests over tests/corpus/: every message, with LF and with CRLF line endings.

Each ``*.eml`` has a ``*.json`` beside it: what mailprims reads from it (fields, trace, MIME
tree, bodies, defect kinds). The origin of every file is in ``corpus/origins.json``. Texts are
compared with line endings normalised to LF so that one expectation serves both variants.

Regenerate the expectations after a deliberate change with
``python tests/test_message_corpus.py --regen`` and review the diff.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import mailprims as mp

CORPUS = Path(__file__).parent / "corpus"
ORIGINS: dict[str, str] = json.loads((CORPUS / "origins.json").read_text(encoding="utf-8"))
FILES = sorted(CORPUS.glob("*/*.eml"))


def to_lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def to_crlf(data: bytes) -> bytes:
    return re.sub(rb"(?<!\r)\n", b"\r\n", to_lf(data))


def norm(text: str | None) -> str | None:
    return None if text is None else text.replace("\r\n", "\n")


def addresses(addrs: list[mp.Address]) -> list[list[str | None]]:
    return [[a.name, a.email, a.group] for a in addrs]


def iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


def part_summary(p: mp.Part, index: dict[int, int]) -> dict[str, Any]:
    payload = to_lf(p.payload)
    inner = p.message
    return {
        "type": p.content_type.mime_type,
        "params": p.content_type.params,
        "charset": p.charset,
        "filename": p.filename,
        "disposition": p.disposition,
        "content_id": p.content_id,
        "transfer_encoding": p.transfer_encoding,
        "multipart": p.is_multipart,
        "children": len(p.parts),
        "payload_size": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest()[:16],
        "text": norm(p.text),
        "message_subject": None if inner is None else inner.subject,
    }


def summary(msg: mp.Message) -> dict[str, Any]:
    parts = list(msg.walk())
    index = {id(p): i for i, p in enumerate(parts)}
    return {
        "headers": [[h.name, norm(h.value)] for h in msg.headers.fields()],
        "subject": msg.subject,
        "from": addresses(msg.from_),
        "sender": addresses(msg.sender),
        "to": addresses(msg.to),
        "cc": addresses(msg.cc),
        "bcc": addresses(msg.bcc),
        "reply_to": addresses(msg.reply_to),
        "date": iso(msg.date),
        "message_id": msg.message_id,
        "in_reply_to": msg.in_reply_to,
        "references": msg.references,
        "mime_version": msg.mime_version,
        "content_type": str(msg.content_type),
        "received": [
            {
                "from_host": r.from_host,
                "from_ip": r.from_ip,
                "from_rdns": r.from_rdns,
                "by_host": r.by_host,
                "via": r.via,
                "protocol": r.protocol,
                "id": r.id,
                "for": r.for_,
                "date": iso(r.date),
                "tls_version": r.tls_version,
                "tls_cipher": r.tls_cipher,
            }
            for r in msg.received
        ],
        "parts": [part_summary(p, index) for p in parts],
        "text": norm(msg.text),
        "html": norm(msg.html),
        "attachments": [index[id(p)] for p in msg.attachments],
        "defects": [d.kind for d in msg.defects],
    }


def test_corpus_is_not_empty() -> None:
    # Guards against a moved directory silently turning every golden test into a no-op.
    assert len(FILES) >= 40
    for kind in ("rfc", "seed", "feature", "malformed"):
        assert any(f.parent.name == kind for f in FILES), kind


def test_every_file_has_an_origin_and_an_expectation() -> None:
    names = {f.relative_to(CORPUS).as_posix() for f in FILES}
    assert names == set(ORIGINS)
    for f in FILES:
        assert f.with_suffix(".json").exists(), f


@pytest.mark.parametrize("ending", ["lf", "crlf"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_golden(path: Path, ending: str) -> None:
    raw = path.read_bytes()
    data = to_lf(raw) if ending == "lf" else to_crlf(raw)
    msg = mp.Message.parse(data)
    assert bytes(msg) == data
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert summary(msg) == expected


def regenerate() -> None:
    for path in FILES:
        msg = mp.Message.parse(to_lf(path.read_bytes()))
        text = json.dumps(summary(msg), indent=1, ensure_ascii=False, sort_keys=True)
        path.with_suffix(".json").write_text(text + "\n", encoding="utf-8")
        print("wrote", path.with_suffix(".json").relative_to(CORPUS))


if __name__ == "__main__":
    if "--regen" in sys.argv:
        regenerate()
