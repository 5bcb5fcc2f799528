//! SASL PLAIN (RFC 4616) and LOGIN decoding for AUTH (RFC 4954).

use crate::codec::base64;
pub use crate::net::sasl::plain;

/// A response line of the AUTH exchange: `*` cancels (RFC 4954 §4), `=` is an empty response.
#[derive(Debug, PartialEq, Eq)]
pub enum Response {
    Cancel,
    Data(Vec<u8>),
}

pub fn decode_response(line: &[u8]) -> Result<Response, &'static str> {
    match line {
        b"*" => Ok(Response::Cancel),
        b"=" => Ok(Response::Data(Vec::new())),
        _ => base64::decode_strict(line)
            .map(Response::Data)
            .map_err(|_| "invalid base64 in AUTH response"),
    }
}

/// A LOGIN step's text.
pub fn text(data: Vec<u8>) -> Result<String, &'static str> {
    String::from_utf8(data).map_err(|_| "credentials are not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_messages() {
        // RFC 4616 §4 example: "\0tim\0tanstaaftanstaaf"
        let r = decode_response(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
        let Response::Data(d) = r else { panic!() };
        assert_eq!(
            plain(&d).unwrap(),
            ("tim".into(), "tanstaaftanstaaf".into())
        );
        assert_eq!(plain(b"tim\0tim\0pw").unwrap().0, "tim");
        assert!(plain(b"other\0tim\0pw").is_err());
        assert!(plain(b"\0tim").is_err());
        assert_eq!(decode_response(b"*"), Ok(Response::Cancel));
        assert!(decode_response(b"!!").is_err());
    }
}
