"""Authentication-Results (RFC 8601), ARC (RFC 8617), DKIM-Signature (RFC 6376) and List-*
(RFC 2369, 2919, 8058) fields, read into :mod:`mailprims.fields`.

Samples and where they come from:

- RFC 8601 Appendix B.2-B.7 and §2.7.6, verbatim (folding as printed).
- RFC 6376 §3.5, the example DKIM-Signature, verbatim.
- RFC 8617 Appendix B example 1: ``tests/corpus/rfc/rfc8617-appendix-b-example-1.eml``.
- RFC 2369 §3, RFC 2919 §3 and RFC 8058 §8 examples, verbatim.
- Real-world forms written for mailprims from what the named software emits (hosts,
  addresses and signature values replaced by documentation values): Gmail
  (``tests/corpus/feature/gmail-newsletter-auth.eml``), Microsoft 365 / Exchange Online,
  Postfix with OpenDKIM, OpenDMARC and policyd-spf, and Mailman (CPython's msg_16.txt).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mailprims as mp
from mailprims import _mailprims
from mailprims.fields import ArcSeal, AuthenticationResults, DkimSignature

CORPUS = Path(__file__).parent / "corpus"
UTC = datetime.timezone.utc


def results(value: str) -> list[tuple[str, str]]:
    return [(r.method, r.result) for r in AuthenticationResults.parse(value).results]


# ---- RFC 8601 -------------------------------------------------------------------------


def test_rfc8601_b2_none() -> None:
    # Appendix B.2: the service is provided, nothing was authenticated.
    a = AuthenticationResults.parse(" example.org 1; none")
    assert (a.authserv_id, a.version, a.results) == ("example.org", "1", ())


def test_rfc8601_b3_b4_b5() -> None:
    # Appendix B.3.
    a = AuthenticationResults.parse(
        " example.com;\n                  spf=pass smtp.mailfrom=example.net"
    )
    assert a.results[0].properties == {"smtp.mailfrom": "example.net"}
    assert a.results[0].authserv_id == "example.com"
    # Appendix B.4, both fields.
    a = AuthenticationResults.parse(
        " example.com;\n              auth=pass (cram-md5) smtp.auth=sender@example.net;\n"
        "              spf=pass smtp.mailfrom=example.net"
    )
    assert [(r.method, r.result, r.comments) for r in a.results] == [
        ("auth", "pass", ("cram-md5",)),
        ("spf", "pass", ()),
    ]
    assert (
        a.get("AUTH") is not None and a.get("AUTH").properties["smtp.auth"] == "sender@example.net"
    )
    a = AuthenticationResults.parse(
        " example.com; iprev=pass\n              policy.iprev=192.0.2.200"
    )
    assert a.results[0].properties == {"policy.iprev": "192.0.2.200"}
    # Appendix B.5.
    assert results(
        " example.com;\n              dkim=pass (good signature) header.d=example.com"
    ) == [("dkim", "pass")]


def test_rfc8601_b6_reasons() -> None:
    a = AuthenticationResults.parse(
        ' example.com;\n    dkim=pass reason="good signature"\n'
        "      header.i=@mail-router.example.net;\n"
        '    dkim=fail reason="bad signature"\n      header.i=@newyork.example.com'
    )
    assert [(r.result, r.reason, r.properties["header.i"]) for r in a.results] == [
        ("pass", "good signature", "@mail-router.example.net"),
        ("fail", "bad signature", "@newyork.example.com"),
    ]


def test_rfc8601_b7_comment_heavy() -> None:
    a = AuthenticationResults.parse(
        " foo.example.net (foobar) 1 (baz);\n"
        "    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\n"
        "      policy (A dot can go here) . (like that) expired\n"
        "      (this surprised me) = (as I wasn't expecting it) 1362471462"
    )
    assert (a.authserv_id, a.version) == ("foo.example.net", "1")
    (r,) = a.results
    assert (r.method, r.method_version, r.result) == ("dkim", "1", "fail")
    assert r.properties == {"policy.expired": "1362471462"}
    assert r.comments[-1] == "as I wasn't expecting it"


def test_rfc8601_2_7_6_extension_method() -> None:
    # §2.7.6: an extension method with its detail in a comment.
    a = AuthenticationResults.parse(
        " example.com;\n          foo=pass bar.baz=blob (2 of 3 tests OK)"
    )
    assert (a.results[0].method, a.results[0].properties, a.results[0].comments) == (
        "foo",
        {"bar.baz": "blob"},
        ("2 of 3 tests OK",),
    )


# ---- real-world Authentication-Results ------------------------------------------------


def test_gmail_message() -> None:
    msg = mp.Message.parse_file(CORPUS / "feature" / "gmail-newsletter-auth.eml")
    got = [(r.authserv_id, r.method, r.result) for r in msg.authentication_results]
    assert got == [
        ("mx.google.com", "dkim", "pass"),
        ("mx.google.com", "spf", "pass"),
        ("mx.google.com", "dmarc", "pass"),
    ]
    dkim, spf, dmarc = msg.authentication_results
    assert dkim.properties == {
        "header.i": "@news.example.com",
        "header.s": "s1",
        "header.b": "Zx8AbC12",
    }
    # A quoted pvalue, and Gmail's explanation kept as a comment.
    assert spf.properties["smtp.mailfrom"] == "bounce+abc@mail.news.example.com"
    assert spf.comments[0].startswith("google.com: domain of bounce+abc@")
    assert dmarc.comments == ("p=QUARANTINE sp=QUARANTINE dis=NONE",)
    assert dmarc.to_dict()["properties"] == {"header.from": "news.example.com"}


def test_microsoft_365() -> None:
    # Exchange Online writes no authserv-id and ptype-less properties (action=, reason=).
    value = (
        " spf=pass (sender IP is 192.0.2.51)\r\n smtp.mailfrom=example.com;"
        " dkim=pass (signature was verified)\r\n header.d=example.com;dmarc=pass action=none\r\n"
        " header.from=example.com;"
        "compauth=pass reason=100"
    )
    a = AuthenticationResults.parse(value)
    assert a.authserv_id is None
    assert [(r.method, r.result) for r in a.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
        ("compauth", "pass"),
    ]
    assert a.results[2].properties == {"action": "none", "header.from": "example.com"}
    assert a.results[3].reason == "100"


def test_postfix_milters() -> None:
    # One field each from OpenDKIM, OpenDMARC and policyd-spf behind Postfix.
    msg = mp.Message.parse(
        b"Authentication-Results: mail.example.net; dmarc=pass (p=reject dis=none)"
        b" header.from=example.org\r\n"
        b"Authentication-Results: mail.example.net;\r\n"
        b"\tdkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org"
        b" header.a=rsa-sha256 header.s=mail header.b=AbCd1234\r\n"
        b"Authentication-Results: mail.example.net; spf=pass (sender SPF authorized)"
        b" smtp.mailfrom=example.org (client-ip=192.0.2.9; helo=mx.example.org;"
        b" envelope-from=alice@example.org; receiver=<UNKNOWN>)\r\n"
        b"Subject: x\r\n\r\n"
    )
    got = [(r.method, r.result) for r in msg.authentication_results]
    assert got == [("dmarc", "pass"), ("dkim", "pass"), ("spf", "pass")]
    assert msg.authentication_results[1].comments == ("2048-bit key; unprotected",)
    assert msg.authentication_results[1].properties["header.a"] == "rsa-sha256"
    assert "receiver=<UNKNOWN>" in msg.authentication_results[2].comments[-1]


# ---- RFC 6376 DKIM-Signature ----------------------------------------------------------


RFC6376_3_5 = (
    " v=1; a=rsa-sha256; d=example.net; s=brisbane;\r\n"
    "     c=simple; q=dns/txt; i=@eng.example.net;\r\n"
    "     t=1117574938; x=1118006938;\r\n"
    "     h=from:to:subject:date;\r\n"
    "     z=From:foo@eng.example.net|To:joe@example.com|\r\n"
    "       Subject:demo=20run|Date:July=205,=202005=203:44:08=20PM=20-0700;\r\n"
    "     bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=;\r\n"
    "     b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR"
)


def test_rfc6376_example_signature() -> None:
    s = DkimSignature.parse(RFC6376_3_5)
    assert (s.version, s.algorithm, s.domain, s.selector) == (
        "1",
        "rsa-sha256",
        "example.net",
        "brisbane",
    )
    assert (s.canonicalization, s.query_methods, s.identity) == (
        "simple",
        "dns/txt",
        "@eng.example.net",
    )
    assert s.headers == ("from", "to", "subject", "date")
    assert s.timestamp == datetime.datetime(2005, 5, 31, 21, 28, 58, tzinfo=UTC)
    assert s.expiration == datetime.datetime(2005, 6, 5, 21, 28, 58, tzinfo=UTC)
    assert s.copied_headers == (
        "From:foo@eng.example.net",
        "To:joe@example.com",
        "Subject:demo=20run",
        "Date:July=205,=202005=203:44:08=20PM=20-0700",
    )
    assert s.body_hash == "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="
    assert s.signature == "dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR"
    assert s.problems == ()
    # Through a message, as a field.
    msg = mp.Message.parse(("DKIM-Signature:" + RFC6376_3_5 + "\r\nSubject: x\r\n\r\n").encode())
    assert msg.dkim_signatures == [s]


def test_dkim_defaults_and_problems() -> None:
    # §3.5: c= defaults to simple/simple; §3.2: a repeated tag invalidates the list;
    # §6.1.1: v, a, b, bh, d, h and s are required.
    s = DkimSignature.parse("v=1; a=rsa-sha256; d=a.example; d=b.example; s=x; l=42")
    assert (s.canonicalization, s.domain, s.body_length) == ("simple/simple", "a.example", 42)
    assert s.problems == (
        "tag d= repeated (RFC 6376 §3.2)",
        "required tag b= missing",
        "required tag bh= missing",
        "required tag h= missing",
    )
    assert DkimSignature.parse("t=99999999999999999999; x=abc").timestamp is None


# ---- RFC 8617 ARC ---------------------------------------------------------------------


def test_rfc8617_arc_sets() -> None:
    msg = mp.Message.parse_file(CORPUS / "rfc" / "rfc8617-appendix-b-example-1.eml")
    sets = msg.arc_sets
    assert [(s.instance, s.sealer, s.seal.chain_validation) for s in sets if s.seal] == [
        (1, "lists.example.org", "none"),
        (2, "gmail.example", "pass"),
        (3, "clochette.example.org", "pass"),
    ]
    first = sets[0]
    assert first.message_signature is not None and first.authentication_results is not None
    assert first.message_signature.instance == 1
    assert first.message_signature.selector == "dk-lists"
    assert first.message_signature.body_hash == "KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ="
    assert first.message_signature.problems == ()
    assert [(r.method, r.result) for r in first.authentication_results.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
    ]
    last = sets[2].authentication_results
    assert last is not None and last.instance == 3
    arc = last.get("arc")
    assert arc is not None and arc.result == "pass"
    assert arc.comments[0].endswith("ams.1.lists.example.org=fail (message has been altered)")
    # The seal of i=3 is folded right after "s=".
    assert sets[2].seal is not None and sets[2].seal.selector == "clochette"
    assert sets[2].to_dict()["chain_validation"] == "pass"
    # The originator's own DKIM-Signature is a DKIM signature, not part of ARC.
    assert [s.domain for s in msg.dkim_signatures] == ["d1.example"]


def test_arc_seal_and_broken_sets() -> None:
    seal = ArcSeal.parse("i=2; a=rsa-sha256; cv=Pass; d=example.org; s=k; t=1; b=ab\r\n cd")
    assert (seal.instance, seal.chain_validation, seal.signature) == (2, "pass", "abcd")
    # An ARC-Seal without its other two fields: a set with holes (a broken chain).
    msg = mp.Message.parse(b"ARC-Seal: i=1; cv=none; d=x.example; s=s; a=rsa-sha256; b=x\r\n\r\n")
    (only,) = msg.arc_sets
    assert (only.instance, only.message_signature, only.authentication_results) == (1, None, None)


# ---- List-* ---------------------------------------------------------------------------


def test_rfc2369_rfc2919_rfc8058() -> None:
    msg = mp.Message.parse(
        b"List-Id: List Header Mailing List <list-header.nisto.com>\r\n"
        b"List-Help: <mailto:list@host.com?subject=help> (List Instructions)\r\n"
        b"List-Unsubscribe: <mailto:listrequest@example.com?subject=unsubscribe>,\r\n"
        b"    <https://example.com/unsubscribe.html?opaque=123456789>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"List-Post: NO (posting not allowed on this list)\r\n"
        b"List-Archive: <http://www.host.com/list/\r\n archive/>\r\n"
        b"\r\n"
    )
    info = msg.list_info
    assert info is not None
    assert (info.id, info.name) == ("list-header.nisto.com", "List Header Mailing List")
    assert info.help == ("mailto:list@host.com?subject=help",)
    assert info.unsubscribe == (
        "mailto:listrequest@example.com?subject=unsubscribe",
        "https://example.com/unsubscribe.html?opaque=123456789",
    )
    assert (info.post, info.posting_allowed) == ((), False)
    assert info.archive == ("http://www.host.com/list/archive/",)
    assert info.one_click
    assert info.to_dict()["one_click"] is True


def test_one_click_needs_https_and_the_post_field() -> None:
    # RFC 8058 §3.1: an HTTPS URI and List-Unsubscribe-Post: List-Unsubscribe=One-Click.
    http_only = mp.Message.parse(
        b"List-Unsubscribe: <http://example.com/u>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n"
    )
    no_post = mp.Message.parse(b"List-Unsubscribe: <https://example.com/u>\r\n\r\n")
    assert http_only.list_info is not None and not http_only.list_info.one_click
    assert no_post.list_info is not None and not no_post.list_info.one_click
    assert mp.Message.parse(b"Subject: not a list\r\n\r\n").list_info is None


def test_mailman_message_from_cpython() -> None:
    test_email = pytest.importorskip("test.test_email")
    path = Path(test_email.__file__).parent / "data" / "msg_16.txt"
    info = mp.Message.parse_file(path).list_info
    assert info is not None
    assert (info.id, info.name) == ("scr.socal-raves.org", "SoCal-Raves")
    assert info.subscribe == (
        "http://socal-raves.org/mailman/listinfo/scr",
        "mailto:scr-request@socal-raves.org?subject=subscribe",
    )
    assert info.posting_allowed is True


# ---- never raise ----------------------------------------------------------------------

# Bytes the grammars give meaning to, and words, so examples reach deep into them.
PIECES = st.sampled_from(
    [
        *(";", "=", ".", "/", "@", "(", ")", '"', "\\", "<", ">", ",", ":", "|"),
        *(" ", "\r\n ", "\t", "dkim", "spf", "pass", "reason", "header", "i", "smtp", "none"),
        *("NO", "mailto:x@y", "1", "\u00e9", "\u2603"),
    ]
)
FIELD_TEXT = st.lists(PIECES, max_size=40).map("".join) | st.text(max_size=200)


@given(FIELD_TEXT)
def test_parsers_never_raise(value: str) -> None:
    a = AuthenticationResults.parse(value)
    assert all(isinstance(r.result, str) for r in a.results)
    AuthenticationResults.parse(value, arc=True)
    DkimSignature.parse(value)
    DkimSignature.parse(value, arc=True)
    ArcSeal.parse(value)
    urls = _mailprims.list_urls_parse(value).urls
    # RFC 2369 §2: white space inside the brackets is ignored.
    assert all(u and not any(c in " \t\r\n" for c in u) for u in urls)
    _mailprims.list_id_parse(value)


FIELD_NAMES = st.sampled_from(
    [
        "Authentication-Results",
        "ARC-Authentication-Results",
        "ARC-Seal",
        "ARC-Message-Signature",
        "DKIM-Signature",
        "List-Id",
        "List-Post",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ]
)


@given(
    st.lists(
        st.tuples(FIELD_NAMES, st.binary(max_size=120) | FIELD_TEXT.map(str.encode)), max_size=6
    )
)
def test_message_properties_never_raise(fields: list[tuple[str, bytes]]) -> None:
    # Raw bytes too: 8-bit and broken UTF-8 values reach the parsers through the message.
    raw = b"".join(
        name.encode() + b": " + value.replace(b"\n", b" ") + b"\r\n" for name, value in fields
    )
    msg = mp.Message.parse(raw + b"\r\nbody\r\n")
    assert isinstance(msg.authentication_results, list)
    assert isinstance(msg.dkim_signatures, list)
    assert [s.instance for s in msg.arc_sets] == sorted({s.instance for s in msg.arc_sets})
    assert msg.list_info is None or isinstance(msg.list_info, mp.ListInfo)
