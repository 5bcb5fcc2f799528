//! `MessageBuilder`, `Attachment` and `MessageEditor`, and the work behind `Message.build`,
//! `Message.reply`, `Message.forward` and `Message.edit`: the Python face of
//! `crate::message::{build, edit, reply}`.
//!
//! Python values become core values here (addresses, msg-ids, dates, attachments); the core
//! writes the bytes, and the result is parsed into a `Message` like any other, so every
//! accessor works on a built message.

mod attachment;
mod builder;
mod editor;
mod reply;

pub use attachment::PyAttachment;
pub use builder::{BuildArgs, PyMessageBuilder, build_message};
pub use editor::PyMessageEditor;
pub use reply::{forward, reply};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::errors::build_error;
use super::types;
use super::values::{PyAddress, type_error};
use crate::message::address::Address;
use crate::message::build::{self, BuildError, Kind, Value};

fn err(py: Python<'_>) -> impl Fn(BuildError) -> PyErr + '_ {
    move |e| build_error(py, e)
}

// ---------------------------------------------------------------------------------------
// Python values to field values

/// A `datetime` as an RFC 5322 date-time; a naive one is local time.
fn date_from(py: Python<'_>, dt: &Bound<'_, PyAny>) -> PyResult<String> {
    let aware = if dt.call_method0("utcoffset")?.is_none() {
        dt.call_method0("astimezone")?
    } else {
        dt.clone()
    };
    let ts: f64 = aware.call_method0("timestamp")?.extract()?;
    let offset: f64 = aware
        .call_method0("utcoffset")?
        .call_method0("total_seconds")?
        .extract()?;
    build::format_date(ts.floor() as i64, offset as i32).map_err(err(py))
}

/// Items of an argument that may be one value or an iterable of them.
fn items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    obj.try_iter()?.collect()
}

/// Addresses from `str` (one or a comma-separated list), `Address`, or an iterable of those.
fn addresses_from(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<Address>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return build::parse_addresses(s.to_str()?).map_err(err(py));
    }
    if let Ok(a) = obj.cast::<PyAddress>() {
        let a = a.get().core().clone();
        build::check_address(&a).map_err(err(py))?;
        return Ok(vec![a]);
    }
    if obj.is_instance_of::<PyBytes>() {
        return Err(type_error("an address", "str or Address", obj));
    }
    let mut out = Vec::new();
    for item in items(obj).map_err(|_| type_error("an address", "str, Address or a list", obj))? {
        if item.is_instance_of::<PyString>() || item.is_instance_of::<PyAddress>() {
            out.extend(addresses_from(py, &item)?);
        } else {
            return Err(type_error("an address list", "str or Address items", &item));
        }
    }
    Ok(out)
}

/// The value for the field `name` from a Python object: addresses for address fields,
/// `str` or a list of `str` for msg-id fields, `datetime` or `str` for dates, `str` for the
/// rest.
fn value_from(py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let kind = build::kind_of(name);
    if let Ok(s) = obj.cast::<PyString>()
        && kind != Kind::Addresses
    {
        return Value::parse(name, s.to_str()?).map_err(err(py));
    }
    match kind {
        Kind::Addresses => {
            let list = addresses_from(py, obj)?;
            if list.is_empty() {
                return Err(PyValueError::new_err(format!("{name}: no address given")));
            }
            Ok(Value::Addresses(list))
        }
        Kind::Ids => {
            let mut ids = Vec::new();
            for item in items(obj).map_err(|_| type_error(name, "str or a list of str", obj))? {
                let s: String = item
                    .extract()
                    .map_err(|_| type_error(name, "str items", &item))?;
                ids.extend(build::parse_ids(name, &s).map_err(err(py))?);
            }
            if ids.is_empty() {
                return Err(PyValueError::new_err(format!("{name}: no msg-id given")));
            }
            Ok(Value::Ids(ids))
        }
        Kind::Date if obj.is_instance(types::DATETIME.get(py)?)? => {
            Ok(Value::Date(date_from(py, obj)?))
        }
        Kind::Date => Err(type_error(name, "a datetime or str", obj)),
        Kind::Text => Err(type_error(name, "str", obj)),
    }
}

/// `(name, value)` pairs from a mapping or an iterable of pairs.
fn header_pairs<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let pairs: Bound<'py, PyAny> = if obj.hasattr("items")? {
        obj.call_method0("items")?
    } else {
        obj.clone()
    };
    let mut out = Vec::new();
    for item in
        items(&pairs).map_err(|_| type_error("headers", "a mapping or (name, value) pairs", obj))?
    {
        let (name, value): (String, Bound<'py, PyAny>) = item
            .extract()
            .map_err(|_| type_error("headers", "(name, value) pairs", &item))?;
        out.push((name, value));
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAttachment>()?;
    m.add_class::<PyMessageBuilder>()?;
    m.add_class::<PyMessageEditor>()?;
    Ok(())
}
