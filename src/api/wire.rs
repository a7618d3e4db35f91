//! The replies hyper writes by itself, before poem sees a request — a request line or header
//! it cannot parse (400), a request target over its 64 KiB limit (414), headers too large
//! (431) — leave with an empty body. This wraps each accepted connection and gives such a
//! reply the contract's error shape and headers on its way out. Nothing else is touched: every
//! reply poem makes carries a JSON body (`edge.rs`), so a bodyless 400/414/431 is hyper's.

use std::{
    io,
    pin::Pin,
    task::{ready, Context, Poll},
};

use poem::{
    http::uri::Scheme,
    listener::Acceptor,
    web::{LocalAddr, RemoteAddr},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An acceptor whose connections shape hyper's own error replies.
pub struct ShapedAcceptor<A>(pub A);

impl<A: Acceptor> Acceptor for ShapedAcceptor<A> {
    type Io = ShapedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        Ok((
            ShapedIo {
                inner: io,
                pending: Vec::new(),
            },
            local,
            remote,
            scheme,
        ))
    }
}

/// A connection whose bodyless 400/414/431 replies are rewritten (see the module doc).
pub struct ShapedIo<T> {
    inner: T,
    /// A rewritten reply not yet written out.
    pending: Vec<u8>,
}

/// The JSON reply that replaces hyper's bodyless one, if `buf` is one.
fn shaped(buf: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(buf).ok()?;
    let (status, code, message) = if text.starts_with("HTTP/1.1 400 ") {
        (
            "400 Bad Request",
            "bad_request",
            "the request could not be parsed",
        )
    } else if text.starts_with("HTTP/1.1 414 ") {
        (
            "414 URI Too Long",
            "uri_too_long",
            "the request target is too long",
        )
    } else if text.starts_with("HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            "headers_too_large",
            "the request headers are too large",
        )
    } else {
        return None;
    };
    let bodyless = text.ends_with("\r\n\r\n")
        && text
            .to_ascii_lowercase()
            .contains("\r\ncontent-length: 0\r\n");
    if !bodyless {
        return None;
    }
    let body = format!(r#"{{"error":"{code}","message":"{message}"}}"#);
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\n\
             x-content-type-options: nosniff\r\ncache-control: no-store\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncWrite + Unpin> ShapedIo<T> {
    /// Writes out a rewritten reply still held.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ShapedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ShapedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(reply) = shaped(buf) {
            self.pending = reply;
            // Held and written out by this call or the next flush.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::shaped;

    #[test]
    fn only_hypers_bodyless_errors_are_shaped() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let reply = String::from_utf8(shaped(hyper).unwrap()).unwrap();
        assert!(reply.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(reply
            .ends_with(r#"{"error":"uri_too_long","message":"the request target is too long"}"#));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 20\r\n\r\n{\"error\":\"x\"}";
        assert!(shaped(ours).is_none());
        assert!(shaped(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
