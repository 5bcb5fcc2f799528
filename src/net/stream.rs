//! A TCP connection that may be, or may become, TLS.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

use super::{NetError, with_timeout};

pub enum Stream {
    Plain(TcpStream),
    ClientTls(Box<client::TlsStream<TcpStream>>),
    ServerTls(Box<server::TlsStream<TcpStream>>),
}

/// The negotiated TLS parameters, for logs and `Received:` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// "TLSv1.3", "TLSv1.2"
    pub version: String,
    /// IANA name, e.g. "TLS_AES_256_GCM_SHA384"
    pub cipher: String,
}

impl Stream {
    /// Connect over TCP to `host:port` (every address the name resolves to, in turn).
    pub async fn connect(
        host: &str,
        port: u16,
        timeout: Option<Duration>,
    ) -> Result<Self, NetError> {
        let target = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let lookup = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let connect = async {
            TcpStream::connect((lookup.as_str(), port))
                .await
                .map_err(|source| NetError::Connect {
                    target: target.clone(),
                    source,
                })
        };
        let tcp = with_timeout(timeout, "connecting", connect).await?;
        // Protocol lines are small and latency matters more than packet count.
        tcp.set_nodelay(true).ok();
        Ok(Stream::Plain(tcp))
    }

    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::ClientTls(s) => s.get_ref().0,
            Stream::ServerTls(s) => s.get_ref().0,
        }
    }

    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp().peer_addr()
    }

    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp().local_addr()
    }

    pub fn tls_info(&self) -> Option<TlsInfo> {
        let (version, suite) = match self {
            Stream::Plain(_) => return None,
            Stream::ClientTls(s) => {
                let c = s.get_ref().1;
                (c.protocol_version(), c.negotiated_cipher_suite())
            }
            Stream::ServerTls(s) => {
                let c = s.get_ref().1;
                (c.protocol_version(), c.negotiated_cipher_suite())
            }
        };
        let version = match version {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(v) => format!("{v:?}"),
            None => "TLS".to_owned(),
        };
        let cipher = suite
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown")
            .to_owned();
        Some(TlsInfo { version, cipher })
    }

    /// Client side of a TLS handshake (implicit TLS, or after STARTTLS/STLS).
    pub async fn start_tls_client(
        self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
        timeout: Option<Duration>,
    ) -> Result<Self, NetError> {
        let Stream::Plain(tcp) = self else {
            return Err(NetError::Tls("connection is already encrypted".into()));
        };
        let name = super::tls::server_name(host)?;
        let handshake = async {
            TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| handshake_error(&e))
        };
        let tls = with_timeout(timeout, "in the TLS handshake", handshake).await?;
        Ok(Stream::ClientTls(Box::new(tls)))
    }

    /// Server side of a TLS handshake.
    pub async fn start_tls_server(
        self,
        config: Arc<rustls::ServerConfig>,
        timeout: Option<Duration>,
    ) -> Result<Self, NetError> {
        let Stream::Plain(tcp) = self else {
            return Err(NetError::Tls("connection is already encrypted".into()));
        };
        let handshake = async {
            TlsAcceptor::from(config)
                .accept(tcp)
                .await
                .map_err(|e| NetError::Tls(tls_error_text(&e)))
        };
        let tls = with_timeout(timeout, "in the TLS handshake", handshake).await?;
        Ok(Stream::ServerTls(Box::new(tls)))
    }
}

/// How long a mail server waits for a client's TLS handshake.
pub const SERVER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// A mailbox server's (POP3, IMAP) new connection, ready for its greeting.
pub struct Accepted {
    pub stream: Stream,
    /// Whether passwords may be sent: over TLS, from this host's own address (a client there
    /// counts as secure, as Dovecot counts it), or where the server allows insecure auth.
    pub secure: bool,
}

impl Accepted {
    /// The TLS handshake first with `implicit_tls` (RFC 8314), then what `secure` says.
    pub async fn open(
        stream: Stream,
        tls: Option<&Arc<rustls::ServerConfig>>,
        implicit_tls: bool,
        allow_insecure_auth: bool,
    ) -> Result<Accepted, NetError> {
        let same_host = match (stream.peer_addr(), stream.local_addr()) {
            (Ok(p), Ok(l)) => p.ip() == l.ip(),
            _ => false,
        };
        let stream = if implicit_tls {
            let Some(tls) = tls else {
                return Err(NetError::Config(
                    "implicit TLS without a certificate".into(),
                ));
            };
            stream
                .start_tls_server(tls.clone(), Some(SERVER_HANDSHAKE_TIMEOUT))
                .await?
        } else {
            stream
        };
        let secure = stream.is_tls() || same_host || allow_insecure_auth;
        Ok(Accepted { stream, secure })
    }
}

/// A client handshake failure, classified so the error can say what to do next.
fn handshake_error(e: &io::Error) -> NetError {
    use super::TlsFailure as F;
    use rustls::CertificateError as C;
    let failure = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            C::UnknownIssuer => F::UnknownIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => F::WrongName,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => F::Expired,
            _ => F::Other,
        },
        // Plain text where a TLS record should be (a "220 ..." greeting), or a hang-up.
        Some(rustls::Error::InvalidMessage(_)) => F::NotTls,
        _ if e.kind() == io::ErrorKind::UnexpectedEof => F::NotTls,
        _ => F::Other,
    };
    NetError::Handshake {
        failure,
        detail: tls_error_text(e),
    }
}

fn tls_error_text(e: &io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::ServerTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::ServerTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Stream::ServerTls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::ClientTls(s) => s.is_write_vectored(),
            Stream::ServerTls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::ServerTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::ServerTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::LineReader;
    use crate::net::tls::{Trust, client_config, self_signed, server_config};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn starttls_round_trip_over_loopback() {
        let (cert, key) = self_signed(&["localhost".into()]).unwrap();
        let server_cfg = server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        let client_cfg = client_config(&Trust::CaPem(cert.clone().into_bytes())).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut lines = LineReader::new(Stream::Plain(tcp));
            assert_eq!(lines.read_line(512).await.unwrap(), b"STARTTLS");
            lines
                .get_mut()
                .write_all(b"220 go ahead\r\n")
                .await
                .unwrap();
            let stream = lines.into_inner().ok().unwrap();
            let tls = stream.start_tls_server(server_cfg, None).await.unwrap();
            assert!(tls.tls_info().is_some());
            let mut lines = LineReader::new(tls);
            let got = lines.read_line(512).await.unwrap();
            lines
                .get_mut()
                .write_all(b"250 secret received\r\n")
                .await
                .unwrap();
            got
        });
        let stream = Stream::connect("127.0.0.1", port, Some(Duration::from_secs(5)))
            .await
            .unwrap();
        let mut lines = LineReader::new(stream);
        lines.get_mut().write_all(b"STARTTLS\r\n").await.unwrap();
        assert_eq!(lines.read_line(512).await.unwrap(), b"220 go ahead");
        let stream = lines.into_inner().ok().unwrap();
        let tls = stream
            .start_tls_client(client_cfg, "localhost", Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(tls.tls_info().unwrap().version, "TLSv1.3");
        let mut lines = LineReader::new(tls);
        lines
            .get_mut()
            .write_all(b"AUTH PLAIN secret\r\n")
            .await
            .unwrap();
        assert_eq!(lines.read_line(512).await.unwrap(), b"250 secret received");
        assert_eq!(server.await.unwrap(), b"AUTH PLAIN secret");
    }

    #[tokio::test]
    async fn wrong_name_fails_verification() {
        let (cert, key) = self_signed(&["localhost".into()]).unwrap();
        let server_cfg = server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        let client_cfg = client_config(&Trust::CaPem(cert.into_bytes())).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = Stream::Plain(tcp).start_tls_server(server_cfg, None).await;
        });
        let stream = Stream::connect("127.0.0.1", port, None).await.unwrap();
        let err = stream
            .start_tls_client(client_cfg, "mail.example.org", None)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                NetError::Handshake {
                    failure: crate::net::TlsFailure::WrongName,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("tls_hostname="), "{err}");
    }

    #[tokio::test]
    async fn plain_text_greeting_is_not_tls() {
        // A plain SMTP server greets first: the handshake reads "220 ..." as a TLS record.
        let (cert, _) = self_signed(&["localhost".into()]).unwrap();
        let client_cfg = client_config(&Trust::CaPem(cert.into_bytes()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.write_all(b"220 mail.example.org ESMTP\r\n").await;
            let mut sink = [0u8; 1024];
            let _ = tcp.read(&mut sink).await;
        });
        let stream = Stream::connect("127.0.0.1", port, None).await.unwrap();
        let err = stream
            .start_tls_client(
                client_cfg.unwrap(),
                "localhost",
                Some(Duration::from_secs(5)),
            )
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                NetError::Handshake {
                    failure: crate::net::TlsFailure::NotTls,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("STARTTLS"), "{err}");
    }

    #[tokio::test]
    async fn refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = Stream::connect("127.0.0.1", port, None)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, NetError::Connect { .. }), "{err}");
    }
}
