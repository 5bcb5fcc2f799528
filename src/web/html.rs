//! The HTML preview: the message's HTML sanitised with ammonia (scripts, event handlers,
//! forms, frames and unknown URL schemes removed; `cid:` images inlined as `data:` URLs),
//! then served with a Content-Security-Policy that forbids scripts, plugins and (unless the
//! reader asks) remote loads, into an `<iframe sandbox>` without `allow-scripts` or
//! `allow-same-origin`. Each layer alone keeps a hostile message from running code.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::message::Document;

/// A `cid:` image larger than this is not inlined.
const MAX_INLINE_IMAGE: usize = 2 * 1024 * 1024;
/// Nor once the inlined images add up to this.
const MAX_INLINE_TOTAL: usize = 10 * 1024 * 1024;

/// Image types a browser shows without running anything (no SVG: it can hold script).
pub fn is_safe_image(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/jpg" | "image/gif" | "image/webp" | "image/bmp"
    )
}

/// The policy the preview is served with.
pub fn preview_csp(remote: bool) -> String {
    let remote = if remote { " http: https:" } else { "" };
    format!(
        "default-src 'none'; img-src data:{remote}; style-src 'unsafe-inline'{remote}; \
         font-src data:{remote}; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; \
         sandbox allow-popups allow-popups-to-escape-sandbox"
    )
}

/// `cid:` -> `data:` URLs for the message's inline images.
fn inline_images(doc: &Document) -> HashMap<String, String> {
    let m = doc.root();
    let mut out = HashMap::new();
    let mut total = 0;
    for id in m.walk() {
        let Some(p) = doc.part(id) else { continue };
        let Some(cid) = p.content_id() else { continue };
        let mime = p.mime_type();
        if !is_safe_image(&mime) {
            continue;
        }
        let payload = p.payload();
        if payload.len() > MAX_INLINE_IMAGE || total + payload.len() > MAX_INLINE_TOTAL {
            continue;
        }
        total += payload.len();
        let b64 = crate::codec::base64::encode(&payload, None);
        let url = format!("data:{mime};base64,{}", String::from_utf8_lossy(&b64));
        out.insert(cid.to_ascii_lowercase(), url);
    }
    out
}

/// The sanitised document for the preview frame.
pub fn preview(doc: &Document, html: &str) -> String {
    let images = inline_images(doc);
    let mut b = ammonia::Builder::default();
    b.add_tags(["style", "font", "center"])
        .rm_clean_content_tags(["style"])
        .add_generic_attributes([
            "style",
            "class",
            "id",
            "align",
            "valign",
            "bgcolor",
            "width",
            "height",
            "border",
            "cellpadding",
            "cellspacing",
            "color",
            "dir",
            "lang",
            "face",
            "size",
            "background",
        ])
        .add_url_schemes(["data", "cid"])
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .strip_comments(true)
        .attribute_filter(move |element, attribute, value| {
            let lower = value.trim_start().to_ascii_lowercase();
            if lower.starts_with("cid:") {
                let cid = value.trim()[4..].trim_matches(|c| c == '<' || c == '>');
                return images
                    .get(&cid.to_ascii_lowercase())
                    .map(|u| Cow::Owned(u.clone()));
            }
            // data: URLs only as images (never a link target or a frame).
            if lower.starts_with("data:") && !(element == "img" && attribute == "src") {
                return None;
            }
            Some(Cow::Borrowed(value))
        });
    let clean = b.clean(html).to_string();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <style>body{{margin:8px;font-family:sans-serif;overflow-wrap:anywhere}}</style>\
         </head><body>{clean}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(html: &str) -> (Document, String) {
        let raw = format!(
            "Content-Type: multipart/related; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n{html}\r\n\
--b\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n--b--\r\n"
        );
        (Document::from_vec(raw.into_bytes()), html.to_owned())
    }

    #[test]
    fn scripts_handlers_and_forms_go() {
        let (d, h) = doc(
            "<style>p{color:red}</style><p onclick=\"x()\" style=\"color:blue\">Hi</p>\
             <script>document.title='pwned'</script><img src=x onerror=\"alert(1)\">\
             <a href=\"javascript:alert(1)\">j</a><a href=\"https://example.org/\">ok</a>\
             <iframe src=\"https://evil.example/\"></iframe><form action=/x><input></form>\
             <img src=\"cid:logo@x\"><a href=\"data:text/html,<script>1</script>\">d</a>",
        );
        let out = preview(&d, &h);
        for bad in [
            "onclick",
            "onerror",
            "<script",
            "pwned",
            "javascript:",
            "<iframe",
            "<form",
            "data:text/html",
        ] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
        assert!(out.contains("<style>p{color:red}</style>"), "{out}");
        assert!(out.contains("style=\"color:blue\""));
        assert!(
            out.contains("src=\"data:image/png;base64,iVBORw0K\""),
            "{out}"
        );
        assert!(out.contains("target=\"_blank\""));
        assert!(preview_csp(false).contains("img-src data:;"));
        assert!(preview_csp(true).contains("img-src data: http: https:;"));
    }
}
