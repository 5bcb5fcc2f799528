//! Bindings for `crate::archive`: the work plan (`Piece`), the batch reader, and `load`.
//!
//! Batches leave Rust through the Arrow PyCapsule interface (`__arrow_c_array__`,
//! `__arrow_c_schema__`): pyarrow (or any Arrow library) imports them without a copy, and
//! this crate needs no Python Arrow binding of its own. `mailprims/archive.py` is the public
//! face.

use std::path::PathBuf;
use std::sync::Mutex;

use arrow_array::{Array, RecordBatch, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, SchemaRef};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use super::errors::store_error;
use crate::archive::{self, Column, Columns, FileRef, Format, Piece, Reader};

/// The Arrow C structures are plain data with a release callback; they move between threads
/// as the Arrow C Data Interface allows.
#[repr(transparent)]
struct Exported<T>(T);
// SAFETY: the C Data Interface lets a producer's structures be consumed on any thread; the
// buffers they point to are owned by Arrow arrays, which are Send + Sync.
unsafe impl<T> Send for Exported<T> {}

fn schema_capsule<'py>(py: Python<'py>, dt: &DataType) -> PyResult<Bound<'py, PyCapsule>> {
    let schema = FFI_ArrowSchema::try_from(dt)
        .map_err(|e| PyRuntimeError::new_err(format!("Arrow schema export failed: {e}")))?;
    PyCapsule::new_with_value(py, Exported(schema), c"arrow_schema")
}

fn columns_of(names: Option<Vec<String>>, text: bool) -> PyResult<Columns> {
    let mut list: Vec<Column> = match names {
        None => Columns::default_set().list().to_vec(),
        Some(names) => names
            .iter()
            .map(|n| {
                Column::from_name(n).ok_or_else(|| {
                    let known: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
                    PyValueError::new_err(format!(
                        "unknown archive column {n:?}; the columns are: {}",
                        known.join(", ")
                    ))
                })
            })
            .collect::<PyResult<_>>()?,
    };
    if text && !list.contains(&Column::Text) {
        // The text goes before the location columns, as in the full table.
        let at = list
            .iter()
            .position(|c| matches!(c, Column::Folder | Column::Flags | Column::Source))
            .unwrap_or(list.len());
        list.insert(at, Column::Text);
    }
    Ok(Columns::new(list))
}

/// A piece of an archive that one task reads on its own: a batch of message files, a byte
/// range of an mbox, or a whole gzip-compressed file. Pieces pickle, so a cluster can ship
/// them to its workers; :func:`mailprims.archive.plan` makes them.
#[pyclass(frozen, module = "mailprims.archive", name = "Piece")]
#[derive(Clone)]
pub struct PyPiece {
    piece: Piece,
}

type FileTuple = (PathBuf, Option<String>, bool, u64);

#[pymethods]
impl PyPiece {
    #[new]
    #[pyo3(signature = (kind, path=None, start=0, end=0, folder=None, files=Vec::new()))]
    fn new(
        kind: &str,
        path: Option<PathBuf>,
        start: u64,
        end: u64,
        folder: Option<String>,
        files: Vec<FileTuple>,
    ) -> PyResult<Self> {
        let need_path = || {
            path.clone()
                .ok_or_else(|| PyValueError::new_err(format!("a {kind:?} piece needs a path")))
        };
        let piece = match kind {
            "files" => Piece::Files(
                files
                    .into_iter()
                    .map(|(path, folder, maildir, size)| FileRef {
                        path,
                        folder,
                        maildir,
                        size,
                    })
                    .collect(),
            ),
            "mbox" if start <= end => Piece::Mbox {
                path: need_path()?,
                start,
                end,
                folder,
            },
            "stream" => Piece::Stream {
                path: need_path()?,
                folder,
            },
            _ => {
                return Err(PyValueError::new_err(format!(
                    "not a piece: kind={kind:?} start={start} end={end}"
                )));
            }
        };
        Ok(PyPiece { piece })
    }

    /// ``"files"``, ``"mbox"`` (a byte range of a plain mbox) or ``"stream"`` (a gzip file).
    #[getter]
    fn kind(&self) -> &'static str {
        match self.piece {
            Piece::Files(_) => "files",
            Piece::Mbox { .. } => "mbox",
            Piece::Stream { .. } => "stream",
        }
    }

    /// The files the piece reads.
    #[getter]
    fn paths(&self) -> Vec<PathBuf> {
        match &self.piece {
            Piece::Files(files) => files.iter().map(|f| f.path.clone()).collect(),
            Piece::Mbox { path, .. } | Piece::Stream { path, .. } => vec![path.clone()],
        }
    }

    /// Bytes of input it covers (compressed bytes for a stream).
    #[getter]
    fn size(&self, py: Python<'_>) -> u64 {
        py.detach(|| self.piece.size())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let cls = py.get_type::<PyPiece>();
        let args = match &slf.get().piece {
            Piece::Files(files) => {
                let files: Vec<FileTuple> = files
                    .iter()
                    .map(|f| (f.path.clone(), f.folder.clone(), f.maildir, f.size))
                    .collect();
                ("files", None::<PathBuf>, 0u64, 0u64, None::<String>, files).into_pyobject(py)?
            }
            Piece::Mbox {
                path,
                start,
                end,
                folder,
            } => (
                "mbox",
                Some(path.clone()),
                *start,
                *end,
                folder.clone(),
                Vec::<FileTuple>::new(),
            )
                .into_pyobject(py)?,
            Piece::Stream { path, folder } => (
                "stream",
                Some(path.clone()),
                0u64,
                0u64,
                folder.clone(),
                Vec::<FileTuple>::new(),
            )
                .into_pyobject(py)?,
        };
        PyTuple::new(py, [cls.into_any(), args.into_any()])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyPiece>()
            .is_ok_and(|o| o.get().piece == self.piece)
    }

    fn __repr__(&self) -> String {
        match &self.piece {
            Piece::Files(files) => {
                let first = files
                    .first()
                    .map(|f| f.path.display().to_string())
                    .unwrap_or_default();
                format!("<Piece files={} first={first:?}>", files.len())
            }
            Piece::Mbox {
                path, start, end, ..
            } => format!(
                "<Piece mbox {:?} bytes {start}..{end}>",
                path.display().to_string()
            ),
            Piece::Stream { path, .. } => {
                format!("<Piece stream {:?}>", path.display().to_string())
            }
        }
    }
}

/// The pieces of work for `paths`, each covering about `blocksize` bytes.
#[pyfunction]
fn archive_plan(py: Python<'_>, paths: Vec<PathBuf>, blocksize: u64) -> PyResult<Vec<PyPiece>> {
    let pieces = py
        .detach(|| archive::plan(&paths, blocksize))
        .map_err(|e| store_error(py, e))?;
    Ok(pieces.into_iter().map(|piece| PyPiece { piece }).collect())
}

/// The Arrow schema of a selection of columns, as an Arrow PyCapsule producer.
#[pyclass(frozen, module = "mailprims._mailprims", name = "ArchiveSchema")]
pub struct PySchema {
    schema: SchemaRef,
}

#[pymethods]
impl PySchema {
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let dt = DataType::Struct(self.schema.fields().clone());
        schema_capsule(py, &dt)
    }
}

#[pyfunction]
#[pyo3(signature = (columns=None, text=false))]
fn archive_schema(columns: Option<Vec<String>>, text: bool) -> PyResult<PySchema> {
    Ok(PySchema {
        schema: columns_of(columns, text)?.schema(),
    })
}

/// The names of every archive column, in table order.
#[pyfunction]
fn archive_columns() -> Vec<&'static str> {
    Column::ALL.iter().map(|c| c.name()).collect()
}

/// One record batch, as an Arrow PyCapsule producer (``pyarrow.record_batch(batch)``).
#[pyclass(frozen, module = "mailprims._mailprims", name = "ArchiveBatch")]
pub struct PyBatch {
    batch: RecordBatch,
}

#[pymethods]
impl PyBatch {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        // The batch is offered as it is; a consumer that wants another schema casts.
        let _ = requested_schema;
        let array = StructArray::from(self.batch.clone());
        let data = array.to_data();
        let (ffi_array, ffi_schema) = arrow_array::ffi::to_ffi(&data)
            .map_err(|e| PyRuntimeError::new_err(format!("Arrow export failed: {e}")))?;
        let schema = PyCapsule::new_with_value(py, Exported(ffi_schema), c"arrow_schema")?;
        let array = PyCapsule::new_with_value(py, Exported(ffi_array), c"arrow_array")?;
        PyTuple::new(py, [schema.into_any(), array.into_any()])
    }

    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }
}

/// Reads pieces on threads without the GIL; iterating gives the batches in order.
#[pyclass(frozen, module = "mailprims._mailprims", name = "ArchiveReader")]
pub struct PyReader {
    reader: Mutex<Option<Reader>>,
    schema: SchemaRef,
}

#[pymethods]
impl PyReader {
    #[new]
    #[pyo3(signature = (pieces, *, columns=None, text=false, threads=None))]
    fn new(
        pieces: Vec<PyRef<'_, PyPiece>>,
        columns: Option<Vec<String>>,
        text: bool,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        if threads == Some(0) {
            return Err(PyValueError::new_err("threads must be at least 1"));
        }
        let threads =
            threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let columns = columns_of(columns, text)?;
        let schema = columns.schema();
        let pieces: Vec<Piece> = pieces.iter().map(|p| p.piece.clone()).collect();
        Ok(PyReader {
            reader: Mutex::new(Some(Reader::new(pieces, columns, threads))),
            schema,
        })
    }

    /// The schema every batch has.
    #[getter]
    fn schema(&self) -> PySchema {
        PySchema {
            schema: self.schema.clone(),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyBatch>> {
        let next = py.detach(|| {
            let mut guard = self.reader.lock().unwrap_or_else(|e| e.into_inner());
            let next = guard.as_mut()?.next();
            if next.is_none() {
                *guard = None; // finished: let its threads go
            }
            next
        });
        match next {
            None => Ok(None),
            Some(Ok(batch)) => Ok(Some(PyBatch { batch })),
            Some(Err(e)) => Err(store_error(py, e)),
        }
    }

    /// Stop reading (the threads finish their current piece); iterating ends.
    fn close(&self, py: Python<'_>) {
        let reader = py.detach(|| self.reader.lock().unwrap_or_else(|e| e.into_inner()).take());
        drop(reader);
    }
}

/// The bytes of the message at `offset` (`length` bytes) in `path`, as a row's source says.
#[pyfunction]
fn archive_load(
    py: Python<'_>,
    path: PathBuf,
    offset: u64,
    length: u64,
    format: &str,
) -> PyResult<Py<super::message::PyMessage>> {
    let format = Format::from_name(format).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown source format {format:?} (eml, maildir or mbox)"
        ))
    })?;
    let data = py
        .detach(|| archive::load(&path, offset, length, format))
        .map_err(|e| store_error(py, e))?;
    Ok(super::message::message_from_vec(py, data)?.unbind())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPiece>()?;
    m.add_class::<PySchema>()?;
    m.add_class::<PyBatch>()?;
    m.add_class::<PyReader>()?;
    m.add_function(wrap_pyfunction!(archive_plan, m)?)?;
    m.add_function(wrap_pyfunction!(archive_schema, m)?)?;
    m.add_function(wrap_pyfunction!(archive_columns, m)?)?;
    m.add_function(wrap_pyfunction!(archive_load, m)?)?;
    Ok(())
}
