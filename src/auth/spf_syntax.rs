//! The SPF record grammar (RFC 7208 §4.6.1, §5, §6, §7.1), checked strictly before
//! mail-auth's parser reads the record: "any syntax errors anywhere in the record MUST be
//! detected" (§4.6), and mail-auth's parser forgives some (a bad CIDR length, a numeric top
//! label) while it refuses some valid records (unknown modifiers). Unknown modifiers are
//! dropped here (§6: they are ignored), so mail-auth sees only terms it knows.

/// The record with unknown modifiers removed, or why it is not valid SPF.
pub fn check(record: &str) -> Result<String, String> {
    let mut terms = record.split(' ').filter(|t| !t.is_empty());
    match terms.next() {
        Some(v) if v.eq_ignore_ascii_case("v=spf1") => {}
        _ => return Err("the record does not start with v=spf1".into()),
    }
    let mut kept = vec!["v=spf1".to_owned()];
    let (mut redirect, mut exp) = (false, false);
    for term in terms {
        if let Some(eq) = modifier_split(term) {
            let (name, value) = eq;
            if !valid_modifier_name(name) {
                return Err(format!("{term:?}: not a modifier name"));
            }
            match name.to_ascii_lowercase().as_str() {
                "redirect" => {
                    if redirect {
                        return Err("redirect= given twice (§6)".into());
                    }
                    redirect = true;
                    domain_spec(value, false).map_err(|e| format!("{term:?}: {e}"))?;
                    kept.push(term.to_owned());
                }
                "exp" => {
                    if exp {
                        return Err("exp= given twice (§6)".into());
                    }
                    exp = true;
                    domain_spec(value, false).map_err(|e| format!("{term:?}: {e}"))?;
                    kept.push(term.to_owned());
                }
                _ => {
                    macro_string(value, false).map_err(|e| format!("{term:?}: {e}"))?;
                }
            }
            continue;
        }
        mechanism(term).map_err(|e| format!("{term:?}: {e}"))?;
        kept.push(term.to_owned());
    }
    Ok(kept.join(" "))
}

/// `name=value` when the term is a modifier: a `=` before any `:` or `/` (§4.6.1).
fn modifier_split(term: &str) -> Option<(&str, &str)> {
    let eq = term.find('=')?;
    let stop = term.find([':', '/']).unwrap_or(usize::MAX);
    (eq < stop).then(|| (&term[..eq], &term[eq + 1..]))
}

fn valid_modifier_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn mechanism(term: &str) -> Result<(), String> {
    let body = term.strip_prefix(['+', '-', '~', '?']).unwrap_or(term);
    let name_end = body.find([':', '/']).unwrap_or(body.len());
    let (name, rest) = body.split_at(name_end);
    match name.to_ascii_lowercase().as_str() {
        "all" => {
            if rest.is_empty() {
                Ok(())
            } else {
                Err("all takes no argument".into())
            }
        }
        "include" | "exists" => match rest.strip_prefix(':') {
            Some(spec) => domain_spec(spec, false),
            None => Err(format!("{name} needs :domain")),
        },
        "ptr" => match rest.strip_prefix(':') {
            Some(spec) => domain_spec(spec, false),
            None if rest.is_empty() => Ok(()),
            None => Err("ptr takes :domain".into()),
        },
        "a" | "mx" => {
            // A domain-spec may hold "/" and ":" (§7.1): the CIDR lengths are what ends
            // the term as "/digits" and "//digits".
            let (spec, cidr) = match rest.strip_prefix(':') {
                Some(r) => {
                    let at = trailing_cidr(r);
                    (Some(&r[..at]), &r[at..])
                }
                None => (None, rest),
            };
            if let Some(spec) = spec {
                domain_spec(spec, false)?;
            }
            dual_cidr(cidr)
        }
        "ip4" => {
            let net = rest.strip_prefix(':').ok_or("ip4 needs :address")?;
            let (addr, cidr) = net
                .split_once('/')
                .map_or((net, None), |(a, c)| (a, Some(c)));
            addr.parse::<std::net::Ipv4Addr>()
                .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
            match cidr {
                Some(c) => cidr_length(c, 32).map(|_| ()),
                None => Ok(()),
            }
        }
        "ip6" => {
            let net = rest.strip_prefix(':').ok_or("ip6 needs :address")?;
            let (addr, cidr) = net
                .split_once('/')
                .map_or((net, None), |(a, c)| (a, Some(c)));
            addr.parse::<std::net::Ipv6Addr>()
                .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
            match cidr {
                Some(c) => cidr_length(c, 128).map(|_| ()),
                None => Ok(()),
            }
        }
        _ => Err("unknown mechanism".into()),
    }
}

/// Where a trailing `[/digits][//digits]` starts in `text`.
fn trailing_cidr(text: &str) -> usize {
    let mut end = text.len();
    for _ in 0..2 {
        let head = &text[..end];
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || !head[..head.len() - digits].ends_with('/') {
            break;
        }
        let mut start = head.len() - digits - 1;
        if head[..start].ends_with('/') {
            start -= 1;
        }
        end = start;
    }
    end
}

/// `ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT)`, at most `max`.
fn cidr_length(text: &str, max: u32) -> Result<u32, String> {
    let ok = !text.is_empty()
        && text.len() <= 3
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    let n: u32 = if ok {
        text.parse().unwrap_or(u32::MAX)
    } else {
        u32::MAX
    };
    if n > max {
        return Err(format!("/{text} is not a prefix length of 0 to {max}"));
    }
    Ok(n)
}

/// `[ "/" ip4-cidr-length ] [ "/" "/" ip6-cidr-length ]`.
fn dual_cidr(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    let rest = text.strip_prefix('/').ok_or("bad CIDR")?;
    if let Some(v6) = rest.strip_prefix('/') {
        return cidr_length(v6, 128).map(|_| ());
    }
    match rest.split_once("//") {
        Some((v4, v6)) => {
            cidr_length(v4, 32)?;
            cidr_length(v6, 128).map(|_| ())
        }
        None => cidr_length(rest, 32).map(|_| ()),
    }
}

/// `domain-spec = macro-string domain-end`, `domain-end = ( "." toplabel [ "." ] ) /
/// macro-expand` (§7.1).
fn domain_spec(spec: &str, exp_letters: bool) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty domain".into());
    }
    macro_string(spec, exp_letters)?;
    if spec.ends_with('}') || spec.ends_with("%%") {
        // Ends in a macro-expand: the check is on the expansion.
        return Ok(());
    }
    let trimmed = spec.strip_suffix('.').unwrap_or(spec);
    let top = match trimmed.rfind('.') {
        Some(i) => &trimmed[i + 1..],
        None => return Err("a domain needs a dot and a top label (§7.1)".into()),
    };
    let b = top.as_bytes();
    let valid = !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().any(|c| c.is_ascii_alphabetic());
    if valid {
        Ok(())
    } else {
        Err(format!("{top:?} is not a top label"))
    }
}

/// `macro-string = *( macro-expand / macro-literal )` (§7.1); with `exp_letters`, an
/// explanation: the letters `c`, `r`, `t` and spaces allowed.
pub fn macro_string(text: &str, exp_letters: bool) -> Result<(), String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            match b.get(i + 1) {
                Some(b'%' | b'_' | b'-') => i += 2,
                Some(b'{') => {
                    let end = text[i..].find('}').ok_or("unclosed %{")? + i;
                    let inner = &b[i + 2..end];
                    let (&letter, rest) = inner.split_first().ok_or("empty %{}")?;
                    let letter = letter.to_ascii_lowercase();
                    let ok =
                        b"slodipvh".contains(&letter) || (exp_letters && b"crt".contains(&letter));
                    if !ok {
                        return Err(format!(
                            "%{{{}}} is not a macro",
                            String::from_utf8_lossy(inner)
                        ));
                    }
                    let digits = rest.iter().take_while(|d| d.is_ascii_digit()).count();
                    // §7.3: a number of labels to keep must not be zero.
                    if digits > 0 && rest[..digits].iter().all(|d| *d == b'0') {
                        return Err("%{..0} keeps no label (§7.3)".into());
                    }
                    let mut rest = &rest[digits..];
                    if let Some(r) = rest.strip_prefix(b"r").or_else(|| rest.strip_prefix(b"R")) {
                        rest = r;
                    }
                    if !rest.iter().all(|d| b".-+,/_=".contains(d)) {
                        return Err("bad macro delimiter".into());
                    }
                    i = end + 1;
                }
                _ => return Err("a lone % (write %% for a percent sign)".into()),
            }
        } else if (0x21..=0x7e).contains(&c) || (exp_letters && c == b' ') {
            // (An explanation, `explain-string = *( macro-string / SP )`, has spaces.)
            i += 1;
        } else {
            return Err("not visible ASCII".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(
            check("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all").as_deref(),
            Ok("v=spf1 ip4:1.2.3.4 -all")
        );
        for bad in [
            "v=spf1 ip4:1.2.3.4 -all moo",
            "v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all",
            "v=spf1 a:foo-bar -all",
            "v=spf1 a/33 -all",
            "v=spf1 ip4:1.2.3.4/032 -all",
            "v=spf1 ip6::1/129",
            "v=spf1 a:example.123 -all",
            "v=spf1 exists:%{x}.example.com",
            "v=spf1 redirect=a.example.com redirect=b.example.com",
            "v=spf1 -all exp=%{c}.example.com",
            "v=spf1 =all",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(check("v=spf1 exists:%{i}.%{l1r+-}._spf.%{d} a:mx.example.com//64 -all").is_ok());
        assert!(macro_string("%{c} at %{t}", true).is_ok());
    }
}
