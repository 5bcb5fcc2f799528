//! Client transcripts (`transcript=True`) as Python sees them: a list of `(direction, line)`
//! string pairs, `"C"` for lines the client sent and `"S"` for the server's.

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::net::transcript::Transcript;

pub fn lines_to_py<'py>(py: Python<'py>, t: Option<&Transcript>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    if let Some(t) = t {
        for (direction, line) in t.lines() {
            out.append((direction.label(), line))?;
        }
    }
    Ok(out)
}
