"""``mailprims.archive.to_dask`` on a ``distributed.LocalCluster`` with 2 worker processes gives
the same table as ``read``: the partitions are read on the workers from pickled pieces."""

from __future__ import annotations

from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import archive_synth  # noqa: E402

from mailprims import archive  # noqa: E402


def test_local_cluster_gives_the_same_table_as_read(tmp_path: Path) -> None:
    msgs = list(archive_synth.messages(4000, seed=11))
    archive_synth.write_mbox(tmp_path / "lists.mbox", msgs[:2500])
    archive_synth.write_mbox(tmp_path / "old.mbox.gz", msgs[2500:3000], compress=True)
    archive_synth.write_maildir(tmp_path / "Maildir", msgs[3000:])
    expected = archive.read(tmp_path).to_pandas(types_mapper=pd.ArrowDtype)

    ddf = archive.to_dask(tmp_path, blocksize="512 KiB")
    assert ddf.npartitions >= 6
    assert list(ddf.columns) == list(expected.columns)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        got = ddf.compute()
        # Work that stays on the cluster: the busiest senders.
        # Work that stays on the cluster: the busiest senders (a lambda travels by value).
        sender = ddf["from"].map_partitions(
            lambda s: s.list[0].struct.field("email"), meta=("from", pd.ArrowDtype(pa.string()))
        )
        senders = sender.value_counts().compute()
    got = got.reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    assert senders.sum() == len(expected) - expected["from"].list.len().eq(0).sum()


def test_columns_and_text(tmp_path: Path) -> None:
    archive_synth.write_mbox(tmp_path / "a.mbox", archive_synth.messages(200, seed=12))
    ddf = archive.to_dask(tmp_path, columns=["subject", "date"], text=True, blocksize=8192)
    assert list(ddf.columns) == ["subject", "date", "text"]
    got = ddf.compute(scheduler="sync").reset_index(drop=True)
    expected = archive.read(tmp_path, columns=["subject", "date"], text=True)
    pd.testing.assert_frame_equal(got, expected.to_pandas(types_mapper=pd.ArrowDtype))
    assert archive.to_dask(tmp_path / "a.mbox", blocksize=1 << 30).npartitions == 1
