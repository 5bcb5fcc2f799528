//! A whole message as JSON for the message view: headers, the Received trace with the delays
//! between hops, the MIME tree, the text, the attachments and the authentication results.
//! Everything is data: the page puts it in the document with `textContent`.

use serde_json::{Value, json};

use super::summary::{address_label, timestamp};
use crate::message::{Address, Document, MessageView, PartId, PartView, authres};

/// RFC 3848 protocol names that say TLS was used (as `mailprims.trace` reads them).
const TLS_PROTOCOLS: [&str; 9] = [
    "esmtps",
    "esmtpsa",
    "lmtps",
    "lmtpsa",
    "utf8smtps",
    "utf8smtpsa",
    "utf8lmtps",
    "utf8lmtpsa",
    "smtps",
];

/// Most text the message view gets in one piece.
const MAX_TEXT: usize = 1024 * 1024;

fn addresses(list: &[Address]) -> Value {
    Value::Array(
        list.iter()
            .map(|a| json!({"name": a.name, "email": a.email, "label": address_label(a)}))
            .collect(),
    )
}

/// The trace oldest hop first, with the delay since the previous dated hop; the same table
/// `msg.trace()` gives in Python.
pub fn trace(m: &MessageView<'_>) -> Value {
    let received = m.received();
    let mut previous: Option<i64> = None;
    let mut hops = Vec::new();
    let mut dated = Vec::new();
    for (i, r) in received.iter().rev().enumerate() {
        let when = r.date.as_ref().map(timestamp);
        let delay = match (when, previous) {
            (Some(w), Some(p)) => Some(w - p),
            _ => None,
        };
        if let Some(w) = when {
            previous = Some(w);
            dated.push(w);
        }
        let tls = r.tls.is_some()
            || r.tls_version.is_some()
            || r.tls_cipher.is_some()
            || r.protocol
                .as_deref()
                .is_some_and(|p| TLS_PROTOCOLS.contains(&p.to_ascii_lowercase().as_str()));
        hops.push(json!({
            "hop": i + 1,
            "from": r.from_host,
            "from_ip": r.from_ip,
            "from_rdns": r.from_rdns,
            "by": r.by_host,
            "protocol": r.protocol,
            "tls": tls,
            "tls_version": r.tls_version,
            "id": r.id,
            "for": r.for_,
            "date": when,
            "delay_seconds": delay,
        }));
    }
    let transit = match (dated.first(), dated.last()) {
        (Some(a), Some(b)) if dated.len() >= 2 => Some(b - a),
        _ => None,
    };
    let created = m.date().as_ref().map(timestamp);
    json!({
        "hops": hops,
        "transit_seconds": transit,
        "delivered_after_seconds": match (dated.last(), created) {
            (Some(l), Some(c)) => Some(l - c),
            _ => None,
        },
    })
}

fn auth_results(m: &MessageView<'_>) -> Value {
    let mut out = Vec::new();
    for f in m.fields() {
        let arc = f.is("ARC-Authentication-Results");
        if !(arc || f.is("Authentication-Results")) {
            continue;
        }
        let value = f.unfolded();
        let parsed = if arc {
            authres::parse_arc(&value)
        } else {
            authres::parse(&value)
        };
        let results: Vec<Value> = parsed
            .results
            .iter()
            .map(|r| {
                json!({
                    "method": r.method,
                    "result": r.result,
                    "reason": r.reason,
                    "properties": r.properties.iter()
                        .map(|p| json!({"ptype": p.ptype, "name": p.name, "value": p.value}))
                        .collect::<Vec<_>>(),
                    "comments": r.comments,
                })
            })
            .collect();
        out.push(json!({
            "field": f.name_str(),
            "authserv_id": parsed.authserv_id,
            "instance": parsed.instance,
            "results": results,
        }));
    }
    Value::Array(out)
}

fn part_json(p: &PartView<'_>, attachments: &[PartId]) -> Value {
    let children: Vec<Value> = p
        .children()
        .iter()
        .map(|&c| {
            part_json(
                &PartView {
                    tree: p.tree,
                    id: c,
                },
                attachments,
            )
        })
        .collect();
    let attached = p.message().map(|id| {
        let m = MessageView { tree: p.tree, id };
        part_json(&m.root(), attachments)
    });
    let size = if p.is_multipart() {
        None
    } else {
        Some(p.payload().len())
    };
    json!({
        "part": p.id,
        "type": p.mime_type(),
        "charset": p.charset(),
        "disposition": p.disposition(),
        "filename": p.filename(),
        "content_id": p.content_id(),
        "encoding": p.transfer_encoding_name(),
        "size": size,
        "attachment": attachments.contains(&p.id),
        "children": children,
        "message": attached,
    })
}

/// The message view's data (`flags` and the ids come from the index entry).
pub fn detail(doc: &Document) -> Value {
    let m = doc.root();
    let structure = m.body_structure();
    let mut text = String::new();
    let mut truncated = false;
    for &id in &structure.text {
        let p = PartView { tree: m.tree, id };
        if p.mime_type() != "text/plain" {
            continue;
        }
        if let Some(t) = p.text() {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&t);
        }
    }
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        truncated = true;
    }
    let has_html = structure
        .html
        .iter()
        .any(|&id| PartView { tree: m.tree, id }.mime_type() == "text/html");
    let headers: Vec<Value> = m
        .fields()
        .map(|f| json!([f.name_str(), f.decoded()]))
        .collect();
    let attachments: Vec<Value> = structure
        .attachments
        .iter()
        .map(|&id| {
            let p = PartView { tree: m.tree, id };
            json!({
                "part": id,
                "filename": p.filename(),
                "type": p.mime_type(),
                "size": p.payload().len(),
                "content_id": p.content_id(),
            })
        })
        .collect();
    json!({
        "subject": m.subject(),
        "from": addresses(&m.addresses("From")),
        "to": addresses(&m.addresses("To")),
        "cc": addresses(&m.addresses("Cc")),
        "reply_to": addresses(&m.addresses("Reply-To")),
        "date": m.date().as_ref().map(timestamp),
        "message_id": m.message_id(),
        "headers": headers,
        "text": if structure.text.is_empty() && text.is_empty() { None } else { Some(text) },
        "text_truncated": truncated,
        "has_html": has_html,
        "attachments": attachments,
        "parts": part_json(&m.root(), &structure.attachments),
        "trace": trace(&m),
        "authentication_results": auth_results(&m),
        "defects": m.defects().iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
    })
}

/// The first HTML body part's text.
pub fn html_body(doc: &Document) -> Option<String> {
    let m = doc.root();
    m.body_structure().html.iter().find_map(|&id| {
        let p = PartView { tree: m.tree, id };
        (p.mime_type() == "text/html").then(|| p.text()).flatten()
    })
}

/// A part of the message by number, if it belongs to the top-level message's tree.
pub fn part<'d>(doc: &'d Document, id: PartId) -> Option<PartView<'d>> {
    let m = doc.root();
    m.walk().contains(&id).then(|| doc.part(id)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_delays_oldest_first() {
        let doc = Document::from_vec(
            b"Received: from b.example (b.example [192.0.2.2]) by c.example with ESMTPS id 2;\r\n\
\x20Thu, 1 Jan 2026 10:00:41 +0000\r\n\
Received: from a.example by b.example with SMTP id 1; Thu, 1 Jan 2026 11:00:00 +0100\r\n\
Authentication-Results: mx.example; spf=pass smtp.mailfrom=a.example; dkim=fail (bad sig) header.d=a.example\r\n\
Date: Thu, 1 Jan 2026 09:59:00 +0000\r\nSubject: t\r\n\r\nbody\r\n"
                .to_vec(),
        );
        let d = detail(&doc);
        let hops = d["trace"]["hops"].as_array().unwrap();
        assert_eq!(hops[0]["by"], "b.example");
        assert_eq!(hops[0]["tls"], false);
        assert_eq!(hops[1]["delay_seconds"], 41);
        assert_eq!(hops[1]["tls"], true);
        assert_eq!(hops[1]["from_ip"], "192.0.2.2");
        assert_eq!(d["trace"]["transit_seconds"], 41);
        assert_eq!(d["trace"]["delivered_after_seconds"], 101);
        let ar = &d["authentication_results"][0];
        assert_eq!(ar["authserv_id"], "mx.example");
        assert_eq!(ar["results"][1]["method"], "dkim");
        assert_eq!(ar["results"][1]["comments"][0], "bad sig");
        assert_eq!(d["text"], "body\r\n");
        assert_eq!(d["has_html"], false);
    }
}
