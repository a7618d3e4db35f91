//! Hostile input and the API's edge: NUL and blank user ids, `nbf`, the body limit, short
//! escaped messages, security headers, 405/414/raw-byte replies in the error shape, internal
//! errors without their cause, the per-user rate limit shared through Redis, and an OpenAPI
//! document that declares what the service answers.

use std::{
    io::{Read, Write},
    time::{Duration, Instant},
};

use crate::common::*;
use lifesync::api::ApiLimits;
use lifesync_jobs::{QueueSettings, RedisSettings, Store};
use serde_json::{json, Value};

/// An API on a free port with these limits and this Redis key prefix.
struct Limited {
    base: String,
    db: TestDb,
    store: Store,
}

impl Limited {
    async fn spawn(limits: ApiLimits, prefix: &str) -> Self {
        lifesync::metrics::handle();
        let redis = redis_url();
        let db = TestDb::new().await;
        let store = Store::connect(RedisSettings::new(redis), QueueSettings::new(prefix))
            .await
            .unwrap();
        let state =
            lifesync::api::AppState::new(db.pool.clone(), store.clone(), JWT_SECRET.as_bytes())
                .with_limits(limits);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(lifesync::api::serve(
            "127.0.0.1:0",
            state,
            move |a| {
                let _ = tx.send(a);
            },
            std::future::pending(),
        ));
        Self {
            base: format!("http://{}", rx.await.unwrap()),
            db,
            store,
        }
    }

    async fn done(self) {
        self.store.purge_prefix().await.unwrap();
        self.db.drop().await;
    }
}

fn claims_token(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Sends raw bytes to `base`'s server and reads the reply head and body (5 s at most).
fn raw(base: &str, request: &[u8], then: Option<&[u8]>) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    if let Some(more) = then {
        let _ = s.write_all(more);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&out).contains("\"message\"") {
            break;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_blank_or_not_yet_valid_user_is_refused_never_a_500() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::new_v4();
    let user_routes = [
        "/api/v1/data-sources".to_string(),
        format!("/api/v1/data-sources/{id}"),
        format!("/api/v1/data-sources/{id}/sync-runs"),
        "/api/v1/items".to_string(),
        "/api/v1/oauth/twitter/authorize".to_string(),
        format!("/api/v1/oauth/completions/{id}"),
        "/api/v1/admin/queues".to_string(),
    ];
    let bad_tokens = [
        ("NUL in sub", token("alice\u{0}", 3600, Some("admin"))),
        ("blank sub", token("", 3600, Some("admin"))),
        ("whitespace sub", token(" \t ", 3600, Some("admin"))),
        (
            "nbf in the future",
            claims_token(json!({"sub": "alice", "exp": now() + 3600, "nbf": now() + 600})),
        ),
    ];
    for (what, t) in &bad_tokens {
        for path in &user_routes {
            let r = app.get(path, Some(t)).await;
            assert_eq!(r.status(), 401, "{what} on {path}");
            assert_eq!(error_code(r).await, "unauthorized");
        }
        let r = app
            .post_json(
                &format!("/api/v1/data-sources/{id}/sync"),
                t,
                r#"{"mode":"full"}"#,
            )
            .await;
        assert_eq!(r.status(), 401, "{what} on sync");
    }
    // A reached nbf is fine.
    let ok = claims_token(json!({"sub": "alice", "exp": now() + 3600, "nbf": now() - 5}));
    assert_eq!(app.get("/api/v1/items", Some(&ok)).await.status(), 200);

    // NUL or invalid UTF-8 in a path, a query or a JSON string: 400, never 500.
    let admin = token("root", 3600, Some("admin"));
    for path in [
        "/api/v1/items?provider=%00",
        "/api/v1/items?cursor=a%00b",
        "/api/v1/oauth/twit%00ter/authorize",
        "/api/v1/oauth/%FF%FE/authorize",
        "/api/v1/admin/jobs/dead?queue=%00",
    ] {
        let r = app.get(path, Some(&admin)).await;
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(error_code(r).await, "invalid_input", "{path}");
    }
    let r = app
        .post_json(
            "/api/v1/admin/sync",
            &admin,
            r#"{"user_ids":["a\u0000b"],"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 400, "a NUL in a body's user id");
    assert_eq!(error_code(r).await, "invalid_json");
    let r = app
        .post_json(
            "/api/v1/admin/sync",
            &admin,
            r#"{"user_ids":["a\\u0000b"],"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 202, "an escaped backslash is no NUL");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413_before_it_is_read() {
    let app = TestApp::spawn().await;
    let t = token("alice", 3600, None);
    let id = uuid::Uuid::new_v4();
    // 100 MB announced, 64 KB sent: the reply comes without the rest.
    let head = format!(
        "POST /api/v1/data-sources/{id}/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        100 * 1024 * 1024
    );
    let started = Instant::now();
    let base = app.base.clone();
    let reply = tokio::task::spawn_blocking(move || {
        raw(&base, head.as_bytes(), Some(&vec![b' '; 64 * 1024]))
    })
    .await
    .unwrap();
    // Far below the time the rest of a 100 MB body would take to never arrive (the client
    // sends no more): generous, for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"body_too_large\""), "{reply}");

    // A streamed body (chunked, no Content-Length) is cut off at the limit.
    let head = format!(
        "POST /api/v1/data-sources/{id}/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut chunks = Vec::new();
    for _ in 0..64 {
        chunks.extend_from_slice(b"4000\r\n");
        chunks.extend_from_slice(&[b' '; 0x4000]);
        chunks.extend_from_slice(b"\r\n");
    }
    chunks.extend_from_slice(b"0\r\n\r\n");
    let base = app.base.clone();
    let reply = tokio::task::spawn_blocking(move || raw(&base, head.as_bytes(), Some(&chunks)))
        .await
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"body_too_large\""), "{reply}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_echo_only_a_short_escaped_excerpt() {
    // A limit above 10 MB, so the parser sees the whole body.
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let limits = ApiLimits {
        max_body_bytes: 16 * 1024 * 1024,
        rate_limit_per_minute: 10_000,
    };
    let app = Limited::spawn(limits, &prefix).await;
    let http = reqwest::Client::new();
    let admin = token("root", 3600, Some("admin"));
    let huge = format!(
        r#"{{"user_ids":["a"],"mode":"{}"}}"#,
        "A".repeat(10 * 1024 * 1024)
    );
    let r = http
        .post(format!("{}/api/v1/admin/sync", app.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.chars().count() <= 200, "{} chars", message.len());

    let script = "<script>alert(1)</script>";
    let alice = token("alice", 3600, None);
    let id = app.db.data_source("alice", "twitter", "a1").await;
    let replies = vec![
        http.get(format!(
            "{}/api/v1/oauth/twitter/callback?error={}&error_description={}",
            app.base,
            urlencode(script),
            urlencode(script)
        ))
        .send()
        .await
        .unwrap(),
        http.get(format!(
            "{}/api/v1/oauth/{}/authorize",
            app.base,
            urlencode(script)
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap(),
        http.post(format!("{}/api/v1/data-sources/{id}/sync", app.base))
            .bearer_auth(&alice)
            .header("content-type", "application/json")
            .body(json!({ "mode": script }).to_string())
            .send()
            .await
            .unwrap(),
        http.post(format!("{}/api/v1/admin/sync", app.base))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(json!({ "user_ids": ["a"], "provider": script, "mode": "full" }).to_string())
            .send()
            .await
            .unwrap(),
    ];
    let mut echoed = 0;
    for r in replies {
        let status = r.status();
        assert!(status.is_client_error(), "{status}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains('<') && !text.contains('>'),
            "{status}: {text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(body["message"].is_string(), "{text}");
        echoed += usize::from(text.contains("&lt;script&gt;"));
    }
    assert!(
        echoed >= 2,
        "the callback's error and the provider name come back escaped"
    );
    app.done().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_has_the_headers_and_every_error_the_shape() {
    let app = TestApp::spawn().await;
    for path in ["/health", "/api/v1/items", "/nowhere", "/openapi.json"] {
        let r = app.get(path, None).await;
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(!h["x-request-id"].is_empty(), "{path}");
    }
    let r = app.get("/docs", None).await;
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("#/components/schemas/Error"),
        "/docs shows the completed document"
    );

    // 405 names the methods the path serves.
    let r = app
        .http
        .delete(app.url("/api/v1/items"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    assert_eq!(error_code(r).await, "method_not_allowed");
    let r = app
        .http
        .post(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));

    // 414 and raw bytes: JSON too.
    let r = app
        .get(&format!("/api/v1/items?x={}", "a".repeat(10_000)), None)
        .await;
    assert_eq!(r.status(), 414);
    assert_eq!(error_code(r).await, "uri_too_long");
    // Past hyper's own limits: its bodyless replies are shaped on the way out.
    let base = app.base.clone();
    let replies = tokio::task::spawn_blocking(move || {
        let long = format!(
            "GET /api/v1/items?x={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(70_000)
        );
        [
            raw(&base, long.as_bytes(), None),
            raw(
                &base,
                b"GET /api/v1/\xff\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
                None,
            ),
        ]
    })
    .await
    .unwrap();
    assert!(replies[0].starts_with("HTTP/1.1 414"), "{}", replies[0]);
    assert!(
        replies[0].contains(r#""error":"uri_too_long""#),
        "{}",
        replies[0]
    );
    assert!(replies[1].starts_with("HTTP/1.1 400"), "{}", replies[1]);
    assert!(
        replies[1].contains(r#""error":"bad_request""#),
        "{}",
        replies[1]
    );
    assert!(replies[1].contains("x-content-type-options: nosniff"));
    let r = app.get("/api/v1/oauth/%C0%AF/authorize", None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_input");
    // Bad query values and bad JSON, in the shape.
    let t = token("alice", 3600, None);
    let r = app.get("/api/v1/items?limit=abc", Some(&t)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_parameter");
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{}/sync", uuid::Uuid::new_v4()),
            &t,
            "{\"mode\":",
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_json");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_names_a_request_id_and_nothing_of_its_cause() {
    let app = TestApp::spawn().await;
    let name = app.db.url.rsplit('/').next().unwrap().to_string();
    drop_db(&name).await;
    let r = app
        .get("/api/v1/data-sources", Some(&token("alice", 3600, None)))
        .await;
    assert_eq!(r.status(), 500);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], "internal");
    assert!(body["message"].as_str().unwrap().contains(&id), "{text}");
    for cause in ["database", "exist", "sqlx", "postgres", &name] {
        assert!(!text.to_lowercase().contains(cause), "{cause} in {text}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_web_processes_share_one_users_rate_limit() {
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let limits = ApiLimits {
        max_body_bytes: 65_536,
        rate_limit_per_minute: 5,
    };
    let a = Limited::spawn(limits, &prefix).await;
    let b = Limited::spawn(limits, &prefix).await;
    let http = reqwest::Client::new();
    let alice = token("alice", 3600, None);
    for i in 0..5 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let r = http
            .get(format!("{base}/api/v1/items"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "request {}", i + 1);
    }
    let r = http
        .get(format!("{}/api/v1/items", b.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&wait), "{wait}");
    assert_eq!(error_code(r).await, "rate_limited");
    // Another user has a bucket of their own; probes are exempt.
    let r = http
        .get(format!("{}/api/v1/items", a.base))
        .bearer_auth(token("bob", 3600, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..10 {
        let r = http
            .get(format!("{}/health", a.base))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    a.done().await;
    b.db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_declares_nulls_errors_and_bounds() {
    let app = TestApp::spawn().await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let ds = &spec["components"]["schemas"]["DataSource"]["properties"];
    for field in [
        "last_sync_at",
        "last_sync_status",
        "last_sync_error",
        "account_name",
    ] {
        assert_eq!(ds[field]["nullable"], true, "{field}");
    }
    let items = &spec["paths"]["/api/v1/items"]["get"];
    for status in ["400", "401", "413", "429", "500"] {
        assert_eq!(
            items["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "{status}"
        );
    }
    let limit = items["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], 500.0);
    let admin = &spec["components"]["schemas"]["AdminSyncRequest"]["properties"]["user_ids"];
    assert_eq!(admin["minItems"], 1);
    app.shutdown().await;
}
