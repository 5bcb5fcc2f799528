//! Client transcripts (`transcript=True`) as Python sees them: a list of `(direction, line)`
//! string pairs, `"C"` for lines the client sent and `"S"` for the server's. Every client core
//! has a `transcript` getter returning one `ClientTranscript`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::net::transcript::Transcript;

/// The lines a client recorded (none when it was made without `transcript=True`).
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct ClientTranscript(Option<Arc<Transcript>>);

impl ClientTranscript {
    pub fn new(transcript: Option<&Arc<Transcript>>) -> Self {
        ClientTranscript(transcript.cloned())
    }
}

#[pymethods]
impl ClientTranscript {
    /// `[(direction, line)]`, oldest first.
    fn lines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        if let Some(t) = &self.0 {
            for (direction, line) in t.lines() {
                out.append((direction.label(), line))?;
            }
        }
        Ok(out)
    }

    /// Forget the lines recorded so far.
    fn clear(&self) {
        if let Some(t) = &self.0 {
            t.clear();
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ClientTranscript>()
}
