//! Bindings for the structured-field grammars (`crate::message::{authres, tag_list,
//! list_headers}`): plain tuples that `mailprims.fields` turns into dataclasses; and the
//! bridge through which the `Message`, `Part` and `Headers` classes reach the Python-side
//! presentation code (`_repr_html_`, `trace()`, the parsed authentication fields).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::message::{authres, list_headers, tag_list};

type PropertyTuple = (String, String, String);
type ResultTuple = (
    String,
    Option<String>,
    String,
    Option<String>,
    Vec<PropertyTuple>,
    Vec<String>,
);

/// Parse an Authentication-Results value (RFC 8601), or with ``arc=True`` an
/// ARC-Authentication-Results value (RFC 8617): ``(authserv_id, version, instance,
/// [(method, method_version, result, reason, [(ptype, property, value)], comments)])``.
#[pyfunction]
#[pyo3(signature = (value, arc = false))]
fn authres_parse(
    value: &str,
    arc: bool,
) -> (
    Option<String>,
    Option<String>,
    Option<u32>,
    Vec<ResultTuple>,
) {
    let a = if arc {
        authres::parse_arc(value)
    } else {
        authres::parse(value)
    };
    let results = a
        .results
        .into_iter()
        .map(|r| {
            let props = r
                .properties
                .into_iter()
                .map(|p| (p.ptype, p.name, p.value))
                .collect();
            (
                r.method,
                r.method_version,
                r.result,
                r.reason,
                props,
                r.comments,
            )
        })
        .collect();
    (a.authserv_id, a.version, a.instance, results)
}

/// Parse a DKIM tag list (RFC 6376 §3.2): ``([(name, value)], duplicate_names, malformed)``.
#[pyfunction]
fn tag_list_parse(value: &str) -> (Vec<(String, String)>, Vec<String>, usize) {
    let t = tag_list::parse(value);
    (
        t.tags.into_iter().map(|t| (t.name, t.value)).collect(),
        t.duplicates,
        t.malformed,
    )
}

/// Parse an RFC 2369 ``List-*`` URL list: ``(urls, no, comments)``.
#[pyfunction]
fn list_urls_parse(value: &str) -> (Vec<String>, bool, Vec<String>) {
    let u = list_headers::parse_urls(value);
    (u.urls, u.no, u.comments)
}

/// Parse a ``List-Id`` value (RFC 2919): ``(description, id)``.
#[pyfunction]
fn list_id_parse(value: &str) -> (Option<String>, Option<String>) {
    let l = list_headers::parse_list_id(value);
    (l.description, l.id)
}

/// The Python modules the Rust classes hand presentation work to.
#[derive(Clone, Copy)]
pub enum Helper {
    /// `mailprims._display`: the `_repr_html_` renderers.
    Display,
    /// `mailprims.fields`: Authentication-Results, DKIM, ARC and List-* as dataclasses.
    Fields,
    /// `mailprims.trace`: the Received hops table.
    Trace,
}

/// Call ``<helper module>.<function>(obj)``. Each module is imported once.
pub fn call_python<'py>(
    obj: &Bound<'py, PyAny>,
    helper: Helper,
    function: &str,
) -> PyResult<Bound<'py, PyAny>> {
    static MODULES: [PyOnceLock<Py<PyModule>>; 3] =
        [PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new()];
    let (name, i) = match helper {
        Helper::Display => ("mailprims._display", 0),
        Helper::Fields => ("mailprims.fields", 1),
        Helper::Trace => ("mailprims.trace", 2),
    };
    let py = obj.py();
    let m = MODULES[i].get_or_try_init(py, || py.import(name).map(Bound::unbind))?;
    m.bind(py).getattr(function)?.call1((obj,))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(authres_parse, m)?)?;
    m.add_function(wrap_pyfunction!(tag_list_parse, m)?)?;
    m.add_function(wrap_pyfunction!(list_urls_parse, m)?)?;
    m.add_function(wrap_pyfunction!(list_id_parse, m)?)?;
    Ok(())
}
