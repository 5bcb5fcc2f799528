//! Bindings for the structured-field grammars (`crate::message::{authres, tag_list,
//! list_headers}`): typed values (`Parsed*`) that `mailprims.fields` turns into dataclasses; and the
//! bridge through which the `Message`, `Part` and `Headers` classes reach the Python-side
//! presentation code (`_repr_html_`, `trace()`, the parsed authentication fields).

use pyo3::prelude::*;

use super::types;
use crate::message::{authres, list_headers, tag_list};

/// One `ptype.property=value` of a result (RFC 8601 §2.2).
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
#[derive(Clone)]
pub struct ParsedAuthProperty {
    ptype: String,
    name: String,
    value: String,
}

/// One method's result of an Authentication-Results field.
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
#[derive(Clone)]
pub struct ParsedAuthResult {
    method: String,
    method_version: Option<String>,
    result: String,
    reason: Option<String>,
    properties: Vec<ParsedAuthProperty>,
    comments: Vec<String>,
}

/// An Authentication-Results (or ARC-Authentication-Results) value, as read.
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
pub struct ParsedAuthResults {
    authserv_id: Option<String>,
    version: Option<String>,
    instance: Option<u32>,
    results: Vec<ParsedAuthResult>,
}

/// Parse an Authentication-Results value (RFC 8601), or with ``arc=True`` an
/// ARC-Authentication-Results value (RFC 8617).
#[pyfunction]
#[pyo3(signature = (value, arc = false))]
fn authres_parse(value: &str, arc: bool) -> ParsedAuthResults {
    let a = if arc {
        authres::parse_arc(value)
    } else {
        authres::parse(value)
    };
    let results = a
        .results
        .into_iter()
        .map(|r| ParsedAuthResult {
            method: r.method,
            method_version: r.method_version,
            result: r.result,
            reason: r.reason,
            properties: r
                .properties
                .into_iter()
                .map(|p| ParsedAuthProperty {
                    ptype: p.ptype,
                    name: p.name,
                    value: p.value,
                })
                .collect(),
            comments: r.comments,
        })
        .collect();
    ParsedAuthResults {
        authserv_id: a.authserv_id,
        version: a.version,
        instance: a.instance,
        results,
    }
}

/// A DKIM tag list (RFC 6376 §3.2), as read.
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
pub struct ParsedTagList {
    /// `(name, value)` in order, repeats included.
    tags: Vec<(String, String)>,
    /// Names that appear more than once.
    duplicates: Vec<String>,
    /// How many tag-specs were not `name=value`.
    malformed: usize,
}

/// Parse a DKIM tag list (RFC 6376 §3.2).
#[pyfunction]
fn tag_list_parse(value: &str) -> ParsedTagList {
    let t = tag_list::parse(value);
    ParsedTagList {
        tags: t.tags.into_iter().map(|t| (t.name, t.value)).collect(),
        duplicates: t.duplicates,
        malformed: t.malformed,
    }
}

/// An RFC 2369 `List-*` URL list, as read.
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
pub struct ParsedListUrls {
    urls: Vec<String>,
    /// The `NO` of a List-Post that forbids posting.
    no: bool,
    comments: Vec<String>,
}

/// Parse an RFC 2369 ``List-*`` URL list.
#[pyfunction]
fn list_urls_parse(value: &str) -> ParsedListUrls {
    let u = list_headers::parse_urls(value);
    ParsedListUrls {
        urls: u.urls,
        no: u.no,
        comments: u.comments,
    }
}

/// A `List-Id` value (RFC 2919), as read.
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
pub struct ParsedListId {
    description: Option<String>,
    id: Option<String>,
}

/// Parse a ``List-Id`` value (RFC 2919).
#[pyfunction]
fn list_id_parse(value: &str) -> ParsedListId {
    let l = list_headers::parse_list_id(value);
    ParsedListId {
        description: l.description,
        id: l.id,
    }
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

/// Call ``<helper module>.<function>(obj)``.
pub fn call_python<'py>(
    obj: &Bound<'py, PyAny>,
    helper: Helper,
    function: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let module = match helper {
        Helper::Display => &types::DISPLAY_MODULE,
        Helper::Fields => &types::FIELDS_MODULE,
        Helper::Trace => &types::TRACE_MODULE,
    };
    module.get(obj.py())?.getattr(function)?.call1((obj,))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ParsedAuthProperty>()?;
    m.add_class::<ParsedAuthResult>()?;
    m.add_class::<ParsedAuthResults>()?;
    m.add_class::<ParsedTagList>()?;
    m.add_class::<ParsedListUrls>()?;
    m.add_class::<ParsedListId>()?;
    m.add_function(wrap_pyfunction!(authres_parse, m)?)?;
    m.add_function(wrap_pyfunction!(tag_list_parse, m)?)?;
    m.add_function(wrap_pyfunction!(list_urls_parse, m)?)?;
    m.add_function(wrap_pyfunction!(list_id_parse, m)?)?;
    Ok(())
}
