//! `Message.reply` and `Message.forward`.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::message::address::Address;
use crate::message::build::{self, Attachment, Builder, Content, MediaType, Options, Value};
use crate::message::reply;
use crate::python::message::PyMessage;

use super::attachment::{PyAttachment, attachment_list};
use super::builder::built;
use super::{addresses_from, err, header_pairs, value_from};

/// The replier: `from_`, or the parent's first recipient.
fn replier(
    py: Python<'_>,
    parent: &crate::message::MessageView<'_>,
    from_: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Vec<Address>> {
    match from_.filter(|f| !f.is_none()) {
        Some(f) => addresses_from(py, f),
        None => {
            let first = parent
                .addresses("To")
                .into_iter()
                .chain(parent.addresses("Cc"))
                .find(|a| build::check_address(a).is_ok())
                .map(|a| Address { group: None, ..a });
            first.map(|a| vec![a]).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{what} needs from_=: the message has no recipient address to send it from"
                ))
            })
        }
    }
}

/// Fill `b` from the common keyword arguments of reply() and forward().
fn apply_extras<'a>(
    py: Python<'_>,
    b: &mut Builder<'a>,
    headers: Option<&Bound<'_, PyAny>>,
    atts: &'a [Py<PyAttachment>],
) -> PyResult<()> {
    if let Some(h) = headers.filter(|h| !h.is_none()) {
        for (name, value) in header_pairs(h)? {
            build::check_name(&name).map_err(err(py))?;
            let v = value_from(py, &name, &value)?;
            b.set(&name, v).map_err(err(py))?;
        }
    }
    b.attachments.extend(atts.iter().map(|a| a.get().core(py)));
    Ok(())
}

/// Keep addresses the builder accepts (a parent may hold malformed ones).
fn valid(list: Vec<Address>) -> Vec<Address> {
    list.into_iter()
        .filter(|a| build::check_address(a).is_ok())
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn reply<'py>(
    py: Python<'py>,
    msg: &PyMessage,
    text: Option<String>,
    html: Option<String>,
    from_: Option<&Bound<'_, PyAny>>,
    reply_all: bool,
    quote: bool,
    attachments: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyAny>>,
    options: Options,
) -> PyResult<Bound<'py, PyMessage>> {
    let parent = msg.view();
    let me = replier(py, &parent, from_, "reply()")?;
    let (to, cc) = reply::reply_recipients(&parent, reply_all, &me);
    let (to, cc) = (valid(to), valid(cc));
    if to.is_empty() {
        return Err(PyValueError::new_err(
            "the message has no Reply-To or From address to reply to",
        ));
    }
    let (id, refs) = reply::thread_ids(&parent);
    let ok_id = |i: &String| build::check_id("References", i).is_ok();
    let mut b = Builder::new();
    b.options = options;
    let e = err(py);
    b.set("From", Value::Addresses(me)).map_err(&e)?;
    b.set("To", Value::Addresses(to)).map_err(&e)?;
    if !cc.is_empty() {
        b.set("Cc", Value::Addresses(cc)).map_err(&e)?;
    }
    let subject = reply::reply_subject(parent.subject().as_deref());
    b.set("Subject", Value::Text(subject)).map_err(&e)?;
    if let Some(id) = id.filter(ok_id) {
        b.set("In-Reply-To", Value::Ids(vec![id])).map_err(&e)?;
    }
    let refs: Vec<String> = refs.into_iter().filter(ok_id).collect();
    if !refs.is_empty() {
        b.set("References", Value::Ids(refs)).map_err(&e)?;
    }
    let mut body = text;
    if quote {
        let s = parent.body_structure();
        let original = s
            .text
            .iter()
            .filter_map(|&id| msg.document().0.part(id))
            .filter(|p| p.mime_type() == "text/plain")
            .filter_map(|p| p.text())
            .next();
        if let Some(original) = original {
            let quoted = reply::quote(&parent, &original);
            body = Some(match body {
                Some(t) if !t.is_empty() => {
                    format!("{}\n\n{quoted}", t.trim_end_matches(['\r', '\n']))
                }
                _ => quoted,
            });
        }
    }
    b.text = body.map(Cow::Owned);
    b.html = html.map(Cow::Owned);
    let atts = attachment_list(py, attachments)?;
    apply_extras(py, &mut b, headers, &atts)?;
    let size = b
        .attachments
        .iter()
        .map(|a| match &a.content {
            Content::Bytes(d) | Content::Message(d) => d.len(),
            Content::Text(t) => t.len(),
        })
        .sum();
    built(py, &b, size)
}

#[allow(clippy::too_many_arguments)]
pub fn forward<'py>(
    py: Python<'py>,
    msg: &PyMessage,
    to: Option<&Bound<'_, PyAny>>,
    from_: Option<&Bound<'_, PyAny>>,
    cc: Option<&Bound<'_, PyAny>>,
    bcc: Option<&Bound<'_, PyAny>>,
    text: Option<String>,
    html: Option<String>,
    subject: Option<String>,
    attachments: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyAny>>,
    options: Options,
) -> PyResult<Bound<'py, PyMessage>> {
    let parent = msg.view();
    let me = replier(py, &parent, from_, "forward()")?;
    let mut b = Builder::new();
    b.options = options;
    let e = err(py);
    b.set("From", Value::Addresses(me)).map_err(&e)?;
    for (name, value) in [("To", to), ("Cc", cc), ("Bcc", bcc)] {
        if let Some(v) = value.filter(|v| !v.is_none()) {
            let list = addresses_from(py, v)?;
            if !list.is_empty() {
                b.set(name, Value::Addresses(list)).map_err(&e)?;
            }
        }
    }
    let original_subject = parent.subject();
    let subject = subject.unwrap_or_else(|| reply::forward_subject(original_subject.as_deref()));
    b.set("Subject", Value::Text(subject)).map_err(&e)?;
    b.text = text.map(Cow::Owned);
    b.html = html.map(Cow::Owned);
    let original = parent.bytes();
    b.attachments.push(Attachment {
        content: Content::Message(Cow::Borrowed(original)),
        media_type: MediaType::new("message", "rfc822"),
        filename: Some(reply::message_filename(original_subject.as_deref())),
        inline: false,
        content_id: None,
    });
    let atts = attachment_list(py, attachments)?;
    apply_extras(py, &mut b, headers, &atts)?;
    let size = original.len() + atts.iter().map(|a| a.get().size(py)).sum::<usize>();
    built(py, &b, size)
}
