//! Bindings for `crate::codec`: thin functions, GIL released on large inputs.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use super::buffer::{BytesLike, bytes_from, new_bytes, run};
use super::errors::codec_error;
use crate::codec::{base64, encoded_word, params, quoted_printable};

/// Base64-encode bytes, CRLF between lines of `wrap` characters (None: one line).
#[pyfunction]
#[pyo3(signature = (data, wrap=Some(76)), text_signature = "(data, wrap=76)")]
fn base64_encode<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    wrap: Option<i64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = BytesLike::bytes_only(data, "base64.encode()")?;
    let wrap = match wrap {
        Some(w) if w < 1 => {
            return Err(PyValueError::new_err(format!(
                "wrap must be a positive line length or None, not {w}"
            )));
        }
        Some(w) => Some(usize::try_from(w).unwrap_or(usize::MAX)),
        None => None,
    };
    let input = data.as_bytes();
    let len = base64::encoded_len(input.len(), wrap);
    new_bytes(py, len, |out| base64::encode_into(input, wrap, out))
}

/// Base64-decode; lenient (skip non-alphabet bytes, never fail) unless `strict`.
#[pyfunction]
#[pyo3(signature = (data, strict=false))]
fn base64_decode<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    strict: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = BytesLike::ascii_or_bytes(data, "base64.decode()")?;
    let input = data.as_bytes();
    let out = if strict {
        run(py, input, base64::decode_strict).map_err(|e| codec_error(py, e))?
    } else {
        run(py, input, base64::decode_lenient)
    };
    bytes_from(py, &out)
}

/// Quoted-printable encode (RFC 2045 §6.7), or the RFC 2047 "Q" form with `header`.
#[pyfunction]
#[pyo3(signature = (data, header=false, binary=false))]
fn qp_encode<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    header: bool,
    binary: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = BytesLike::bytes_only(data, "quoted_printable.encode()")?;
    let out = run(py, data.as_bytes(), |d| {
        if header {
            quoted_printable::encode_header(d)
        } else {
            quoted_printable::encode(d, binary)
        }
    });
    bytes_from(py, &out)
}

/// Quoted-printable decode, lenient with malformed `=` sequences.
#[pyfunction]
#[pyo3(signature = (data, header=false))]
fn qp_decode<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    header: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = BytesLike::ascii_or_bytes(data, "quoted_printable.decode()")?;
    let out = run(py, data.as_bytes(), |d| quoted_printable::decode(d, header));
    bytes_from(py, &out)
}

/// Encode text as RFC 2047 encoded words.
#[pyfunction]
#[pyo3(signature = (text, charset="utf-8"))]
fn encoded_word_encode(py: Python<'_>, text: &str, charset: &str) -> PyResult<String> {
    encoded_word::encode(text, charset).map_err(|e| codec_error(py, e))
}

/// Decode the RFC 2047 encoded words in a header value (str, or raw bytes).
#[pyfunction]
fn encoded_word_decode(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let data = BytesLike::text_or_bytes(value, "encoded_word.decode()")?;
    Ok(if data.is_str() {
        // text_or_bytes guarantees UTF-8 for str.
        encoded_word::decode(std::str::from_utf8(data.as_bytes()).unwrap_or_default())
    } else {
        encoded_word::decode_bytes(data.as_bytes())
    })
}

/// Split a MIME header value into (value, {param: value}), decoding RFC 2231 and RFC 2047.
#[pyfunction]
fn params_decode<'py>(py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let data = BytesLike::text_or_bytes(value, "params.decode()")?;
    // Bytes as they are: 8-bit values are read per value (UTF-8, else windows-1252), and raw
    // bytes inside an RFC 2047 word as bytes of its charset.
    let parsed = params::parse_bytes(data.as_bytes()).into_owned();
    let dict = PyDict::new(py);
    for (k, v) in &parsed.params {
        dict.set_item(k, v)?;
    }
    PyTuple::new(
        py,
        [parsed.value.into_pyobject(py)?.into_any(), dict.into_any()],
    )
}

/// Format one MIME parameter, in RFC 2231 form when the value is not ASCII.
#[pyfunction]
#[pyo3(signature = (name, value, charset="utf-8"))]
fn params_encode(py: Python<'_>, name: &str, value: &str, charset: &str) -> PyResult<String> {
    params::encode(name, value, charset).map_err(|e| codec_error(py, e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(base64_encode, m)?)?;
    m.add_function(wrap_pyfunction!(base64_decode, m)?)?;
    m.add_function(wrap_pyfunction!(qp_encode, m)?)?;
    m.add_function(wrap_pyfunction!(qp_decode, m)?)?;
    m.add_function(wrap_pyfunction!(encoded_word_encode, m)?)?;
    m.add_function(wrap_pyfunction!(encoded_word_decode, m)?)?;
    m.add_function(wrap_pyfunction!(params_decode, m)?)?;
    m.add_function(wrap_pyfunction!(params_encode, m)?)?;
    Ok(())
}
