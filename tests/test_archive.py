"""``mailprims.archive``: reading archives into Arrow, in batches, back to messages, by piece.

The column values themselves are checked against the stdlib in ``test_archive_stdlib.py``;
Dask in ``test_archive_dask.py``.
"""

from __future__ import annotations

import datetime
import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")

import archive_synth  # noqa: E402

import mailprims as mp  # noqa: E402
from mailprims import archive  # noqa: E402

HELLO = (
    b"From: Bob Smith <Bob@machine.example>\r\n"
    b"To: Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 8 Mar 2010 19:55:06 -0600\r\n"
    b"Message-ID: <1234@local.machine.example>\r\n"
    b"\r\n"
    b'This is the "Hello world" of email messages.\r\n'
)


@pytest.fixture(scope="module")
def mbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("archive")
    return archive_synth.write_mbox(d / "synth.mbox", archive_synth.messages(3000, seed=1))


def test_one_message_every_column(tmp_path: Path) -> None:
    (tmp_path / "hello.eml").write_bytes(HELLO)
    table = archive.read(tmp_path / "hello.eml", text=True)
    assert table.schema == archive.schema(text=True)
    assert table.column_names == [c for c in archive.COLUMNS]
    row = table.to_pylist()[0]
    assert row["subject"] == "Hello"
    assert row["from"] == [{"name": "Bob Smith", "email": "Bob@machine.example"}]
    assert [a["email"] for a in row["to"]] == ["alice@example.net", "Alice@machine.example"]
    assert row["date"] == datetime.datetime(2010, 3, 9, 1, 55, 6, tzinfo=datetime.timezone.utc)
    assert row["date_offset"] == -6 * 3600
    assert row["message_id"] == "1234@local.machine.example"
    assert row["size"] == len(HELLO)
    assert (row["parts"], row["attachments"], row["hops"]) == (1, 0, 0)
    assert row["text"] == 'This is the "Hello world" of email messages.\r\n'
    assert row["defects"] == []
    assert row["folder"] is None and row["flags"] is None
    assert row["source"] == {
        "path": str(tmp_path / "hello.eml"),
        "format": "eml",
        "offset": 0,
        "length": len(HELLO),
    }
    assert str(table.schema.field("date").type) == "timestamp[us, tz=UTC]"


def test_columns_select_and_order(mbox: Path) -> None:
    table = archive.read(mbox, columns=["subject", "hops", "source"])
    assert table.column_names == ["subject", "hops", "source"]
    assert table.num_rows == 3000
    assert archive.read(mbox, columns=["size"], text=True).column_names == ["size", "text"]
    with pytest.raises(ValueError, match='unknown archive column "sender"'):
        archive.read(mbox, columns=["sender"])
    with pytest.raises(TypeError):
        archive.read(mbox, columns="subject")  # type: ignore[arg-type]


def test_threads_do_not_change_the_table(mbox: Path) -> None:
    one = archive.read(mbox, threads=1)
    assert one.equals(archive.read(mbox, threads=2))
    assert one.equals(archive.read(mbox, threads=5))
    with pytest.raises(ValueError):
        archive.read(mbox, threads=0)


def test_read_batches_streams_and_stops_early(mbox: Path) -> None:
    batches = archive.read_batches(mbox, columns=["message_id"])
    first = next(batches)
    assert isinstance(first, pa.RecordBatch)
    assert 0 < first.num_rows < 3000
    batches.close()  # the generator's cleanup stops the reader threads
    total = sum(b.num_rows for b in archive.read_batches(mbox, columns=["size"]))
    assert total == 3000


def test_plan_pieces_pickle_and_read_alone(mbox: Path) -> None:
    pieces = archive.plan(mbox, blocksize="256 KiB")
    assert len(pieces) > 4 and all(p.kind == "mbox" for p in pieces)
    whole = archive.read(mbox, columns=["message_id", "source"])
    parts = [
        archive.read(pickle.loads(pickle.dumps(p)), columns=whole.column_names) for p in pieces
    ]
    assert pa.concat_tables(parts).equals(whole)
    assert pickle.loads(pickle.dumps(pieces[1])) == pieces[1]
    assert "mbox" in repr(pieces[0])
    with pytest.raises(ValueError):
        archive.plan(mbox, blocksize="lots")


def test_load_gives_the_message_back(mbox: Path) -> None:
    table = archive.read(mbox, columns=["subject", "source"])
    df = table.to_pandas()
    row = df.iloc[1234]
    msg = archive.load(row["source"])
    assert isinstance(msg, mp.Message)
    assert msg.subject == row["subject"]
    assert archive.load(table.column("source")[1234]) == msg  # a pyarrow struct scalar too
    assert pickle.loads(pickle.dumps(msg)) == msg
    with pytest.raises(TypeError):
        archive.load("not a source")
    with pytest.raises(ValueError, match="format"):
        archive.load({**row["source"], "format": "zip"})


def test_gzip_mbox_streams_and_eml_gz(tmp_path: Path) -> None:
    msgs = list(archive_synth.messages(500, seed=2))
    gz = archive_synth.write_mbox(tmp_path / "a.mbox.gz", msgs, compress=True)
    (tmp_path / "b.eml.gz").write_bytes(gzip.compress(HELLO))
    # A gzip file larger than a piece is read as one stream, cut as it is decompressed.
    pieces = archive.plan([gz, tmp_path / "b.eml.gz"], blocksize=4096)
    assert [p.kind for p in pieces] == ["stream", "files"]
    table = archive.read(pieces, columns=["subject", "source"])
    assert table.num_rows == 501
    assert table.column("subject")[500].as_py() == "Hello"
    src = table.column("source").to_pylist()
    assert bytes(archive.load(src[499])).rstrip(b"\n") == msgs[499].rstrip(b"\n")
    assert bytes(archive.load(src[500])) == HELLO


def test_missing_paths_and_unreadable_archives(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        archive.read(tmp_path / "nope")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage")
    with pytest.raises(OSError) as e:
        archive.read(bad)
    assert isinstance(e.value, mp.MailError)
    with pytest.raises(FileNotFoundError):
        archive.load({"path": str(tmp_path / "gone"), "format": "eml", "offset": 0, "length": 1})
    with pytest.raises(TypeError):
        archive.read(42)  # type: ignore[arg-type]


def test_maildir_message_moved_after_the_read_still_loads(tmp_path: Path) -> None:
    md = mp.Maildir(tmp_path / "Maildir")
    key = md.add(HELLO)
    src = archive.read(tmp_path / "Maildir", columns=["source"]).to_pylist()[0]["source"]
    md.mark_seen(key)  # new/ -> cur/ with :2,S
    assert archive.load(src).subject == "Hello"


def test_empty_archive(tmp_path: Path) -> None:
    table = archive.read(tmp_path)
    assert table.num_rows == 0
    assert table.schema == archive.schema()


def test_import_mailprims_does_not_import_pyarrow() -> None:
    code = "import sys, mailprims; mailprims.archive.COLUMNS; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'mailprims\[archive\]'"):
        archive.read(tmp_path)
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(ImportError, match=r"mailprims\[dask\]"):
        archive.to_dask(tmp_path)
