//! A webhook receiver of the test's own: HTTPS on 127.0.0.1 with the test CA's certificate,
//! answering from a script (statuses, `Retry-After`, redirects, hangs, endless bodies) and
//! recording what it received and when.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use poem::{
    listener::{Acceptor, Listener, RustlsCertificate, RustlsConfig, TcpListener},
    Body, Request, Response,
};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 503 with `Retry-After: <seconds>`.
    RetryAfter(u64),
    /// 302 to this location.
    Redirect(String),
    /// Answers 200 only after this long.
    Hang(Duration),
    /// 200 with a body that never ends.
    Endless,
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    got: Vec<Received>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// Answers the scripted replies in turn, then 200 to everything; over HTTPS with the test
    /// CA's certificate.
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_on(script, true).await
    }

    /// [`Receiver::start`] over plain HTTP (for service processes, which trust another CA).
    pub async fn start_plain(script: Vec<Reply>) -> Self {
        Self::start_on(script, false).await
    }

    async fn start_on(script: Vec<Reply>, tls: bool) -> Self {
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            got: Vec::new(),
        }));
        let s = state.clone();
        let endpoint = poem::endpoint::make(move |req: Request| {
            let s = s.clone();
            async move { answer(&s, req).await }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        let grace = Some(Duration::from_secs(1));
        let listener = TcpListener::bind("127.0.0.1:0");
        let (scheme, port) = if tls {
            lifesync_sandbox::tls::install_crypto_provider();
            let server = &crate::common::sandbox_tls().server;
            let cert = RustlsCertificate::new()
                .cert(server.cert_pem.as_bytes().to_vec())
                .key(server.key_pem.as_bytes().to_vec());
            let acceptor = listener
                .rustls(RustlsConfig::new().fallback(cert))
                .into_acceptor()
                .await
                .unwrap();
            let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
            tokio::spawn(
                poem::Server::new_with_acceptor(acceptor)
                    .run_with_graceful_shutdown(endpoint, stopped, grace),
            );
            ("https", port)
        } else {
            let acceptor = listener.into_acceptor().await.unwrap();
            let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
            tokio::spawn(
                poem::Server::new_with_acceptor(acceptor)
                    .run_with_graceful_shutdown(endpoint, stopped, grace),
            );
            ("http", port)
        };
        Self {
            url: format!("{scheme}://127.0.0.1:{port}/hook"),
            state,
            _stop: stop,
        }
    }

    /// What arrived so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }

    /// Waits (at most `secs`) until `n` requests arrived; returns them.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn answer(state: &Mutex<State>, req: Request) -> poem::Result<Response> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let body = req.into_body().into_vec().await.unwrap_or_default();
    let reply = {
        let mut s = state.lock().unwrap();
        s.got.push(Received {
            at: Instant::now(),
            id,
            timestamp,
            signature,
            body,
        });
        s.script.pop_front()
    };
    Ok(match reply {
        None | Some(Reply::Status(200)) => Response::builder()
            .status(poem::http::StatusCode::OK)
            .finish(),
        Some(Reply::Status(code)) => Response::builder()
            .status(poem::http::StatusCode::from_u16(code).unwrap())
            .body("nope"),
        Some(Reply::RetryAfter(secs)) => Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .header("retry-after", secs.to_string())
            .finish(),
        Some(Reply::Redirect(to)) => Response::builder()
            .status(poem::http::StatusCode::FOUND)
            .header("location", to)
            .finish(),
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            Response::builder()
                .status(poem::http::StatusCode::OK)
                .finish()
        }
        Some(Reply::Endless) => {
            let chunk = vec![b'x'; 16 * 1024];
            let stream =
                futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            Response::builder()
                .status(poem::http::StatusCode::OK)
                .body(Body::from_bytes_stream(stream))
        }
    })
}
