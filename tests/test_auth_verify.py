"""The verifier beyond single DKIM signatures: DMARC (RFC 7489: alignment, p/sp, pct, the
organizational domain from the public suffix list), ARC sealing and validation (RFC 8617,
with dkimpy's ``arc_verify`` as the oracle), SPF with a message, the Authentication-Results
field (read back by :mod:`mailprims.fields`), sync and async, ``msg.verify``, the Jupyter
table, hostile input (100 signatures, a TXT record as big as DNS carries, garbage key
records, a DNS server that never answers) and the command line. DNS is a server on
127.0.0.1 (``dns_zone``).
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator

import dkim
import pytest
from dns_zone import Zone, dns_server

import mailprims as mp
from mailprims.auth import ArcSealer, DkimKey, DkimSigner, Verifier
from mailprims.fields import AuthenticationResults

MESSAGE = (
    b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>\r\nSubject: Lunch\r\n"
    b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n"
    b"See you at noon.\r\n"
)


def with_from(address: str) -> bytes:
    return MESSAGE.replace(b"alice@example.org", address.encode())


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return DkimKey.generate("ed25519")


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    return DkimKey.generate("rsa")


@pytest.fixture(scope="module")
def zone(key: DkimKey, rsa_key: DkimKey) -> Zone:
    record = [("TXT", key.txt_record)]
    return Zone(
        {
            # ARC sealers use RSA: ARC verifiers (dkimpy's among them) know rsa-sha256 only.
            "r._domainkey.forwarder.example": [("TXT", rsa_key.txt_record)],
            "r._domainkey.list.example": [("TXT", rsa_key.txt_record)],
            "k._domainkey.example.org": record,
            "k._domainkey.news.example.org": record,
            "k._domainkey.example.co.uk": record,
            "k._domainkey.other.example": record,
            "k._domainkey.forwarder.example": record,
            "k._domainkey.list.example": record,
            "_dmarc.example.org": [
                ("TXT", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.org")
            ],
            "_dmarc.strict.example": [("TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")],
            "k._domainkey.mail.strict.example": record,
            "_dmarc.sampled.example": [("TXT", "v=DMARC1; p=reject; pct=0")],
            "_dmarc.quarantine.example": [("TXT", "v=DMARC1; p=quarantine; pct=0")],
            "_dmarc.example.co.uk": [("TXT", "v=DMARC1; p=quarantine")],
            "_dmarc.two.example": [("TXT", "v=DMARC1; p=reject"), ("TXT", "v=DMARC1; p=none")],
            # SPF for the envelope tests.
            "bounces.example.org": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")],
            "unrelated.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")],
            "mx.example.org": [("TXT", "v=spf1 a -all"), ("A", "192.0.2.9")],
            # Hostile keys.
            "garbage._domainkey.example.org": [("TXT", "v=DKIM1; k=rsa; p=!!!not base64###")],
            "junk._domainkey.example.org": [("TXT", "\x00\xff binary junk")],
            "huge._domainkey.example.org": [("TXT", "v=DKIM1; p=" + "A" * 63_000)],
        }
    )


@pytest.fixture(scope="module")
def dns(zone: Zone) -> Iterator[tuple[str, int]]:
    with dns_server(zone) as addr:
        yield addr


@pytest.fixture(scope="module")
def verifier(dns: tuple[str, int]) -> Verifier:
    return Verifier(nameservers=[dns], dns_timeout=1, timeout=10)


def signed(key: DkimKey, domain: str, message: bytes = MESSAGE, selector: str = "k") -> bytes:
    return bytes(DkimSigner(domain, selector, key).sign(message))


# ---- DMARC ---------------------------------------------------------------------------


def test_dmarc_relaxed_alignment_through_the_organizational_domain(
    verifier: Verifier, key: DkimKey
) -> None:
    # Signed by news.example.org, From example.org: aligned in relaxed mode.
    report = verifier.verify(signed(key, "news.example.org"))
    m = report.dmarc
    assert (m.result, m.domain, m.record_domain, m.dkim_aligned) == (
        "pass",
        "example.org",
        "example.org",
        True,
    )
    assert (m.policy, m.applied_policy, m.disposition) == ("reject", "reject", "none")
    # A signature by an unrelated domain does not align: DMARC fails, p=reject applies.
    report = verifier.verify(signed(key, "other.example"))
    assert report.dkim[0].result == "pass"
    assert (report.dmarc.result, report.dmarc.disposition) == ("fail", "reject")
    assert not report.passed


def test_dmarc_subdomain_policy_and_strict_alignment(verifier: Verifier, key: DkimKey) -> None:
    # From a subdomain without its own record: the organizational record's sp= applies.
    report = verifier.verify(signed(key, "other.example", with_from("a@deep.news.example.org")))
    assert (report.dmarc.record_domain, report.dmarc.applied_policy) == (
        "example.org",
        "quarantine",
    )
    assert report.dmarc.disposition == "quarantine"
    # adkim=s: mail.strict.example does not align with strict.example.
    report = verifier.verify(signed(key, "mail.strict.example", with_from("a@strict.example")))
    assert report.dkim[0].result == "pass"
    assert (report.dmarc.result, report.dmarc.dkim_aligned) == ("fail", False)


def test_dmarc_pct(verifier: Verifier, key: DkimKey) -> None:
    # pct=0: never selected, so the next less severe treatment (RFC 7489 §6.6.4).
    report = verifier.verify(signed(key, "other.example", with_from("a@sampled.example")))
    assert (report.dmarc.result, report.dmarc.pct, report.dmarc.disposition) == (
        "fail",
        0,
        "quarantine",
    )
    report = verifier.verify(signed(key, "other.example", with_from("a@quarantine.example")))
    assert report.dmarc.disposition == "none"


def test_dmarc_public_suffix_list(verifier: Verifier, key: DkimKey) -> None:
    # mail.example.co.uk's organizational domain is example.co.uk, not co.uk.
    message = with_from("a@mail.example.co.uk")
    report = verifier.verify(signed(key, "example.co.uk", message))
    assert (report.dmarc.result, report.dmarc.record_domain) == ("pass", "example.co.uk")


def test_dmarc_none_cases(verifier: Verifier, key: DkimKey) -> None:
    assert (
        verifier.verify(signed(key, "other.example", with_from("a@nodmarc.example"))).dmarc.result
        == "none"
    )
    # Two records: DMARC does not apply (RFC 7489 §6.6.3).
    assert (
        verifier.verify(signed(key, "other.example", with_from("a@two.example"))).dmarc.result
        == "none"
    )
    # Several From domains: not evaluated.
    both = MESSAGE.replace(
        b"From: Alice <alice@example.org>", b"From: a@example.org, b@other.example"
    )
    report = verifier.verify(both)
    assert report.dmarc.result == "none" and "several" in (report.dmarc.reason or "")


def test_spf_aligned_pass_without_dkim(verifier: Verifier) -> None:
    report = verifier.verify(
        MESSAGE, ip="192.0.2.7", helo="mx.example.net", mail_from="x@bounces.example.org"
    )
    assert report.spf is not None
    assert (report.spf.result, report.spf.identity, report.spf.domain) == (
        "pass",
        "mailfrom",
        "bounces.example.org",
    )
    assert (report.dmarc.result, report.dmarc.spf_aligned) == ("pass", True)
    # An SPF pass for an unrelated domain does not align.
    report = verifier.verify(MESSAGE, ip="192.0.2.7", mail_from="x@unrelated.example")
    assert report.spf is not None and report.spf.result == "pass"
    assert report.dmarc.result == "fail"
    # A null reverse path: SPF checks the HELO name; an IPv4-mapped address is IPv4.
    s = verifier.check_spf("::ffff:192.0.2.9", mail_from="", helo="mx.example.org")
    assert (s.result, s.identity, s.ip) == ("pass", "helo", "192.0.2.9")
    s = verifier.check_spf("198.51.100.1", mail_from="<x@bounces.example.org>")
    assert s.result == "fail"


# ---- Authentication-Results, async, msg.verify, HTML ---------------------------------


def test_header_reads_back(verifier: Verifier, key: DkimKey) -> None:
    report = verifier.verify(
        signed(key, "example.org"), ip="192.0.2.7", mail_from="x@bounces.example.org"
    )
    field = report.header("mx.example.com")
    name, _, value = field.partition(":")
    assert name == "Authentication-Results"
    parsed = AuthenticationResults.parse(value)
    assert parsed.authserv_id == "mx.example.com"
    assert [(r.method, r.result) for r in parsed.results] == [
        ("dkim", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
        ("arc", "none"),
    ]
    assert parsed.get("dkim").properties["header.d"] == "example.org"
    assert parsed.get("spf").properties["smtp.mailfrom"] == "x@bounces.example.org"
    # Prepended, the message reads it as any other Authentication-Results.
    msg = mp.Message.parse(field.encode() + b"\r\n" + signed(key, "example.org"))
    assert [r.method for r in msg.authentication_results] == ["dkim", "spf", "dmarc", "arc"]
    with pytest.raises(mp.AuthError):
        report.header("bad; id")


def test_async_and_message_verify(verifier: Verifier, key: DkimKey) -> None:
    data = signed(key, "example.org")

    async def main() -> list[str]:
        reports = await asyncio.gather(*(verifier.verify_async(data) for _ in range(5)))
        return [r.dkim[0].result for r in reports]

    assert asyncio.run(main()) == ["pass"] * 5
    msg = mp.Message.parse(data)
    report = msg.verify(verifier)
    assert report.passed and report.dkim[0].domain == "example.org"
    assert repr(report) == "<AuthReport dkim=pass(example.org) dmarc=pass arc=none>"
    assert report.to_dict()["dkim"][0]["result"] == "pass"
    json.dumps(report.to_dict())


def test_html_table_escapes(verifier: Verifier, key: DkimKey) -> None:
    hostile = with_from("<script>alert(1)</script>@example.org")
    html = verifier.verify(hostile)._repr_html_()
    assert "<script>" not in html and "<table" in html
    html = verifier.verify(signed(key, "example.org"))._repr_html_()
    assert "DKIM" in html and "pass" in html and "d=example.org" in html


# ---- ARC -----------------------------------------------------------------------------


def test_arc_seal_and_validate(verifier: Verifier, key: DkimKey, rsa_key: DkimKey) -> None:
    original = signed(key, "example.org")
    hop1 = ArcSealer("forwarder.example", "r", rsa_key).seal(
        original,
        verifier=verifier,
        authserv_id="mx.forwarder.example",
        ip="192.0.2.7",
        mail_from="x@bounces.example.org",
    )
    assert [s.instance for s in hop1.arc_sets] == [1]
    aar = hop1.arc_sets[0].authentication_results
    assert aar is not None and aar.authserv_id == "mx.forwarder.example"
    assert aar.get("dkim").result == "pass" and aar.get("spf").result == "pass"
    report = verifier.verify(hop1)
    assert (report.arc.result, report.arc.instances, report.arc.sealers) == (
        "pass",
        1,
        ["forwarder.example"],
    )
    # A mailing list checks on arrival, changes the subject, then seals with the arrival
    # report: the original DKIM signature breaks, the ARC chain still passes.
    arrival = verifier.verify(hop1)
    changed = bytes(hop1).replace(b"Subject: Lunch", b"Subject: [list] Lunch")
    list_sealer = ArcSealer("list.example", "r", rsa_key)
    hop2 = list_sealer.seal(
        changed, report=arrival, verifier=verifier, authserv_id="lists.list.example"
    )
    report = verifier.verify(hop2)
    assert report.dkim[0].result == "fail"
    assert (report.arc.result, report.arc.instances) == ("pass", 2)
    assert hop2.arc_sets[1].seal is not None and hop2.arc_sets[1].seal.chain_validation == "pass"
    # dkimpy's ARC verifier agrees.
    records = {
        f"r._domainkey.{d}.".encode(): rsa_key.txt_record.encode()
        for d in ("forwarder.example", "list.example")
    }
    cv, _, reason = dkim.arc_verify(bytes(hop2), dnsfunc=lambda n, timeout=5: records.get(n))
    assert cv == dkim.CV_Pass, reason
    # Changed after the last seal: the chain fails, and a failed chain is not sealed again.
    tampered = bytes(hop2).replace(b"See you at noon.", b"See you at one.")
    assert verifier.verify(tampered).arc.result == "fail"
    hop3 = list_sealer.seal(tampered, verifier=verifier, authserv_id="x.list.example")
    assert hop3.arc_sets[2].seal is not None and hop3.arc_sets[2].seal.chain_validation == "fail"
    with pytest.raises(mp.AuthError, match="cv=fail"):
        list_sealer.seal(hop3, verifier=verifier, authserv_id="x.list.example")
    # Sealing without the changes' arrival report checks the changed message: cv=fail.
    bad = list_sealer.seal(changed, verifier=verifier, authserv_id="x.list.example")
    assert bad.arc_sets[1].seal is not None and bad.arc_sets[1].seal.chain_validation == "fail"
    with pytest.raises(mp.AuthError, match="ARC set"):
        list_sealer.seal(MESSAGE, report=arrival, verifier=verifier, authserv_id="x.list.example")


# ---- hostile input -------------------------------------------------------------------


def test_a_hundred_signatures_are_capped(verifier: Verifier, key: DkimKey) -> None:
    data = MESSAGE
    signer = DkimSigner("example.org", "k", key, body_length=True)
    for _ in range(100):
        data = bytes(signer.sign(data))
    report = verifier.verify(data)
    assert (len(report.dkim), report.dkim_skipped) == (5, 95)
    assert all(d.result == "pass" for d in report.dkim)
    # Malformed ones count against the cap too.
    junk = b"".join(b"DKIM-Signature: v=1; a=rsa-sha256; l=%d; junk\r\n" % i for i in range(100))
    report = Verifier(nameservers=verifier_ns(verifier), max_signatures=3).verify(junk + MESSAGE)
    assert (len(report.dkim), report.dkim_skipped) == (3, 97)
    assert {d.result for d in report.dkim} == {"neutral"}


def verifier_ns(v: Verifier) -> list[str]:
    return [repr(v).split("[")[1].split("]")[0]]


@pytest.mark.parametrize("selector", ["garbage", "junk", "huge", "missing"])
def test_bad_key_records_are_permerror(verifier: Verifier, key: DkimKey, selector: str) -> None:
    report = verifier.verify(signed(key, "example.org", selector=selector))
    assert report.dkim[0].result == "permerror", report.dkim[0]
    assert report.dkim[0].reason


def test_the_huge_record_came_over_tcp(verifier: Verifier, key: DkimKey, zone: Zone) -> None:
    verifier.verify(signed(key, "example.org", selector="huge"))
    assert ("huge._domainkey.example.org", "TXT") in zone.queries


def test_a_silent_dns_server_gives_temperror_in_bounded_time(key: DkimKey) -> None:
    with dns_server(Zone(silent=True)) as addr:
        v = Verifier(nameservers=[addr], dns_timeout=0.3, timeout=3)
        started = time.monotonic()
        report = v.verify(signed(key, "example.org"), ip="192.0.2.7", mail_from="x@example.org")
        elapsed = time.monotonic() - started
    assert report.dkim[0].result == "temperror"
    assert report.spf is not None and report.spf.result == "temperror"
    assert report.dmarc.result == "temperror"
    # The verifier's own bound (3 s), with room for a loaded machine; never minutes.
    assert elapsed < 10


@pytest.mark.parametrize(
    "data",
    [b"", b"\r\n\r\nbody only", b"no colon line\r\n\r\n", os.urandom(4096), b"From:\r\n\r\n"],
    ids=["empty", "no-headers", "garbage-header", "random", "empty-from"],
)
def test_malformed_messages_are_results(verifier: Verifier, data: bytes) -> None:
    report = verifier.verify(data)
    assert report.dmarc.result in ("none", "temperror")
    report.header("mx.example.com")


def test_verifier_options() -> None:
    assert "127.0.0.1:5353" in repr(Verifier(nameservers="127.0.0.1:5353"))
    assert "[::1]:53" in repr(Verifier(nameservers=["::1"]))
    assert "192.0.2.1:5300" in repr(Verifier(nameservers=[("192.0.2.1", 5300)]))
    for bad in ({"nameservers": ["dns.example"]}, {"timeout": 0}, {"max_signatures": 0}):
        with pytest.raises(mp.AuthError):
            Verifier(**bad)  # type: ignore[arg-type]
    with pytest.raises(mp.AuthError):
        Verifier(nameservers=["127.0.0.1"]).verify(MESSAGE, ip="not an ip")
    with pytest.raises(TypeError):
        Verifier(nameservers=["127.0.0.1"]).verify(12)  # type: ignore[arg-type]


# ---- the command line ----------------------------------------------------------------


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "mailprims", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_cli_keygen_sign_verify(tmp_path: pathlib.Path, dns: tuple[str, int], zone: Zone) -> None:
    keyfile = tmp_path / "2026.pem"
    done = cli(
        "dkim",
        "keygen",
        "--type",
        "ed25519",
        "--selector",
        "cli",
        "--domain",
        "example.org",
        "--out",
        str(keyfile),
    )
    assert done.returncode == 0, done.stderr
    record = done.stdout.decode().splitlines()[-1]
    assert record.startswith('cli._domainkey.example.org. IN TXT "v=DKIM1; k=ed25519; p=')
    assert keyfile.stat().st_mode & 0o777 == 0o600
    again = cli(
        "dkim", "keygen", "--selector", "cli", "--domain", "example.org", "--out", str(keyfile)
    )
    assert again.returncode == 1 and b"exists" in again.stderr
    zone.add("cli._domainkey.example.org", ("TXT", record.split('"')[1]))

    (tmp_path / "m.eml").write_bytes(MESSAGE)
    done = cli(
        "dkim",
        "sign",
        "--key",
        str(keyfile),
        "--domain",
        "example.org",
        "--selector",
        "cli",
        str(tmp_path / "m.eml"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256; s=cli;")
    (tmp_path / "signed.eml").write_bytes(done.stdout)

    ns = f"{dns[0]}:{dns[1]}"
    done = cli(
        "verify",
        "--nameserver",
        ns,
        "--authserv-id",
        "mx.test",
        str(tmp_path / "signed.eml"),
        str(tmp_path / "m.eml"),
    )
    out = done.stdout.decode()
    assert done.returncode == 3, (out, done.stderr)
    assert f"{tmp_path / 'signed.eml'}: pass" in out and f"{tmp_path / 'm.eml'}: FAIL" in out
    assert "dkim   pass      d=example.org s=cli" in out
    assert "Authentication-Results: mx.test;" in out
    done = cli(
        "verify", "--nameserver", ns, "--json", "-", stdin=(tmp_path / "signed.eml").read_bytes()
    )
    assert done.returncode == 0
    assert json.loads(done.stdout)["dkim"][0]["result"] == "pass"
    assert cli("verify", str(tmp_path / "nothere.eml")).returncode == 1
