"""Mail archives as Arrow tables: ``.eml`` files, Maildirs, mbox files (also gzip-compressed),
read in parallel into one row per message.

``read(paths)`` gives a :class:`pyarrow.Table`, ``read_batches(paths)`` the same as a stream
of record batches (memory stays bounded whatever the archive's size), ``load(row_source)``
the full :class:`~mailprims.Message` of a row, and ``to_dask(paths)`` a Dask DataFrame whose
partitions are read on the workers. Parsing and column building run on Rust threads without
the GIL; batches reach pyarrow through the Arrow C Data Interface, without a copy.

pyarrow is an optional dependency (``pip install 'mailprims[archive]'``), Dask too
(``pip install 'mailprims[dask]'``); importing :mod:`mailprims` imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from mailprims import _mailprims
from mailprims._mailprims import Message

__all__ = [
    "COLUMNS",
    "DEFAULT_BLOCKSIZE",
    "Piece",
    "load",
    "plan",
    "read",
    "read_batches",
    "schema",
    "to_dask",
]

#: Every column, in table order. All but ``text`` are read by default.
COLUMNS: tuple[str, ...] = tuple(_mailprims.archive_columns())

#: Bytes of archive per piece when :func:`read` plans the work itself (small pieces keep all
#: threads busy and batches a few thousand rows long).
READ_BLOCKSIZE = 4 << 20
#: Bytes of archive per Dask partition.
DEFAULT_BLOCKSIZE = 64 << 20

Piece = _mailprims.Piece

PathLike = str | os.PathLike[str]
Paths = PathLike | Piece | Iterable[PathLike | Piece]


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"mailprims.archive needs {module.split('.')[0]} for this: "
            f"pip install 'mailprims[{extra}]'"
        ) from e


def _pyarrow() -> Any:
    return _require("pyarrow", "archive")


def _path_list(paths: Any) -> list[Any]:
    if isinstance(paths, (str, bytes, os.PathLike, Piece)):
        return [paths]
    try:
        return list(paths)
    except TypeError:
        raise TypeError(
            f"paths must be a path, a Piece, or an iterable of them, not {type(paths).__name__}"
        ) from None


def _blocksize(value: int | str) -> int:
    if isinstance(value, int):
        if value < 1:
            raise ValueError("blocksize must be positive")
        return value
    text = value.strip().replace(" ", "").upper()
    for suffix, factor in (("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("B", 1)):
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            try:
                return _blocksize(int(float(number) * factor))
            except ValueError:
                break
    raise ValueError(f"blocksize must be a number of bytes or like '64 MiB', not {value!r}")


def plan(paths: Paths, *, blocksize: int | str = DEFAULT_BLOCKSIZE) -> list[Piece]:
    """The archive cut into :class:`Piece` objects of about ``blocksize`` bytes, in order.

    A piece is a batch of message files, a byte range of an mbox, or a whole gzip file; each
    can be read on its own (``read(piece)``), on any machine that sees the same paths, and
    pickles. This is how :func:`to_dask` makes its partitions, and how to spread an archive
    over another engine (Ray, Spark). Paths that do not exist raise ``FileNotFoundError``.
    """
    items = _path_list(paths)
    size = _blocksize(blocksize)
    pieces: list[Piece] = []
    pending: list[str | os.PathLike[str]] = []
    for item in items:
        if isinstance(item, Piece):
            if pending:
                pieces += _mailprims.archive_plan(pending, size)
                pending = []
            pieces.append(item)
        else:
            pending.append(os.fspath(item))
    if pending:
        pieces += _mailprims.archive_plan(pending, size)
    return pieces


def _columns(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        raise TypeError("columns must be a list of column names, not one string")
    return list(columns)


def schema(columns: Sequence[str] | None = None, *, text: bool = False) -> Any:
    """The Arrow schema of :func:`read`'s table for these columns."""
    pa = _pyarrow()
    return pa.schema(_mailprims.archive_schema(_columns(columns), text))


def read_batches(
    paths: Paths,
    *,
    columns: Sequence[str] | None = None,
    text: bool = False,
    threads: int | None = None,
) -> Iterator[Any]:
    """The archive's rows as :class:`pyarrow.RecordBatch` objects, in order.

    Reading runs ahead of the consumer by a few batches per thread at most, so memory stays
    bounded however large the archive is; stopping the iteration early stops the threads.
    Arguments as for :func:`read`.
    """
    pa = _pyarrow()
    pieces = plan(paths, blocksize=READ_BLOCKSIZE)
    reader = _mailprims.ArchiveReader(pieces, columns=_columns(columns), text=text, threads=threads)
    return _batches(pa, reader)


def _batches(pa: Any, reader: Any) -> Iterator[Any]:
    try:
        for batch in reader:
            yield pa.record_batch(batch)
    finally:
        reader.close()


def read(
    paths: Paths,
    *,
    columns: Sequence[str] | None = None,
    text: bool = False,
    threads: int | None = None,
) -> Any:
    """Read mail archives into a :class:`pyarrow.Table`, one row per message, in parallel.

    ``paths`` is a path or a list of paths (or :class:`Piece` objects from :func:`plan`):
    ``.eml`` files, mbox files, Maildirs (with their Maildir++ folders), directories of any
    of those (walked recursively), each possibly gzip-compressed. What a file holds is read
    from its first bytes, not its name. ``columns`` selects columns (:data:`COLUMNS`; by
    default all but ``text``); ``text=True`` adds the decoded plain-text body. ``threads``
    defaults to the number of CPUs.

    Malformed messages still give a row, with what was wrong in ``defects``; missing or
    unreadable files raise the ``OSError`` subclass ``open()`` would (``FileNotFoundError``,
    ``PermissionError``), other storage failures :class:`mailprims.StoreError`.
    """
    pa = _pyarrow()
    batches = list(read_batches(paths, columns=columns, text=text, threads=threads))
    return pa.Table.from_batches(batches, schema=schema(columns, text=text))


def load(source: Mapping[str, Any] | Any) -> Message:
    """The full :class:`~mailprims.Message` of a row, from its ``source`` value (the dict a
    pandas row or ``Table.to_pylist()`` holds, or the pyarrow struct scalar)."""
    if hasattr(source, "as_py"):
        source = source.as_py()
    if not isinstance(source, Mapping):
        raise TypeError(
            "load() takes a row's source: a mapping with path, format, offset and length"
        )
    return _mailprims.archive_load(
        source["path"], int(source["offset"]), int(source["length"]), source["format"]
    )


def _read_partition(piece: Piece, wanted: list[str] | None, text: bool, threads: int | None) -> Any:
    # (Not named `columns`: dask passes a `columns` argument to functions that take one.)
    pd = _require("pandas", "dask")

    table = read(piece, columns=wanted, text=text, threads=threads)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def to_dask(
    paths: Paths,
    *,
    columns: Sequence[str] | None = None,
    text: bool = False,
    blocksize: int | str = DEFAULT_BLOCKSIZE,
    threads: int | None = 1,
) -> Any:
    """A Dask DataFrame of the archive: one partition per :class:`Piece` of about
    ``blocksize`` bytes, each read by :func:`read` on the worker that computes it.

    Only the pieces (paths and byte ranges) travel to the workers, and only Arrow-backed
    frames come back: no :class:`~mailprims.Message` object crosses the network. Columns
    use pandas' Arrow dtypes (``pandas.ArrowDtype``), so lists and structs stay columnar.
    Every worker must see the paths (a shared file system). ``threads`` is per partition
    (1 by default: Dask runs partitions in parallel already).
    """
    dd = _require("dask.dataframe", "dask")
    pd = _require("pandas", "dask")

    cols = _columns(columns)
    meta = schema(cols, text=text).empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    pieces = plan(paths, blocksize=blocksize)
    if not pieces:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(
        _read_partition,
        pieces,
        args=(cols, text, threads),
        meta=meta,
        label="mailprims-archive",
        enforce_metadata=False,
    )
