"""DKIM against dkimpy (PyPI), the oracle, in both directions: what dkimpy signs, mailprims
verifies (its key published on a DNS server on 127.0.0.1), and what mailprims signs, dkimpy
verifies (its ``dnsfunc`` given the key record). RSA-SHA256 and Ed25519-SHA256 (RFC 8463),
relaxed and simple canonicalization, folded headers, 8-bit bodies, trailing blank lines, and
tampered copies that must fail. Keys are also checked against OpenSSL's reading of them, and
RFC 8463 Appendix A's message verifies (``tests/data/auth``).
"""

from __future__ import annotations

import base64
import os
import pathlib
import shutil
import subprocess
from collections.abc import Iterator

import dkim
import pytest
from dns_zone import Zone, dns_server

import mailprims as mp
from mailprims.auth import DkimKey, DkimSigner, Verifier

DATA = pathlib.Path(__file__).parent / "data" / "auth"
DOMAIN = "example.org"

MESSAGES = {
    "plain": (
        b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>\r\n"
        b"Subject: Lunch\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        b"Message-ID: <1@example.org>\r\n\r\nSee you at noon.\r\n"
    ),
    "folded": (
        b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>,\r\n"
        b"\tCarol <carol@example.com>\r\nSubject:   A subject\r\n  folded  over\r\n"
        b"\t three lines\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        b"X-Trailing: spaces   \r\nMessage-ID: <2@example.org>\r\n\r\n"
        b"Body  with   runs of  spaces \t\r\nand a tab\t\r\n"
    ),
    "8bit": (
        "From: Zoë <zoe@example.org>\r\nTo: bob@example.com\r\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        "Message-ID: <3@example.org>\r\n\r\nGrüße aus Zürich — ça va?\r\nŁódź\r\n"
    ).encode()
    + b"latin-1 byte: \xe9\r\n",
    "trailing-blank-lines": (
        b"From: alice@example.org\r\nTo: bob@example.com\r\nSubject: blanks\r\n"
        b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <4@example.org>\r\n\r\n"
        b"text\r\n\r\n\r\n\r\n"
    ),
    "empty-body": (
        b"From: alice@example.org\r\nTo: bob@example.com\r\nSubject: nothing\r\n"
        b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <5@example.org>\r\n\r\n"
    ),
}
CANONICALIZATIONS = ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    return DkimKey.generate("rsa")


@pytest.fixture(scope="module")
def ed_seed() -> bytes:
    """An Ed25519 key as dkimpy keeps it: the base64 of the 32-byte seed (RFC 8463 A.1)."""
    return base64.b64encode(os.urandom(32))


@pytest.fixture(scope="module")
def ed_key(ed_seed: bytes) -> DkimKey:
    return DkimKey.load(ed_seed)


@pytest.fixture(scope="module")
def dns(rsa_key: DkimKey, ed_key: DkimKey) -> Iterator[tuple[str, int]]:
    zone = Zone(
        {
            f"rsa._domainkey.{DOMAIN}": [("TXT", rsa_key.txt_record)],
            f"ed._domainkey.{DOMAIN}": [("TXT", ed_key.txt_record)],
            # From domain policy: DMARC with a reject policy.
            f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=reject")],
        }
    )
    with dns_server(zone) as addr:
        yield addr


@pytest.fixture(scope="module")
def verifier(dns: tuple[str, int]) -> Verifier:
    return Verifier(nameservers=[dns], dns_timeout=2, timeout=10)


def dkimpy_dns(rsa_key: DkimKey, ed_key: DkimKey):  # type: ignore[no-untyped-def]
    records = {
        f"rsa._domainkey.{DOMAIN}.".encode(): rsa_key.txt_record.encode(),
        f"ed._domainkey.{DOMAIN}.".encode(): ed_key.txt_record.encode(),
    }

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name if name.endswith(b".") else name + b".")

    return dnsfunc


def dkimpy_sign(
    message: bytes,
    algorithm: str,
    canon: str,
    rsa_key: DkimKey,
    ed_seed: bytes,
    *,
    length: bool = False,
) -> bytes:
    header_c, body_c = canon.split("/")
    if algorithm == "rsa":
        selector, key, alg = b"rsa", rsa_key.private_pem().encode(), b"rsa-sha256"
    else:
        selector, key, alg = b"ed", ed_seed, b"ed25519-sha256"
    field = dkim.sign(
        message,
        selector,
        DOMAIN.encode(),
        key,
        canonicalize=(header_c.encode(), body_c.encode()),
        signature_algorithm=alg,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
        length=length,
    )
    return field + message


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
@pytest.mark.parametrize("canon", CANONICALIZATIONS)
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_dkimpy_signs_mailprims_verifies(
    verifier: Verifier,
    rsa_key: DkimKey,
    ed_seed: bytes,
    algorithm: str,
    canon: str,
    name: str,
) -> None:
    signed = dkimpy_sign(MESSAGES[name], algorithm, canon, rsa_key, ed_seed)
    report = verifier.verify(signed)
    assert [(d.result, d.domain) for d in report.dkim] == [("pass", DOMAIN)], report.dkim
    assert report.dkim[0].algorithm == f"{algorithm}-sha256"
    assert report.dmarc.result == "pass" and report.dmarc.disposition == "none"

    # Tampered copies fail: a signed header changed, the body changed.
    header_tampered = signed.replace(b"Subject:", b"Subject: [SPAM]", 1)
    body_tampered = signed + b"P.S. one more line\r\n"
    for copy in (header_tampered, body_tampered):
        report = verifier.verify(copy)
        assert report.dkim[0].result == "fail", report.dkim[0]
        assert report.dmarc.result == "fail" and report.dmarc.disposition == "reject"


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
@pytest.mark.parametrize("canon", CANONICALIZATIONS)
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_mailprims_signs_dkimpy_verifies(
    rsa_key: DkimKey, ed_key: DkimKey, algorithm: str, canon: str, name: str
) -> None:
    key, selector = (rsa_key, "rsa") if algorithm == "rsa" else (ed_key, "ed")
    signer = DkimSigner(DOMAIN, selector, key, canonicalization=canon)
    signed = bytes(signer.sign(MESSAGES[name]))
    dnsfunc = dkimpy_dns(rsa_key, ed_key)
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert not dkim.verify(signed.replace(b"Subject:", b"Subject: [SPAM]", 1), dnsfunc=dnsfunc)
    assert not dkim.verify(signed + b"appended\r\n", dnsfunc=dnsfunc)
    # Oversigning: a second From added on top breaks the signature for dkimpy too.
    assert not dkim.verify(b"From: mallory@example.net\r\n" + signed, dnsfunc=dnsfunc)


def test_several_signers_on_one_message(
    rsa_key: DkimKey, ed_key: DkimKey, verifier: Verifier
) -> None:
    signed = mp.auth.sign(
        MESSAGES["plain"],
        [DkimSigner(DOMAIN, "rsa", rsa_key), DkimSigner(DOMAIN, "ed", ed_key)],
    )
    assert [s.algorithm for s in signed.dkim_signatures] == ["rsa-sha256", "ed25519-sha256"]
    assert [d.result for d in verifier.verify(signed).dkim] == ["pass", "pass"]
    # dkimpy checks the first signature; both verify with it (index picks which).
    dnsfunc = dkimpy_dns(rsa_key, ed_key)
    d = dkim.DKIM(bytes(signed))
    assert d.verify(idx=0, dnsfunc=dnsfunc) and d.verify(idx=1, dnsfunc=dnsfunc)


def test_body_length_extension_is_not_a_pass(
    rsa_key: DkimKey, ed_key: DkimKey, ed_seed: bytes, verifier: Verifier
) -> None:
    message = MESSAGES["folded"]
    # dkimpy's l= counts the canonicalized body, as mailprims' signer does.
    ours = bytes(DkimSigner(DOMAIN, "ed", ed_key, body_length=True).sign(message))
    theirs = dkimpy_sign(message, "ed25519", "relaxed/relaxed", rsa_key, ed_seed, length=True)
    assert ours.split(b" l=")[1].split(b";")[0] == theirs.split(b" l=")[1].split(b";")[0]
    dnsfunc = dkimpy_dns(rsa_key, ed_key)
    assert dkim.verify(ours, dnsfunc=dnsfunc)
    for signed in (ours, theirs):
        assert verifier.verify(signed).dkim[0].result == "pass"
        extended = signed + b"\r\nClick http://evil.example/ now\r\n"
        # dkimpy accepts the addition (RFC 6376 allows it); mailprims reports "policy".
        assert dkim.verify(extended, dnsfunc=dnsfunc)
        check = verifier.verify(extended).dkim[0]
        assert check.result == "policy" and "unsigned" in (check.reason or "")
        assert verifier.verify(extended).dmarc.result == "fail"


def test_signer_options(ed_key: DkimKey, rsa_key: DkimKey) -> None:
    signer = DkimSigner(
        DOMAIN,
        "ed",
        ed_key,
        headers=["From", "To", "Subject", "X-Custom"],
        oversign=["From"],
        expires=3600,
        identity="alice@news.example.org",
    )
    signed = signer.sign(MESSAGES["plain"])
    sig = signed.dkim_signatures[0]
    assert sig.headers == ("Subject", "To", "From", "From")
    assert sig.identity == "alice@news.example.org"
    assert sig.timestamp is not None and sig.expiration is not None
    assert (sig.expiration - sig.timestamp).total_seconds() == 3600
    assert dkim.verify(bytes(signed), dnsfunc=dkimpy_dns(rsa_key, ed_key))
    # The default list signs what is present and oversigns From, Subject, To, Date...
    default = DkimSigner(DOMAIN, "ed", ed_key).sign(MESSAGES["plain"]).dkim_signatures[0]
    assert [h.lower() for h in default.headers].count("from") == 2
    assert "Cc" in default.headers and "List-Id" not in default.headers
    # Bad options are AuthError (a ValueError), naming the problem.
    with pytest.raises(mp.AuthError, match="i="):
        DkimSigner(DOMAIN, "ed", ed_key, identity="a@other.example")
    with pytest.raises(mp.AuthError, match="From"):
        DkimSigner(DOMAIN, "ed", ed_key, headers=["To"])
    with pytest.raises(ValueError, match="canonicalization"):
        DkimSigner(DOMAIN, "ed", ed_key, canonicalization="loose")
    with pytest.raises(mp.AuthError):
        DkimSigner("not a domain", "ed", ed_key)


def test_bare_lf_input_is_signed_as_it_will_travel(ed_key: DkimKey, rsa_key: DkimKey) -> None:
    lf = MESSAGES["folded"].replace(b"\r\n", b"\n")
    signed = bytes(DkimSigner(DOMAIN, "ed", ed_key, canonicalization="simple/simple").sign(lf))
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert dkim.verify(signed, dnsfunc=dkimpy_dns(rsa_key, ed_key))


def test_rfc8463_appendix_a() -> None:
    """RFC 8463 A.3: one message, an Ed25519 and an RSA signature, keys from A.2."""
    ed = DkimKey.load((DATA / "rfc8463-ed25519-seed.txt").read_text())
    assert ed.txt_record == "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    rsa = DkimKey.load(DATA / "rfc8463-rsa-private.pem")
    zone = Zone()
    for line in (DATA / "rfc8463-zone.txt").read_text().splitlines():
        name, _, _, value = line.split(" ", 3)
        zone.add(name, ("TXT", value.strip('"')))
    # The published RSA record is the one derived from the private key.
    assert rsa.txt_record.split("p=")[1] in (DATA / "rfc8463-zone.txt").read_text()
    with dns_server(zone) as addr:
        report = Verifier(nameservers=[addr]).verify((DATA / "rfc8463-message.eml").read_bytes())
    assert [(d.result, d.selector, d.algorithm) for d in report.dkim] == [
        ("pass", "brisbane", "ed25519-sha256"),
        ("pass", "test", "rsa-sha256"),
    ]
    # dkimpy agrees.
    records = {
        b"brisbane._domainkey.football.example.com.": ed.txt_record.encode(),
        b"test._domainkey.football.example.com.": rsa.txt_record.encode(),
    }
    d = dkim.DKIM((DATA / "rfc8463-message.eml").read_bytes())
    assert d.verify(idx=0, dnsfunc=lambda n, timeout=5: records.get(n))
    assert d.verify(idx=1, dnsfunc=lambda n, timeout=5: records.get(n))


def test_1024_bit_rsa_verifies_but_does_not_sign() -> None:
    rsa = DkimKey.load((DATA / "rfc8463-rsa-private.pem").read_bytes())
    assert (rsa.kind, rsa.bits, rsa.can_sign) == ("rsa", 1024, False)
    assert rsa.dns_record("test", "football.example.com").startswith(
        'test._domainkey.football.example.com. IN TXT "v=DKIM1; k=rsa; p=MIGfMA0G'
    )
    with pytest.raises(mp.AuthError, match="2048 bits") as info:
        DkimSigner("football.example.com", "test", rsa)
    assert info.value.kind == "cannot_sign"


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["openssl", *args], input=data, capture_output=True, check=True, timeout=60
    ).stdout


@needs_openssl
@pytest.mark.parametrize(
    "genargs",
    [
        ("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),  # PKCS#8
        ("genrsa", "-traditional", "2048"),  # PKCS#1
        ("genpkey", "-algorithm", "ed25519"),  # PKCS#8 (RFC 8410)
    ],
    ids=["rsa-pkcs8", "rsa-pkcs1", "ed25519-pkcs8"],
)
def test_keys_read_as_openssl_reads_them(genargs: tuple[str, ...], tmp_path: pathlib.Path) -> None:
    pem = _openssl(*genargs)
    key = DkimKey.load(pem)
    spki = _openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    if key.kind == "rsa":
        assert key.public_key == spki and key.bits == 2048 and key.can_sign
    else:
        # RFC 8463 §4.2: p= is the raw 32-byte key, the tail of the SubjectPublicKeyInfo.
        assert key.public_key == spki[-32:] and key.kind == "ed25519"
    # What mailprims writes, OpenSSL reads back to the same key.
    again = _openssl("pkey", "-pubout", "-outform", "DER", data=key.private_pem().encode())
    assert again == spki
    (tmp_path / "k.pem").write_bytes(pem)
    assert DkimKey.load(tmp_path / "k.pem").public_key == key.public_key


def test_key_errors() -> None:
    for bad in (
        b"",
        "not a key",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ):
        with pytest.raises(mp.AuthError) as info:
            DkimKey.load(bad)
        assert info.value.kind == "key"
    with pytest.raises(mp.AuthError):
        DkimKey.generate("dsa")
    with pytest.raises(mp.AuthError, match="2048"):
        DkimKey.generate("rsa", bits=1024)
    key = DkimKey.generate("ed25519")
    assert repr(key) == "DkimKey(kind='ed25519', bits=256)"
    assert "PRIVATE" not in repr(key)
