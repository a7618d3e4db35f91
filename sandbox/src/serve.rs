//! Serving the sandbox on an address until a shutdown signal, over plain HTTP or HTTPS (HTTP/2
//! and HTTP/1.1 by ALPN) with a certificate from [`crate::tls`]. Binding happens before
//! `on_bound` is told the address, so port 0 works in tests.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use poem::{
    listener::{Acceptor, Listener, RustlsCertificate, RustlsConfig, TcpAcceptor, TcpListener},
    web::{LocalAddr, RemoteAddr},
    Endpoint, Server,
};

use crate::{tls::ServerCert, SandboxState};

/// How long a stopping sandbox lets requests in flight finish.
const GRACE: Duration = Duration::from_secs(5);

/// Serves the sandbox on `addr` until `shutdown`; `on_bound` learns the address.
pub async fn serve(
    addr: &str,
    state: Arc<SandboxState>,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(addr, state, None, on_bound, shutdown).await
}

/// [`serve`], over HTTPS with `tls`'s certificate when given.
pub async fn serve_with(
    addr: &str,
    state: Arc<SandboxState>,
    tls: Option<&ServerCert>,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let endpoint = crate::app(state);
    // Each kind of listener is served as its own concrete type: a boxed one hides the
    // socket's vectored writes, so a reply's head and body leave in separate segments and
    // wait on Nagle's algorithm.
    let tcp = NoDelay(TcpListener::bind(addr.to_string()));
    match tls {
        None => run(tcp.into_acceptor().await?, endpoint, on_bound, shutdown).await,
        Some(t) => {
            crate::tls::install_crypto_provider();
            let cert = RustlsCertificate::new()
                .cert(t.cert_pem.as_bytes().to_vec())
                .key(t.key_pem.as_bytes().to_vec());
            let acceptor = tcp
                .rustls(RustlsConfig::new().fallback(cert))
                .into_acceptor()
                .await?;
            run(acceptor, endpoint, on_bound, shutdown).await
        }
    }
}

async fn run<A: Acceptor + 'static, E: Endpoint + 'static>(
    acceptor: A,
    endpoint: E,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("no local address"))?;
    on_bound(local);
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(endpoint, shutdown, Some(GRACE))
        .await
}

/// TCP without Nagle's algorithm on accepted connections: a TLS reply leaves as several
/// records, and a small last segment must not wait for the client's delayed ACK (40 ms a
/// reply on Linux).
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
