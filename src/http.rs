//! Serving a poem endpoint on an address with graceful shutdown, over plain HTTP or HTTPS:
//! shared by the API and the sandbox. Binding happens before `on_bound` is told the address,
//! so port 0 works in tests.

use std::{future::Future, net::SocketAddr, time::Duration};

use poem::{
    listener::{Acceptor, Listener, RustlsCertificate, RustlsConfig, TcpListener},
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
    let tcp = TcpListener::bind(addr.to_string());
    let listener = match tls {
        None => tcp.boxed(),
        Some(t) => {
            crate::tls::install_crypto_provider();
            let cert = RustlsCertificate::new()
                .cert(t.cert_pem.as_bytes().to_vec())
                .key(t.key_pem.as_bytes().to_vec());
            tcp.rustls(RustlsConfig::new().fallback(cert)).boxed()
        }
    };
    let acceptor = listener.into_acceptor().await?;
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
