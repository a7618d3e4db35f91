//! Serving a poem endpoint on an address with graceful shutdown, over plain HTTP or HTTPS:
//! the API's server (the sandbox crate has its own). Binding happens before `on_bound` is told the address,
//! so port 0 works in tests.

use std::{future::Future, net::SocketAddr, time::Duration};

use poem::{
    listener::{Acceptor, Listener, RustlsCertificate, RustlsConfig, TcpAcceptor, TcpListener},
    web::{LocalAddr, RemoteAddr},
    Endpoint, Server,
};

/// A server certificate chain and its private key, in PEM.
pub struct ServerTls<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
}

/// Serves `endpoint` on `addr` until `shutdown`, then drains for at most `grace`.
pub async fn serve<E: Endpoint + 'static>(
    addr: &str,
    endpoint: E,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    serve_with(addr, None, endpoint, on_bound, shutdown, grace).await
}

/// [`serve`], over HTTPS (HTTP/2 and HTTP/1.1 by ALPN) when `tls` is given.
pub async fn serve_with<E: Endpoint + 'static>(
    addr: &str,
    tls: Option<ServerTls<'_>>,
    endpoint: E,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    // Each kind of listener is served as its own concrete type: a boxed one hides the
    // socket's vectored writes, so a reply's head and body leave in separate segments and
    // wait on Nagle's algorithm (40 ms a reply; measured as an 8.8x slower `bench sync`).
    let tcp = NoDelay(TcpListener::bind(addr.to_string()));
    match tls {
        None => {
            run(
                tcp.into_acceptor().await?,
                endpoint,
                on_bound,
                shutdown,
                grace,
            )
            .await
        }
        Some(t) => {
            crate::tls::install_crypto_provider();
            let cert = RustlsCertificate::new()
                .cert(t.cert_pem.as_bytes().to_vec())
                .key(t.key_pem.as_bytes().to_vec());
            let acceptor = tcp
                .rustls(RustlsConfig::new().fallback(cert))
                .into_acceptor()
                .await?;
            run(acceptor, endpoint, on_bound, shutdown, grace).await
        }
    }
}

async fn run<A: Acceptor + 'static, E: Endpoint + 'static>(
    acceptor: A,
    endpoint: E,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("no local address"))?;
    on_bound(local);
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(endpoint, shutdown, Some(grace))
        .await
}

/// TCP without Nagle's algorithm on accepted connections: a TLS reply leaves as several
/// records, and a small last segment must not wait for the client's delayed ACK (40 ms a
/// reply on Linux; measured as `bench sync` 8x slower over HTTPS, BENCHMARKS.md).
struct NoDelay(TcpListener<String>);

impl Listener for NoDelay {
    type Acceptor = NoDelayAcceptor;

    async fn into_acceptor(self) -> std::io::Result<Self::Acceptor> {
        Ok(NoDelayAcceptor(self.0.into_acceptor().await?))
    }
}

struct NoDelayAcceptor(TcpAcceptor);

impl Acceptor for NoDelayAcceptor {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        io.set_nodelay(true)?;
        Ok((io, local, remote, scheme))
    }
}
