//! POP3 commands: parsed from a line on the server side, formatted (and checked against
//! command injection) on the client side.

/// A command a client can send (RFC 1939 §§4-7, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    Pass(String),
    Apop {
        name: String,
        digest: String,
    },
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Stls,
    Capa,
    Quit,
    Stat,
    List(Option<u32>),
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    Top {
        msg: u32,
        lines: u64,
    },
    Uidl(Option<u32>),
}

/// Why a line is not a command the server can run; each becomes `-ERR` and the session goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    Unknown(String),
    /// Known command, bad arguments: the usage to show.
    Syntax(&'static str),
}

impl Command {
    /// Parse a command line (without its line end). Keywords are case-insensitive (RFC 1939 §3).
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let line =
            std::str::from_utf8(line).map_err(|_| ParseError::Syntax("commands are text"))?;
        let line = line.trim_end_matches([' ', '\t']);
        let (keyword, rest) = match line.find(' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        if keyword.is_empty() {
            return Err(ParseError::Empty);
        }
        let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
        let keyword_upper = keyword.to_ascii_uppercase();
        let none = |cmd: Command, usage: &'static str| {
            if args.is_empty() {
                Ok(cmd)
            } else {
                Err(ParseError::Syntax(usage))
            }
        };
        match keyword_upper.as_str() {
            "USER" => match args.as_slice() {
                [name] => Ok(Command::User((*name).to_owned())),
                _ => Err(ParseError::Syntax("USER name")),
            },
            // The password is the rest of the line: it may contain spaces (RFC 1939 §7).
            "PASS" if !rest.is_empty() => Ok(Command::Pass(rest.to_owned())),
            "PASS" => Err(ParseError::Syntax("PASS string")),
            "APOP" => match args.as_slice() {
                [name, digest] if is_md5_hex(digest) => Ok(Command::Apop {
                    name: (*name).to_owned(),
                    digest: digest.to_ascii_lowercase(),
                }),
                _ => Err(ParseError::Syntax("APOP name digest")),
            },
            "AUTH" => match args.as_slice() {
                [] => Ok(Command::Auth {
                    mechanism: None,
                    initial: None,
                }),
                [mech] => Ok(Command::Auth {
                    mechanism: Some(mech.to_ascii_uppercase()),
                    initial: None,
                }),
                [mech, initial] => Ok(Command::Auth {
                    mechanism: Some(mech.to_ascii_uppercase()),
                    initial: Some((*initial).to_owned()),
                }),
                _ => Err(ParseError::Syntax("AUTH mechanism [initial-response]")),
            },
            "STLS" => none(Command::Stls, "STLS"),
            "CAPA" => none(Command::Capa, "CAPA"),
            "QUIT" => none(Command::Quit, "QUIT"),
            "STAT" => none(Command::Stat, "STAT"),
            "NOOP" => none(Command::Noop, "NOOP"),
            "RSET" => none(Command::Rset, "RSET"),
            "LIST" => optional_number(&args, "LIST [msg]").map(Command::List),
            "UIDL" => optional_number(&args, "UIDL [msg]").map(Command::Uidl),
            "RETR" => one_number(&args, "RETR msg").map(Command::Retr),
            "DELE" => one_number(&args, "DELE msg").map(Command::Dele),
            "TOP" => match args.as_slice() {
                [msg, lines] => match (number(msg), number(lines)) {
                    (Some(msg), Some(lines)) => Ok(Command::Top {
                        msg: u32::try_from(msg).map_err(|_| ParseError::Syntax("TOP msg n"))?,
                        lines,
                    }),
                    _ => Err(ParseError::Syntax("TOP msg n")),
                },
                _ => Err(ParseError::Syntax("TOP msg n")),
            },
            _ => Err(ParseError::Unknown(keyword.chars().take(40).collect())),
        }
    }

    /// The keyword, for logs and error texts.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stls => "STLS",
            Command::Capa => "CAPA",
            Command::Quit => "QUIT",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
        }
    }
}

/// A decimal number without sign (RFC 1939 message numbers and line counts).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn message_number(s: &str) -> Option<u32> {
    number(s).and_then(|n| u32::try_from(n).ok())
}

fn one_number(args: &[&str], usage: &'static str) -> Result<u32, ParseError> {
    match args {
        [n] => message_number(n).ok_or(ParseError::Syntax(usage)),
        _ => Err(ParseError::Syntax(usage)),
    }
}

fn optional_number(args: &[&str], usage: &'static str) -> Result<Option<u32>, ParseError> {
    match args {
        [] => Ok(None),
        [n] => message_number(n).map(Some).ok_or(ParseError::Syntax(usage)),
        _ => Err(ParseError::Syntax(usage)),
    }
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A command line to send: `keyword` and `args` joined by spaces, CRLF-terminated. Arguments
/// that would end the line early or smuggle a second command (CR, LF, NUL) are refused, and
/// so are empty ones or ones with spaces where the protocol does not allow them.
pub fn format(keyword: &str, args: &[&str], last_may_have_spaces: bool) -> Result<Vec<u8>, String> {
    let mut line =
        Vec::with_capacity(keyword.len() + 2 + args.iter().map(|a| a.len() + 1).sum::<usize>());
    line.extend_from_slice(keyword.as_bytes());
    for (i, arg) in args.iter().enumerate() {
        if arg.is_empty() {
            return Err(format!("{keyword}: empty argument"));
        }
        if arg.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(format!("{keyword}: argument contains a line break or NUL"));
        }
        let spaces_allowed = last_may_have_spaces && i + 1 == args.len();
        if !spaces_allowed && arg.contains(' ') {
            return Err(format!("{keyword}: argument {arg:?} contains a space"));
        }
        line.push(b' ');
        line.extend_from_slice(arg.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc1939_commands() {
        assert_eq!(
            Command::parse(b"USER alice"),
            Ok(Command::User("alice".into()))
        );
        assert_eq!(
            Command::parse(b"user alice"),
            Ok(Command::User("alice".into()))
        );
        // RFC 1939 §7: the password may contain spaces
        assert_eq!(
            Command::parse(b"PASS secret with spaces"),
            Ok(Command::Pass("secret with spaces".into()))
        );
        // RFC 1939 §7 APOP example
        assert_eq!(
            Command::parse(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
            Ok(Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into()
            })
        );
        assert_eq!(Command::parse(b"STAT"), Ok(Command::Stat));
        assert_eq!(Command::parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(Command::parse(b"LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(Command::parse(b"RETR 1"), Ok(Command::Retr(1)));
        assert_eq!(
            Command::parse(b"TOP 1 10"),
            Ok(Command::Top { msg: 1, lines: 10 })
        );
        assert_eq!(Command::parse(b"UIDL"), Ok(Command::Uidl(None)));
        assert_eq!(Command::parse(b"noop "), Ok(Command::Noop));
        assert_eq!(
            Command::parse(b"AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGFsaWNlAHNlY3JldA==".into())
            })
        );
    }

    #[test]
    fn rejects_bad_arguments() {
        assert_eq!(Command::parse(b"RETR"), Err(ParseError::Syntax("RETR msg")));
        assert_eq!(
            Command::parse(b"RETR one"),
            Err(ParseError::Syntax("RETR msg"))
        );
        assert_eq!(
            Command::parse(b"RETR +1"),
            Err(ParseError::Syntax("RETR msg"))
        );
        assert_eq!(
            Command::parse(b"RETR -1"),
            Err(ParseError::Syntax("RETR msg"))
        );
        assert_eq!(
            Command::parse(b"RETR 99999999999"),
            Err(ParseError::Syntax("RETR msg"))
        );
        assert_eq!(Command::parse(b"STAT 1"), Err(ParseError::Syntax("STAT")));
        assert_eq!(
            Command::parse(b"TOP 1"),
            Err(ParseError::Syntax("TOP msg n"))
        );
        assert_eq!(
            Command::parse(b"APOP mrose xyz"),
            Err(ParseError::Syntax("APOP name digest"))
        );
        assert_eq!(
            Command::parse(b"PASS"),
            Err(ParseError::Syntax("PASS string"))
        );
        assert_eq!(Command::parse(b""), Err(ParseError::Empty));
        assert_eq!(
            Command::parse(b"XTND XMIT"),
            Err(ParseError::Unknown("XTND".into()))
        );
        assert!(matches!(
            Command::parse(b"\xff\xfe"),
            Err(ParseError::Syntax(_))
        ));
    }

    #[test]
    fn formatting_refuses_injection() {
        assert_eq!(format("RETR", &["1"], false).unwrap(), b"RETR 1\r\n");
        assert_eq!(format("PASS", &["a b"], true).unwrap(), b"PASS a b\r\n");
        assert!(format("USER", &["alice\r\nDELE 1"], false).is_err());
        assert!(format("USER", &["a b"], false).is_err());
        assert!(format("USER", &[""], false).is_err());
        assert!(format("PASS", &["x\0"], true).is_err());
    }
}
