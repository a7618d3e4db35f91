//! TLS on the provider path: the production client against the sandbox over HTTPS (HTTP/2,
//! the test CA), a provider whose certificate nobody trusts (the run and the OAuth completion
//! end once, with the clear error), the outbound proxies, and what every request carries
//! (`User-Agent`, compressed replies).

use std::sync::{Arc, Mutex};

use crate::common::*;
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

const NOT_TRUSTED: &str = "tls: certificate for 127.0.0.1 not trusted";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_production_client_speaks_http2_over_tls_to_the_sandbox() {
    let sandbox = TestSandbox::spawn(1).await;
    assert!(sandbox.base.starts_with("https://"));
    let r = sandbox_client()
        .get(format!("{}/_sandbox/requests", sandbox.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    // Without the test CA, the same sandbox is refused: the OS store does not know it.
    let e = lifesync::outbound::OutboundConfig::default()
        .client()
        .unwrap()
        .get(format!("{}/_sandbox/requests", sandbox.base))
        .send()
        .await
        .unwrap_err();
    let why = lifesync::outbound::tls_failure(&e).expect("a TLS failure");
    assert!(why.starts_with(NOT_TRUSTED), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_certificate_from_an_unknown_ca_fails_the_run_once_with_a_clear_error() {
    let sandbox = TestSandbox::spawn_untrusted(7).await;
    let app = TestApp::spawn().await;
    let TwitterSource { ds, .. } = app.db.twitter_source("alice", "1001", &sandbox).await;
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("alice", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let run = body["sync_run_id"].as_str().unwrap().to_string();
    let job = body["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        app.wait_run(&run).await.status,
        "failed",
        "the run did not fail"
    );
    let (error,): (Option<String>,) =
        sqlx::query_as("SELECT error FROM sync_runs WHERE id = $1::uuid")
            .bind(&run)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let error = error.unwrap_or_default();
    assert!(error.contains(NOT_TRUSTED), "run error: {error}");
    let (last,): (Option<String>,) =
        sqlx::query_as("SELECT last_sync_error FROM data_sources WHERE id = $1")
            .bind(ds)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(last.unwrap_or_default().contains(NOT_TRUSTED));
    // One attempt, no retry; no request ever reached the provider in clear.
    let record = app.store.job(&job).await.unwrap().expect("job record");
    assert_eq!(record.attempts, 1, "{record:?}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(app.store.job(&job).await.unwrap().unwrap().attempts, 1);
    assert!(sandbox.state.requests.lock().unwrap().is_empty());
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_completion_against_an_untrusted_token_endpoint_fails_with_the_tls_error() {
    let sandbox = TestSandbox::spawn_untrusted(8).await;
    let app = TestApp::spawn_with(Some(sandbox_oauth(&sandbox.base))).await;
    let stop = start_queue_workers(
        &app.db.pool,
        &app.store,
        &sandbox.twitter_base(),
        100,
        &["oauth_completion"],
    );
    let r = app
        .get(
            "/api/v1/oauth/twitter/authorize",
            Some(&token("alice", 3600, None)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let url = body["authorization_url"].as_str().unwrap().to_string();
    // The user's browser reaches the authorization page (whatever it trusts); the service's
    // own call to the token endpoint is what must refuse the certificate.
    let lenient_browser = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let approved = lenient_browser.get(url).send().await.unwrap();
    let back = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    let r = app
        .get(
            &format!("/api/v1/oauth/twitter/callback?{}", back.query().unwrap()),
            None,
        )
        .await;
    assert!(r.status().is_success(), "callback: {}", r.status());
    let body: Value = r.json().await.unwrap();
    let completion = body["completion_id"].as_str().unwrap().to_string();
    let alice = token("alice", 3600, None);
    assert_eq!(
        confirm(&app.http, &app.base, &completion, &alice).await,
        202
    );
    let path = format!("/api/v1/oauth/completions/{completion}");
    let mut last = Value::Null;
    let start = std::time::Instant::now();
    while last["status"] != "failed" {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "completion never failed: {last}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        last = app.get(&path, Some(&alice)).await.json().await.unwrap();
    }
    let error = last["error"].as_str().unwrap_or_default();
    assert!(error.contains(NOT_TRUSTED), "completion error: {error}");
    let sources: (i64,) = sqlx::query_as("SELECT count(*) FROM data_sources")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(sources.0, 0);
    let _ = stop.send(());
    app.shutdown().await;
}

/// A forward proxy on loopback: answers `CONNECT host:port` by tunnelling, and plain-HTTP
/// requests by relaying them; records every request head it saw.
struct TestProxy {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl TestProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = relay(client, seen).await;
                });
            }
        });
        Self { url, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 || line == "\r\n" {
            return Ok(head);
        }
        head.push_str(&line);
    }
}

async fn relay(client: TcpStream, seen: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    let head = read_head(&mut client).await?;
    seen.lock().unwrap().push(head.clone());
    let target = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    if head.starts_with("CONNECT ") {
        let mut upstream = TcpStream::connect(&target).await?;
        client
            .get_mut()
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        tokio::io::copy_bidirectional(client.get_mut(), &mut upstream).await?;
    } else {
        // An absolute-form request to a plain-HTTP origin: forward it as it came.
        let url = url::Url::parse(&target).unwrap();
        let mut upstream = TcpStream::connect((
            url.host_str().unwrap(),
            url.port_or_known_default().unwrap(),
        ))
        .await?;
        let mut forwarded = head.replacen(&target, url.path(), 1);
        forwarded.push_str("connection: close\r\n\r\n");
        upstream.write_all(forwarded.as_bytes()).await?;
        let mut reply = Vec::new();
        upstream.read_to_end(&mut reply).await?;
        client.get_mut().write_all(&reply).await?;
    }
    Ok(())
}

/// An origin that answers every request with a gzip-compressed body, recording the heads.
async fn gzip_origin(heads: Arc<Mutex<Vec<String>>>) -> String {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let head = read_head(&mut stream).await.unwrap();
                heads.lock().unwrap().push(head);
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
                gz.write_all(br#"{"data":{"id":"42"}}"#).unwrap();
                let body = gz.finish().unwrap();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let s = stream.get_mut();
                s.write_all(reply.as_bytes()).await.unwrap();
                s.write_all(&body).await.unwrap();
            });
        }
    });
    format!("http://{addr}")
}

fn outbound_from(vars: &[(&str, String)]) -> lifesync::outbound::OutboundConfig {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut outbound = lifesync::config::outbound_from_env(&env).unwrap();
    outbound.trust = sandbox_outbound().trust;
    outbound
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxy_carries_provider_calls_unless_no_proxy_names_the_host() {
    let sandbox = TestSandbox::spawn(2).await;
    let proxy = TestProxy::start().await;
    let token = sandbox.state.issue_token("1001");
    let me = format!("{}/2/users/me", sandbox.twitter_base());
    let port = url::Url::parse(&sandbox.base).unwrap().port().unwrap();

    // Through the proxy; then the lower-case spelling with NO_PROXY exempting the host.
    let cases: [(&[(&str, String)], usize); 2] = [
        (&[("HTTPS_PROXY", proxy.url.clone())], 1),
        (
            &[
                ("https_proxy", proxy.url.clone()),
                ("NO_PROXY", "localhost,127.0.0.1".into()),
            ],
            1,
        ),
    ];
    for (vars, tunnels_after) in cases {
        let r = outbound_from(vars)
            .client()
            .unwrap()
            .get(&me)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let heads = proxy.heads();
        assert_eq!(heads.len(), tunnels_after, "{vars:?}: {heads:?}");
        assert!(
            heads[0].starts_with(&format!("CONNECT 127.0.0.1:{port} ")),
            "{heads:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_user_agent_accept_compression_and_follow_http_proxy() {
    let origin_heads = Arc::new(Mutex::new(Vec::new()));
    let origin = gzip_origin(origin_heads.clone()).await;
    let proxy = TestProxy::start().await;
    let client = outbound_from(&[("HTTP_PROXY", proxy.url.clone())])
        .client()
        .unwrap();
    let body: Value = client
        .get(format!("{origin}/2/users/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["id"], "42", "the gzip body was decoded");
    let proxied = proxy.heads();
    assert_eq!(proxied.len(), 1, "HTTP_PROXY was not used: {proxied:?}");
    assert!(proxied[0].starts_with(&format!("GET {origin}/2/users/me ")));
    let head = origin_heads.lock().unwrap()[0].to_ascii_lowercase();
    let ua = format!("user-agent: lifesync/{}", env!("CARGO_PKG_VERSION"));
    assert!(head.contains(&ua), "{head}");
    let accept = head
        .lines()
        .find(|l| l.starts_with("accept-encoding:"))
        .unwrap_or_default()
        .to_string();
    assert!(accept.contains("gzip") && accept.contains("br"), "{accept}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_slower_than_the_timeout_is_a_transient_failure() {
    let sandbox = TestSandbox::spawn(4).await;
    // A reply 10 s late, a 1 s timeout: the error comes long before the reply would (the
    // margin is wide so that a loaded machine cannot blur the two).
    sandbox.state.faults.lock().unwrap().slow_ms = 10_000;
    let token = sandbox.state.issue_token("1001");
    let mut outbound = outbound_from(&[("PROVIDER_HTTP_TIMEOUT_SECONDS", "1".into())]);
    outbound.trust = sandbox_outbound().trust;
    let started = std::time::Instant::now();
    let e = outbound
        .client()
        .unwrap()
        .get(format!("{}/2/users/1001/tweets", sandbox.twitter_base()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(7));
    assert!(matches!(
        lifesync::providers::ProviderError::from(e),
        lifesync::providers::ProviderError::Transient(_)
    ));
}

#[test]
fn bad_outbound_settings_are_named() {
    let env = |k: &str| (k == "PROVIDER_HTTP_TIMEOUT_SECONDS").then(|| "0".to_string());
    let e = lifesync::config::outbound_from_env(&env).unwrap_err();
    assert_eq!(e.var, "PROVIDER_HTTP_TIMEOUT_SECONDS");
    let env = |k: &str| (k == "PROVIDER_HTTP_TIMEOUT_SECONDS").then(|| "7".to_string());
    let c = lifesync::config::outbound_from_env(&env).unwrap();
    assert_eq!(c.timeout, std::time::Duration::from_secs(7));
    let env = |k: &str| (k == "HTTPS_PROXY").then(|| "not a url at all".to_string());
    let e = lifesync::config::outbound_from_env(&env).unwrap_err();
    assert_eq!(e.var, "HTTPS_PROXY");
}
