//! Serving a poem endpoint on an address with graceful shutdown: shared by the API and the
//! sandbox. Binding happens before `on_bound` is told the address, so port 0 works in tests.

use std::{future::Future, net::SocketAddr, time::Duration};

use poem::{
    listener::{Acceptor, Listener, TcpListener},
    Endpoint, Server,
};

/// Serves `endpoint` on `addr` until `shutdown`, then drains for at most `grace`.
pub async fn serve<E: Endpoint + 'static>(
    addr: &str,
    endpoint: E,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    let acceptor = TcpListener::bind(addr.to_string()).into_acceptor().await?;
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
