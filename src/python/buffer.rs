//! Borrowing the bytes of Python arguments without copying them.
//!
//! `bytes` are read in place; `bytearray`, `memoryview` and other buffer exporters go through
//! the buffer protocol. pyo3 hides `PyObject_GetBuffer` below Python 3.11 under the stable ABI
//! because it joined the *limited* API only then, but the function and the `Py_buffer` layout
//! have been exported unchanged by every CPython 3, so the module declares them itself.

use std::ffi::{c_char, c_int, c_void};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

#[repr(C)]
struct RawBuffer {
    buf: *mut c_void,
    obj: *mut ffi::PyObject,
    len: ffi::Py_ssize_t,
    itemsize: ffi::Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut ffi::Py_ssize_t,
    strides: *mut ffi::Py_ssize_t,
    suboffsets: *mut ffi::Py_ssize_t,
    internal: *mut c_void,
}

unsafe extern "C" {
    fn PyObject_GetBuffer(obj: *mut ffi::PyObject, view: *mut RawBuffer, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut RawBuffer);
}

const PYBUF_SIMPLE: c_int = 0;

/// A held buffer export; released (under the GIL) on drop.
struct Exported(Box<RawBuffer>);

// SAFETY: the export keeps the exporter alive and its memory in place until released; the
// bytes are only read.
unsafe impl Send for Exported {}
unsafe impl Sync for Exported {}

impl Drop for Exported {
    fn drop(&mut self) {
        Python::attach(|_py| unsafe { PyBuffer_Release(&mut *self.0) });
    }
}

/// Any bytes-like argument (`bytes`, `bytearray`, `memoryview`, other C-contiguous buffers),
/// and `str` where the caller allows it (as UTF-8; ASCII-only for encoded data).
pub struct BytesLike<'py> {
    inner: Inner<'py>,
}

enum Inner<'py> {
    Bytes(Bound<'py, PyBytes>),
    Str(Bound<'py, PyString>),
    Buffer(Exported),
}

impl<'py> BytesLike<'py> {
    pub fn as_bytes(&self) -> &[u8] {
        match &self.inner {
            Inner::Bytes(b) => b.as_bytes(),
            // Valid UTF-8 was checked at extraction.
            Inner::Str(s) => s.to_str().map(str::as_bytes).unwrap_or_default(),
            Inner::Buffer(e) => {
                if e.0.len == 0 || e.0.buf.is_null() {
                    return &[];
                }
                // SAFETY: a PyBUF_SIMPLE export is `len` contiguous bytes at `buf`, valid
                // until released.
                unsafe { std::slice::from_raw_parts(e.0.buf as *const u8, e.0.len as usize) }
            }
        }
    }

    pub fn is_str(&self) -> bool {
        matches!(self.inner, Inner::Str(_))
    }

    fn extract_impl(obj: &Bound<'py, PyAny>, allow_str: bool, what: &str) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Self {
                inner: Inner::Bytes(b.clone()),
            });
        }
        if let Ok(s) = obj.cast::<PyString>() {
            if allow_str {
                s.to_str()?;
                return Ok(Self {
                    inner: Inner::Str(s.clone()),
                });
            }
            return Err(PyTypeError::new_err(format!(
                "{what} expects a bytes-like object, not 'str' (encode the text first)"
            )));
        }
        let mut view = Box::new(RawBuffer {
            buf: std::ptr::null_mut(),
            obj: std::ptr::null_mut(),
            len: 0,
            itemsize: 0,
            readonly: 0,
            ndim: 0,
            format: std::ptr::null_mut(),
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            suboffsets: std::ptr::null_mut(),
            internal: std::ptr::null_mut(),
        });
        // SAFETY: `obj` is a live object and `view` a writable Py_buffer.
        let rc = unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, PYBUF_SIMPLE) };
        if rc != 0 {
            let cause = PyErr::take(obj.py());
            let expected = if allow_str {
                "a bytes-like object or str"
            } else {
                "a bytes-like object"
            };
            let err = PyTypeError::new_err(format!(
                "{what} expects {expected}, not '{}'",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ));
            if let Some(c) = cause {
                err.set_cause(obj.py(), Some(c));
            }
            return Err(err);
        }
        Ok(Self {
            inner: Inner::Buffer(Exported(view)),
        })
    }

    /// A bytes-like argument; `str` is refused with a hint.
    pub fn bytes_only(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        Self::extract_impl(obj, false, what)
    }

    /// A bytes-like or `str` argument (encoded forms: the text must be ASCII).
    pub fn ascii_or_bytes(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        let v = Self::extract_impl(obj, true, what)?;
        if v.is_str()
            && let Some(pos) = v.as_bytes().iter().position(|b| !b.is_ascii())
        {
            return Err(PyValueError::new_err(format!(
                "{what}: string argument should contain only ASCII characters (non-ASCII at byte {pos})"
            )));
        }
        Ok(v)
    }

    /// A bytes-like or `str` argument, `str` taken as UTF-8.
    pub fn text_or_bytes(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        Self::extract_impl(obj, true, what)
    }
}

/// Inputs above this size are processed with the GIL released.
pub const DETACH_THRESHOLD: usize = 64 * 1024;

/// Run `f` on `data`, releasing the GIL when the input is large enough to be worth it.
pub fn run<T: Send, F: FnOnce(&[u8]) -> T + Send>(py: Python<'_>, data: &[u8], f: F) -> T {
    if data.len() >= DETACH_THRESHOLD {
        py.detach(|| f(data))
    } else {
        f(data)
    }
}

/// A new `bytes` of exactly `len` bytes, filled by `fill` (with the GIL released for large
/// outputs). Unlike `PyBytes::new_with`, the buffer gets the huge-page hint before it is first
/// touched, which matters more than the encoding itself for outputs of tens of MiB.
pub fn new_bytes<'py, F>(py: Python<'py>, len: usize, fill: F) -> PyResult<Bound<'py, PyBytes>>
where
    F: FnOnce(&mut [u8]) + Send,
{
    let size = ffi::Py_ssize_t::try_from(len)
        .map_err(|_| pyo3::exceptions::PyMemoryError::new_err("output too large"))?;
    // SAFETY: PyBytes_FromStringAndSize(NULL, n) returns a new reference to a bytes object
    // with n writable bytes, or NULL with an exception set; it is not shared until returned.
    unsafe {
        let ptr = ffi::PyBytes_FromStringAndSize(std::ptr::null(), size);
        let obj = Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked::<PyBytes>();
        let buf = ffi::PyBytes_AsString(ptr).cast::<u8>();
        crate::mem::advise_huge_pages(buf, len);
        std::ptr::write_bytes(buf, 0, len);
        let slice = std::slice::from_raw_parts_mut(buf, len);
        if len >= DETACH_THRESHOLD {
            py.detach(|| fill(slice));
        } else {
            fill(slice);
        }
        Ok(obj)
    }
}

/// `bytes` copied from a Rust buffer (huge-page hinted for large ones).
pub fn bytes_from<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    new_bytes(py, data.len(), |out| out.copy_from_slice(data))
}
