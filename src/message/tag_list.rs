//! DKIM tag=value lists (RFC 6376 §3.2), the syntax of DKIM-Signature and of ARC-Seal and
//! ARC-Message-Signature (RFC 8617 §4.1.2, §4.1.3).
//!
//! ```text
//! tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//! tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//! tag-name  =  ALPHA *ALNUMPUNC                ; ALNUMPUNC = ALPHA / DIGIT / "_"
//! tag-value =  [ tval *( 1*(WSP / FWS) tval ) ] ; tval = 1*VALCHAR (%x21-3A / %x3C-7E)
//! ```
//!
//! Values come back with folding removed and inner white space runs collapsed to one
//! space (the signature and hash tags ignore white space altogether: the caller strips it,
//! see [`Tag::compact`]). A tag-spec that does not fit the grammar is skipped and counted
//! in [`TagList::malformed`]; a repeated tag name makes the whole list invalid (§3.2), so
//! the first is kept and the repeat listed in [`TagList::duplicates`].

/// One `name=value` of a tag list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub value: String,
}

impl Tag {
    /// The value with all white space removed (base64 `b=`/`bh=`, `h=`, `z=`).
    pub fn compact(&self) -> String {
        self.value.split_ascii_whitespace().collect()
    }
}

/// A parsed tag list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagList {
    pub tags: Vec<Tag>,
    /// Tag names that occurred again (their later values are not in `tags`).
    pub duplicates: Vec<String>,
    /// Tag-specs that did not read as `name=value`.
    pub malformed: usize,
}

impl TagList {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.value.as_str())
    }
}

/// Parse a tag list. Never fails.
pub fn parse(value: &str) -> TagList {
    let mut out = TagList::default();
    for spec in value.split(';') {
        let spec = spec.trim_matches(|c: char| c.is_ascii_whitespace());
        if spec.is_empty() {
            // `;;` and the optional trailing `;`.
            continue;
        }
        let Some((name, val)) = spec.split_once('=') else {
            out.malformed += 1;
            continue;
        };
        let name = name.trim_matches(|c: char| c.is_ascii_whitespace());
        let valid_name = name.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !valid_name {
            out.malformed += 1;
            continue;
        }
        // Tag names are case-sensitive (§3.2); keep them as written.
        if out.tags.iter().any(|t| t.name == name) {
            out.duplicates.push(name.to_string());
            continue;
        }
        out.tags.push(Tag {
            name: name.to_string(),
            value: val.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6376_section_3_5_example() {
        // RFC 6376 §3.5, the example signature (folded as printed there).
        let t = parse(
            " v=1; a=rsa-sha256; d=example.net; s=brisbane;\r\n     c=simple; q=dns/txt; i=@eng.example.net;\r\n     t=1117574938; x=1118006938;\r\n     h=from:to:subject:date;\r\n     z=From:foo@eng.example.net|To:joe@example.com|\r\n       Subject:demo=20run|Date:July=205,=202005=203:44:08=20PM=20-0700;\r\n     bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=;\r\n     b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR",
        );
        assert_eq!(t.tags.len(), 13);
        assert_eq!(t.get("v"), Some("1"));
        assert_eq!(t.get("d"), Some("example.net"));
        assert_eq!(t.get("h"), Some("from:to:subject:date"));
        assert_eq!(
            t.get("bh"),
            Some("MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=")
        );
        let z = t.tags.iter().find(|t| t.name == "z").unwrap();
        assert_eq!(
            z.compact(),
            "From:foo@eng.example.net|To:joe@example.com|Subject:demo=20run|Date:July=205,=202005=203:44:08=20PM=20-0700"
        );
        assert!(t.duplicates.is_empty());
        assert_eq!(t.malformed, 0);
    }

    #[test]
    fn rfc8617_folded_values() {
        // RFC 8617 Appendix B.1: values folded right after "=".
        let t = parse(
            " i=3; a=rsa-sha256; cv=pass; d=clochette.example.org; s=\r\n        clochette; t=12345; b=CU87XzXlNlk5X/yW4l73UvPUcP9ivwYWxyBWcVrRs7\r\n        +HPx3K05nJhny2fvymbReAmOA9GTH/y+k9kEc59hAKVg==",
        );
        assert_eq!(t.get("s"), Some("clochette"));
        assert_eq!(t.get("cv"), Some("pass"));
        let b = t.tags.iter().find(|t| t.name == "b").unwrap();
        assert_eq!(
            b.compact(),
            "CU87XzXlNlk5X/yW4l73UvPUcP9ivwYWxyBWcVrRs7+HPx3K05nJhny2fvymbReAmOA9GTH/y+k9kEc59hAKVg=="
        );
    }

    #[test]
    fn duplicates_and_garbage() {
        // §3.2: a repeated tag name invalidates the list; the first value is kept.
        let t = parse("v=1; d=a.example; d=b.example; ;; nonsense; 9x=1; =2; b=");
        assert_eq!(t.get("d"), Some("a.example"));
        assert_eq!(t.duplicates, ["d"]);
        assert_eq!(t.malformed, 3);
        assert_eq!(t.get("b"), Some(""));
        for v in ["", ";", "=", "==;==", "é=ü; ü=é", "a=\u{1F600}"] {
            let _ = parse(v);
        }
    }
}
