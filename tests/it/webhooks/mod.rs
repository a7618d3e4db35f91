//! Webhooks: events of real flows reach a receiver of the test's own over HTTPS, signed as the
//! Standard Webhooks specification says (checked by an implementation of its algorithm
//! written here, HMAC included), in order, retried with backoff and `Retry-After` until the
//! receiver recovers or 24 hours pass, re-drivable when dead; the targets a webhook may never
//! reach are refused at registration and at connect time.
//!
//! - `receiver`: the scripted HTTPS receiver;
//! - `verify`: the independent Standard Webhooks verification;
//! - `delivery`: events, signing, rotation, ordering, retries, dead letters, no dispatcher;
//! - `durability`: a worker process killed mid-delivery;
//! - `safety`: SSRF refusals, redirects, timeouts, response limits, the API's rules.

mod delivery;
mod durability;
pub mod receiver;
mod safety;
mod verify;

use std::time::Duration;

use crate::common::*;
use uuid::Uuid;

/// The in-process service for webhook tests: the API (private targets allowed), workers for
/// the `webhooks` queue and the dispatcher.
pub struct Hooks {
    pub app: TestApp,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    dispatcher: Option<tokio::task::JoinHandle<()>>,
}

impl Hooks {
    pub async fn start() -> Self {
        let app = TestApp::spawn_with(Some(sandbox_oauth("https://127.0.0.1:9"))).await;
        let mut hooks = Self {
            app,
            stop: None,
            dispatcher: None,
        };
        hooks.start_workers();
        hooks.start_dispatcher();
        hooks
    }

    pub fn start_workers(&mut self) {
        let deps = worker_deps(
            &self.app.db.pool,
            &self.app.store,
            sandbox_apps("https://127.0.0.1:9"),
            100,
        );
        self.stop = Some(run_workers(&self.app.store, deps, &["webhooks"], 4).0);
    }

    pub fn start_dispatcher(&mut self) {
        self.dispatcher = Some(start_dispatcher(&self.app));
    }

    pub fn stop_dispatcher(&mut self) {
        if let Some(d) = self.dispatcher.take() {
            d.abort();
        }
    }

    pub async fn shutdown(mut self) {
        self.stop_dispatcher();
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.app.shutdown().await;
    }
}

/// The dispatcher of a worker process, on `app`'s database and queue (1 s sweeps).
pub fn start_dispatcher(app: &TestApp) -> tokio::task::JoinHandle<()> {
    tokio::spawn(lifesync::services::webhooks::run_dispatcher(
        app.db.pool.clone(),
        lifesync_jobs::Producer::new(app.store.clone()),
        Duration::from_secs(1),
        Duration::from_secs(30 * 24 * 3600),
    ))
}

/// An endpoint as registered: its id and secret.
pub struct Endpoint {
    pub id: Uuid,
    pub secret: String,
}

/// Registers `url` for `events` as `user` through the API.
pub async fn register(app: &TestApp, user: &str, url: &str, events: &[&str]) -> Endpoint {
    let body = serde_json::json!({ "url": url, "events": events, "description": "test" });
    let r = app
        .post_json(
            "/api/v1/webhooks",
            &token(user, 3600, None),
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let v: serde_json::Value = r.json().await.unwrap();
    Endpoint {
        id: v["id"].as_str().unwrap().parse().unwrap(),
        secret: v["secret"].as_str().unwrap().to_string(),
    }
}

/// Every event type.
pub const ALL_EVENTS: [&str; 6] = [
    "connection.created",
    "connection.failed",
    "data_source.status_changed",
    "sync.succeeded",
    "sync.failed",
    "items.changed",
];

/// Records event `kind` for `user` as the service does (the database function the triggers
/// call); returns the deliveries made.
pub async fn emit(app: &TestApp, user: &str, kind: &str, data: serde_json::Value) -> i32 {
    let mut conn = app.db.pool.acquire().await.unwrap();
    lifesync::db::webhooks::emit(&mut conn, user, kind, &data, Uuid::new_v4())
        .await
        .unwrap()
}

/// `PATCH /api/v1/webhooks/{id}` as `user`.
pub async fn patch(
    app: &TestApp,
    user: &str,
    id: Uuid,
    body: serde_json::Value,
) -> reqwest::Response {
    app.http
        .patch(app.url(&format!("/api/v1/webhooks/{id}")))
        .bearer_auth(token(user, 3600, None))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The endpoint's attempts as `GET /api/v1/webhooks/{id}/deliveries` shows them.
pub async fn attempts(app: &TestApp, user: &str, id: Uuid) -> Vec<serde_json::Value> {
    let r = app
        .get(
            &format!("/api/v1/webhooks/{id}/deliveries"),
            Some(&token(user, 3600, None)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["deliveries"].as_array().unwrap().clone()
}

/// `GET /api/v1/webhooks/{id}` as `user`.
pub async fn read_endpoint(app: &TestApp, user: &str, id: Uuid) -> serde_json::Value {
    let r = app
        .get(
            &format!("/api/v1/webhooks/{id}"),
            Some(&token(user, 3600, None)),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}
