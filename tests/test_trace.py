"""``msg.trace()``: the Received hops as a table (RFC 5321 §4.4 trace fields), delays between
hops, clock skew, TLS, and the pandas / matplotlib views; ``mailprims.to_dataframe``.

Messages: the seed chapter's Received example (``tests/corpus/seed/received-trace.eml``),
the real-world forms of ``tests/corpus/feature/received-forms.eml`` and
``gmail-newsletter-auth.eml``, and CPython's test_email ``msg_16.txt`` (a bounce whose
last hop's clock is 41 seconds behind the one before).
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import pytest

import mailprims as mp
from mailprims.trace import Trace, format_delay

CORPUS = Path(__file__).parent / "corpus"
S = datetime.timedelta(seconds=1)


def load(name: str) -> mp.Message:
    return mp.Message.parse_file(CORPUS / name)


def test_seed_example_hops_oldest_first() -> None:
    msg = load("seed/received-trace.eml")
    trace = msg.trace()
    assert len(trace) == len(msg.received) == 7
    # Hop 1 is the oldest field (the last in the header section), the first server.
    assert [h.number for h in trace] == list(range(1, 8))
    assert trace[0].by_host == "gair.firstpr.com.au"
    assert trace[0].received == msg.received[-1]
    assert trace[-1].by_host == "mmp.sipr-dc.ucl.ac.be"
    assert trace[-1].protocol == "ESMTTP"  # as the seed prints it
    assert [h.delay for h in trace] == [None, -2 * S, S, S, S, 13 * S, 26 * S]
    # Hop 2's server (core3.amsl.com) stamped 2 s before hop 1's: clock skew, flagged.
    assert [h.number for h in trace.skewed] == [2]
    assert trace[1].skewed and not trace[2].skewed
    assert trace.transit_time == 40 * S
    # Date: 21:36:38 +1100; the last stamp 11:37:17 +0100.
    assert trace.created == msg.date
    assert trace.delivered_after == 39 * S
    assert trace.summary() == (
        "7 hops, transit 40 s, delivered 39 s after its Date, 1 negative delay (clock skew)"
    )


def test_sender_column() -> None:
    trace = load("seed/received-trace.eml").trace()
    # EHLO name, then what the receiver saw (rDNS and IP), as analyzers print it.
    assert trace[1].sender == "gair.firstpr.com.au (gair.firstpr.com.au [150.101.162.123])"
    assert trace[0].sender == "[10.0.0.6] (wira.firstpr.com.au)"
    assert trace[6].sender == "smtp3.sgssi.ucl.ac.be ([10.1.5.3])"


def test_tls_column() -> None:
    trace = load("feature/received-forms.eml").trace()
    by = {h.by_host: h for h in trace}
    # Postfix's TLS comment, sendmail's version=, Exim's (TLS1.3), Microsoft's version=.
    assert by["mx.example.net"].tls and by["mx.example.net"].tls_label == "TLSv1.3"
    assert by["smtp.example.org"].tls_label == "TLSv1.3"
    assert by["relay.example.com"].tls_label == "TLS1.3"
    assert by["BN8PR11MB5678.namprd11.prod.outlook.com"].tls_label == "TLS1_2"
    # Gmail's SMTPS (RFC 3848 style) without a version: TLS, version unknown.
    assert (by["mx.google.com"].tls, by["mx.google.com"].tls_label) == (True, "yes")
    # qmail's field says nothing: unknown, not "no".
    assert trace[0].tls is None and trace[0].tls_label == ""


def test_undated_hop() -> None:
    # SendGrid's filter hop has no "; date": no delay for it, and the next hop's delay is
    # measured from the last hop that has a date.
    trace = load("feature/gmail-newsletter-auth.eml").trace()
    assert [h.date is None for h in trace] == [False, True, False, False]
    assert [h.delay for h in trace] == [None, None, 3 * S, S]
    assert trace.transit_time == 4 * S


def test_cpython_msg_16_clock_skew() -> None:
    test_email = pytest.importorskip("test.test_email")
    msg = mp.Message.parse_file(Path(test_email.__file__).parent / "data" / "msg_16.txt")
    trace = msg.trace()
    assert [h.delay for h in trace] == [None, 0 * S, -41 * S]
    assert trace.transit_time == -41 * S
    assert "-41 s (clock skew)" in str(trace)
    assert "before its Date (clock skew)" in trace.summary()


def test_no_received() -> None:
    trace = mp.Message.parse(b"Subject: local\r\n\r\n").trace()
    assert (len(trace), trace.transit_time, trace.delivered_after, trace.skewed) == (
        0,
        None,
        None,
        [],
    )
    assert trace.summary() == "0 hops"
    assert list(trace) == []


def test_text_table_and_json() -> None:
    trace = load("seed/received-trace.eml").trace()
    lines = str(trace).splitlines()
    assert lines[0].split() == ["Hop", "Delay", "From", "By", "With", "TLS", "Time", "(UTC)"]
    assert set(lines[1]) == {"-", " "}
    assert lines[3].startswith("2    -2 s (clock skew)")
    assert lines[-1] == trace.summary()
    assert repr(trace) == f"<Trace {trace.summary()}>"
    data = json.loads(json.dumps(trace.to_dicts()))
    assert data[1]["delay_seconds"] == -2.0
    assert data[0]["date"] == "2010-03-08T21:36:37+11:00"
    assert data[-1]["id"] == "0KYY00L85LI5JLE0@mmp.sipr-dc.ucl.ac.be"


def test_trace_equality_and_sequence() -> None:
    a = load("seed/received-trace.eml").trace()
    b = Trace.from_received(load("seed/received-trace.eml").received, a.created)
    assert a == b and a != Trace([]) and a[1:3] == a.hops[1:3]
    with pytest.raises(TypeError):
        hash(a)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.4, "0 s"),
        (41, "41 s"),
        (-41, "-41 s"),
        (60, "1 min"),
        (125, "2 min 5 s"),
        (-194, "-3 min 14 s"),
        (3600 + 180, "1 h 3 min"),
        (86400 * 2 + 3600, "2 d 1 h"),
    ],
)
def test_format_delay(seconds: float, text: str) -> None:
    assert format_delay(datetime.timedelta(seconds=seconds)) == text


def test_format_delay_none() -> None:
    assert format_delay(None) == ""


# ---- pandas and matplotlib ------------------------------------------------------------


def test_to_pandas() -> None:
    pd = pytest.importorskip("pandas")
    frame = load("seed/received-trace.eml").trace().to_pandas()
    assert list(frame.index) == list(range(1, 8)) and frame.index.name == "hop"
    assert list(frame.columns) == [
        "from",
        "from_ip",
        "by",
        "protocol",
        "tls",
        "date",
        "delay",
        "clock_skew",
    ]
    assert frame.loc[2, "delay"] == pd.Timedelta(seconds=-2)
    assert pd.isna(frame.loc[1, "delay"])
    assert frame.loc[1, "date"] == pd.Timestamp("2010-03-08 10:36:37", tz="UTC")
    assert frame["clock_skew"].tolist() == [False, True, False, False, False, False, False]
    assert frame["delay"].sum() == pd.Timedelta(seconds=40)


def test_plot() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trace = load("seed/received-trace.eml").trace()
    ax = trace.plot()
    try:
        bars = ax.patches
        # One bar per dated hop (from the previous stamp to its own); the skewed one red.
        assert len(bars) == 7
        colours = [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars]
        assert colours.count(matplotlib.colors.to_hex("tab:red")) == 1
        assert colours[1] == matplotlib.colors.to_hex("tab:red")
        assert ax.get_yticklabels()[0].get_text() == "1: gair.firstpr.com.au"
        assert ax.get_title() == trace.summary()
    finally:
        plt.close(ax.figure)


def test_optional_imports_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    trace = load("seed/received-trace.eml").trace()
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"Trace.to_pandas\(\) needs pandas.*pip install pandas"):
        trace.to_pandas()
    with pytest.raises(
        ImportError, match=r"Trace.plot\(\) needs matplotlib.*pip install matplotlib"
    ):
        trace.plot()
    with pytest.raises(ImportError, match=r"to_dataframe\(\) needs pandas"):
        mp.to_dataframe([])


# ---- to_dataframe ---------------------------------------------------------------------


def test_to_dataframe_messages() -> None:
    pd = pytest.importorskip("pandas")
    messages = [load("feature/gmail-newsletter-auth.eml"), load("seed/received-trace.eml")]
    frame = mp.to_dataframe(messages)
    assert list(frame.columns) == list(mp._dataframe.COLUMNS)
    assert len(frame) == 2
    gmail, seed = frame.iloc[0], frame.iloc[1]
    assert (gmail["spf"], gmail["dkim"], gmail["dmarc"]) == ("pass", "pass", "pass")
    assert gmail["list_id"] == "weekly.news.example.com"
    assert (gmail["parts"], gmail["has_text"], gmail["has_html"]) == (2, True, True)
    assert gmail["from_email"] == "news@news.example.com"
    assert seed["hops"] == 7 and seed["transit"] == pd.Timedelta(seconds=40)
    assert pd.isna(seed["spf"])
    assert seed["date"] == pd.Timestamp("2010-03-08 10:36:38", tz="UTC")
    assert seed["subject"] == "Re: [rrg] Recommendation and what happens next"


def test_to_dataframe_mailboxes(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    raw = (CORPUS / "seed" / "hello-world.eml").read_bytes()
    md = mp.Maildir(tmp_path / "Maildir")
    keys = [md.add(raw), md.add(raw.replace(b"Hello", b"Again"))]
    frame = mp.to_dataframe(md)
    assert frame.index.name == "key"
    assert sorted(frame.index) == sorted(keys)
    assert sorted(frame["subject"]) == ["Again", "Hello"]
    mb = mp.Mbox(tmp_path / "mbox")
    for _ in range(3):
        mb.add(raw, sender="bob@example.com", date=0)
    frame = mp.to_dataframe(mb)
    assert (frame.index.name, list(frame.index)) == ("index", [0, 1, 2])
    assert set(frame["from_email"]) == {"Bob@machine.example"}
    with pytest.raises(TypeError, match=r"expects mailprims\.Message objects, not bytes"):
        mp.to_dataframe([raw])
