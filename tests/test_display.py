"""Jupyter renderings (``_repr_html_``) of Message, Part, Headers and Trace.

Mail is hostile input. Every rendering is parsed with :mod:`html.parser` and may only
contain the tags and attributes the renderer itself writes: a ``<script>`` (or an
``onerror=`` attribute, or a ``javascript:`` URL) in a header or in an HTML body must come
out as text, never as markup.
"""

from __future__ import annotations

import html.parser
from pathlib import Path

import pytest

import mailprims as mp
from mailprims import _display

CORPUS = Path(__file__).parent / "corpus"

ALLOWED_TAGS = {
    "div",
    "table",
    "caption",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    "pre",
    "ul",
    "li",
    "code",
    "strong",
    "em",
    "p",
    "span",
}
ALLOWED_ATTRIBUTES = {"style", "class", "title", "open"}


class Markup(html.parser.HTMLParser):
    """Collects the tags and attributes of a rendering, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_markup(rendered: str) -> str:
    """Assert that only the renderer's own markup is there; return the visible text."""
    parser = Markup()
    parser.feed(rendered)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in the rendering"
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES, f"unexpected attribute {name}= on <{tag}>"
            assert "javascript:" not in (value or "").lower()
            assert "url(" not in (value or "").lower()
    return "".join(parser.text)


HOSTILE = (
    b"From: \"<script>alert('from')</script>\" <evil@example.com>\r\n"
    b"To: victim@example.net\r\n"
    b'Subject: <script>alert(1)</script> "><img src=x onerror=alert(2)>\r\n'
    b'X-Note: <a href="javascript:alert(3)">click</a> & <style>*{display:none}</style>\r\n'
    b"Received: from a'onmouseover='alert&x ([192.0.2.1]) by mx.example.net\r\n"
    b"  with ESMTP id <b onmouseover=alert(4)>; Mon, 10 Jun 2024 09:00:00 +0000\r\n"
    b"Authentication-Results: mx.example.net; spf=pass (<script>alert(5)</script>)"
    b' smtp.mailfrom="<img src=x onerror=alert(6)>"\r\n'
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<html><body onload=alert(7)><script>alert(8)</script><iframe src=//evil></iframe>"
    b"<p>Hello</p></body></html>\r\n"
    b"--b\r\n"
    b'Content-Type: application/octet-stream; name="<script>alert(9)</script>.exe"\r\n'
    b'Content-Disposition: attachment; filename="<img src=x onerror=alert(10)>.exe"\r\n'
    b"\r\n"
    b"MZ\r\n"
    b"--b--\r\n"
)


def test_hostile_message_renders_as_text() -> None:
    msg = mp.Message.parse(HOSTILE)
    rendered = msg._repr_html_()
    text = check_markup(rendered)
    # What the attacker wrote is there, as text.
    assert "<script>alert(1)</script>" in text
    assert "<html><body onload=alert(7)><script>alert(8)</script>" in text
    assert "<img src=x onerror=alert(10)>.exe" in text
    assert "HTML body, shown as source (not rendered)" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    # No raw markup from the message survives anywhere, attribute values included.
    lowered = rendered.lower()
    for needle in ("<script", "<img", "<iframe", "<a ", "<b ", "<style", "<html", "<body"):
        assert needle not in lowered


@pytest.mark.parametrize("render", ["headers", "part", "parts", "trace"])
def test_hostile_parts_headers_and_trace(render: str) -> None:
    msg = mp.Message.parse(HOSTILE)
    if render == "headers":
        rendered = msg.headers._repr_html_()
        assert "X-Note" in check_markup(rendered)
    elif render == "part":
        rendered = msg.parts[0]._repr_html_()
        assert "<script>alert(8)</script>" in check_markup(rendered)
    elif render == "parts":
        rendered = msg.root._repr_html_()
        assert "<img src=x onerror=alert(10)>.exe" in check_markup(rendered)
    else:
        rendered = msg.trace()._repr_html_()
        # A quote in a value cannot end an attribute: quotes are escaped too.
        assert "a'onmouseover='alert&x" in check_markup(rendered)
        assert "a&#x27;onmouseover=&#x27;alert&amp;x" in rendered
    assert "<script" not in rendered.lower()
    assert "<img" not in rendered.lower()


def test_message_html_content() -> None:
    msg = mp.Message.parse_file(CORPUS / "feature" / "gmail-newsletter-auth.eml")
    text = check_markup(msg._repr_html_())
    for expected in (
        "This week at Example",
        "Example News <news@news.example.com>",
        f"Header fields ({len(msg.headers)})",
        "MIME structure",
        "multipart/alternative",
        "text/html",
        "Authentication results (3)",
        "mx.google.com",
        "header.from=news.example.com",
        "Received trace: 4 hops, transit 4 s",
        "Hello Bob, here is this week's news.",
    ):
        assert expected in text, expected
    assert "Defects" not in text


def test_nested_message_tree_and_defects() -> None:
    msg = mp.Message.parse_file(CORPUS / "feature" / "nested-rfc822.eml")
    text = check_markup(msg._repr_html_())
    inner = next(p.message for p in msg.walk() if p.message is not None)
    assert inner is not None
    assert f"— {inner.subject}" in text
    broken = mp.Message.parse_file(CORPUS / "malformed" / "close-boundary-missing.eml")
    text = check_markup(broken._repr_html_())
    assert f"Defects ({len(broken.defects)})" in text
    assert "close-boundary-not-found" in text


def test_long_body_and_values_are_clipped() -> None:
    body = "x" * (_display.PREVIEW_CHARS + 500)
    msg = mp.Message.parse(f"Subject: {'y' * 5000}\r\n\r\n{body}".encode())
    text = check_markup(msg._repr_html_())
    assert "… (500 more characters)" in text
    headers = check_markup(msg.headers._repr_html_())
    assert f"… ({5000 - _display.VALUE_CHARS:,} more characters)" in headers


def test_empty_message() -> None:
    msg = mp.Message.parse(b"")
    text = check_markup(msg._repr_html_())
    assert "no text body" in text or "Body" in text
    assert "no header fields" in check_markup(msg.headers._repr_html_())
    assert check_markup(msg.trace()._repr_html_()).startswith("0 hops")


def test_trace_html_marks_skew() -> None:
    trace = mp.Message.parse_file(CORPUS / "seed" / "received-trace.eml").trace()
    rendered = trace._repr_html_()
    text = check_markup(rendered)
    assert "-2 s (clock skew)" in text
    assert 'title="negative delay: clock skew"' in rendered
    # Positive delays get bars proportional to their share of the total (26 of 42 s).
    assert "width:62%" in rendered
