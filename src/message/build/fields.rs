//! Header fields as the builder takes them: names, kinds, values, and their checks.

use super::error::{BuildError, Result, check_line, has_line_break};
use super::{FOLD, MAX_RUN};
use crate::message::address::{self, Address};

/// How a field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An address list (RFC 5322 §3.4).
    Addresses,
    /// msg-ids (RFC 5322 §3.6.4).
    Ids,
    /// A date-time (RFC 5322 §3.3).
    Date,
    /// Unstructured text (RFC 5322 §3.2.5), RFC 2047-encoded where needed.
    Text,
}

const ADDRESS_FIELDS: [&str; 14] = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Bcc",
    "Disposition-Notification-To",
    "Mail-Followup-To",
    "Mail-Reply-To",
];
const ID_FIELDS: [&str; 4] = [
    "Message-ID",
    "In-Reply-To",
    "References",
    "Resent-Message-ID",
];
const DATE_FIELDS: [&str; 2] = ["Date", "Resent-Date"];
/// The MIME structure is the builder's (and the editor's) to write.
const RESERVED: [&str; 5] = [
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Content-ID",
];

fn is_one_of(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// How the field `name` is written.
pub fn kind_of(name: &str) -> Kind {
    if is_one_of(name, &ADDRESS_FIELDS) {
        Kind::Addresses
    } else if is_one_of(name, &ID_FIELDS) {
        Kind::Ids
    } else if is_one_of(name, &DATE_FIELDS) {
        Kind::Date
    } else {
        Kind::Text
    }
}

/// May this field appear only once (RFC 5322 §3.6)?
pub fn is_once(name: &str) -> bool {
    is_one_of(name, &crate::message::ONCE)
}

/// Check a field name a user gives: RFC 5322 §3.6.8 `ftext`, and not one of the MIME
/// structure fields the builder writes.
pub fn check_name(name: &str) -> Result<()> {
    // A name longer than a folded line could not share the line with any value.
    if name.is_empty()
        || name.len() > FOLD - 2
        || name.bytes().any(|b| !(33..=126).contains(&b) || b == b':')
    {
        return Err(BuildError::InvalidName {
            name: name.to_owned(),
        });
    }
    if is_one_of(name, &RESERVED) {
        return Err(BuildError::Reserved {
            field: name.to_owned(),
        });
    }
    Ok(())
}

/// A field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Addresses(Vec<Address>),
    /// msg-ids without angle brackets.
    Ids(Vec<String>),
    /// A date-time as it is written.
    Date(String),
}

impl Value {
    /// Read a value given as text for the field `name`.
    pub fn parse(name: &str, text: &str) -> Result<Value> {
        match kind_of(name) {
            Kind::Addresses => parse_addresses(text).map(Value::Addresses),
            Kind::Ids => parse_ids(name, text).map(Value::Ids),
            Kind::Date => parse_date(name, text).map(Value::Date),
            Kind::Text => {
                check_line(name, text)?;
                Ok(Value::Text(text.to_owned()))
            }
        }
    }

    /// Check a value built by the caller (rather than parsed) for the field `name`.
    pub fn check(&self, name: &str) -> Result<()> {
        match (self, kind_of(name)) {
            (Value::Addresses(list), Kind::Addresses) => list.iter().try_for_each(check_address),
            (Value::Ids(ids), Kind::Ids) => ids.iter().try_for_each(|id| check_id(name, id)),
            (Value::Date(d), Kind::Date) => parse_date(name, d).map(|_| ()),
            (Value::Text(t), Kind::Text) => check_line(name, t),
            _ => Err(BuildError::InvalidValue {
                field: name.to_owned(),
                reason: "this kind of value does not belong in this field".into(),
            }),
        }
    }
}

/// Parse an address list given as text (`"Bob <bob@example.com>, carol@example.com"`).
pub fn parse_addresses(text: &str) -> Result<Vec<Address>> {
    if has_line_break(text) {
        return Err(BuildError::InvalidAddress {
            text: text.to_owned(),
            reason: "contains a CR, LF or NUL character".into(),
        });
    }
    let (list, repaired) = address::parse_list_checked(text.as_bytes());
    if repaired {
        // The reader splits `a@x b@y` and `Name a@x` leniently; a sender writes commas
        // and angle brackets.
        return Err(BuildError::InvalidAddress {
            text: text.to_owned(),
            reason: "addresses need a comma between them, and a name needs <> around its address"
                .into(),
        });
    }
    if list.is_empty() {
        return Err(BuildError::InvalidAddress {
            text: text.to_owned(),
            reason: "no address in it".into(),
        });
    }
    for a in &list {
        // The reader accepts obsolete forms (`a . b@x`, comments, routes) and normalises
        // them; a sender must not: what is sent is what was written.
        if !a.email.is_empty() && !text.contains(a.email.as_str()) && !text.contains('"') {
            return Err(BuildError::InvalidAddress {
                text: text.to_owned(),
                reason: format!("it is read as {:?} (obsolete or malformed syntax)", a.email),
            });
        }
        check_address(a).map_err(|e| match e {
            BuildError::InvalidAddress { reason, .. } => BuildError::InvalidAddress {
                text: text.to_owned(),
                reason,
            },
            e => e,
        })?;
    }
    Ok(list)
}

pub(super) fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Why `email` is not an RFC 5322 addr-spec, if it is not.
fn addr_spec_problem(email: &str) -> Option<&'static str> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some("it has no @domain");
    };
    if local.is_empty() {
        return Some("the part before @ is empty");
    }
    if domain.is_empty() {
        return Some("the domain is empty");
    }
    if email.len() > 254 {
        return Some("it is longer than 254 octets (RFC 5321 §4.5.3.1)");
    }
    if local.len() > 64 {
        return Some("the part before @ is longer than 64 octets (RFC 5321 §4.5.3.1)");
    }
    if let Some(inner) = local.strip_prefix('"') {
        let Some(inner) = inner.strip_suffix('"') else {
            return Some("an unterminated quoted string");
        };
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.next().is_some() => {}
                '"' | '\\' => return Some("an unescaped quote or backslash"),
                c if c.is_control() => return Some("a control character"),
                _ => {}
            }
        }
    } else if local
        .split('.')
        .any(|atom| atom.is_empty() || !atom.chars().all(is_atext))
    {
        return Some("the part before @ is not a dot-atom (RFC 5322 §3.4.1)");
    }
    if let Some(literal) = domain.strip_prefix('[') {
        let ok = literal.strip_suffix(']').is_some_and(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| (33..=126).contains(&b) && !b"[]\\".contains(&b))
        });
        if !ok {
            return Some("a malformed domain literal");
        }
    } else if domain.split('.').any(|label| {
        label.is_empty()
            || !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii())
    }) {
        return Some("the domain is not a host name");
    }
    None
}

/// Check an address given to the builder: no line breaks anywhere, a valid addr-spec.
pub fn check_address(a: &Address) -> Result<()> {
    let text = || address::format(&a.name, &a.email);
    let bad = |reason: &str| BuildError::InvalidAddress {
        text: text(),
        reason: reason.to_owned(),
    };
    if has_line_break(&a.name)
        || has_line_break(&a.email)
        || a.group.as_deref().is_some_and(has_line_break)
    {
        return Err(bad("contains a CR, LF or NUL character"));
    }
    if let Some(reason) = addr_spec_problem(&a.email) {
        return Err(bad(reason));
    }
    Ok(())
}

/// Check a msg-id (without angle brackets).
pub fn check_id(field: &str, id: &str) -> Result<()> {
    check_line(field, id)?;
    let reason = if id.is_empty() {
        "an empty msg-id"
    } else if id.len() > MAX_RUN {
        "a msg-id longer than 900 characters"
    } else if id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        "a msg-id cannot hold whitespace, control characters or angle brackets"
    } else {
        return Ok(());
    };
    Err(BuildError::InvalidValue {
        field: field.to_owned(),
        reason: reason.into(),
    })
}

/// msg-ids from text: `<a@b> <c@d>`, or a bare `a@b`.
pub fn parse_ids(field: &str, text: &str) -> Result<Vec<String>> {
    check_line(field, text)?;
    let ids: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.strip_prefix('<')
                .and_then(|s| s.strip_suffix('>'))
                .unwrap_or(s)
                .to_owned()
        })
        .collect();
    if ids.is_empty() {
        return Err(BuildError::InvalidValue {
            field: field.to_owned(),
            reason: "no msg-id in it".into(),
        });
    }
    for id in &ids {
        check_id(field, id)?;
    }
    Ok(ids)
}

fn parse_date(field: &str, text: &str) -> Result<String> {
    check_line(field, text)?;
    if text.len() > 200 || crate::message::date::parse(text.as_bytes()).is_none() {
        return Err(BuildError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{text:?} is not an RFC 5322 date-time"),
        });
    }
    Ok(text.trim().to_owned())
}
