//! The API served on a free port, on the test's database and Redis key prefix; what a client
//! does with it (requests, syncs) and the waits that follow runs, jobs, completions and queues.

use super::*;
use lifesync::api::{serve, AppState};
use lifesync_jobs::{QueueSettings, RedisSettings, Store};
use uuid::Uuid;

type OnBound = Box<dyn FnOnce(std::net::SocketAddr) + Send>;

type Stopped = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Starts a server on a free port (`serve` gets the bound-address callback and the shutdown
/// future); returns its address and the sender that stops it.
pub(super) async fn serve_on_free_port<F, Fut>(
    serve: F,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>)
where
    F: FnOnce(OnBound, Stopped) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = serve(
        Box::new(move |a| {
            let _ = addr_tx.send(a);
        }),
        Box::pin(async {
            let _ = stopped.await;
        }),
    );
    tokio::spawn(async move { server.await.unwrap() });
    (addr_rx.await.unwrap(), stop)
}

pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub store: Store,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(None).await
    }

    /// With OAuth (provider apps, token key) configured.
    pub async fn spawn_with(oauth: Option<lifesync::api::OAuthSetup>) -> Self {
        Self::spawn_with_queue(oauth, |_| {}).await
    }

    /// With OAuth and queue settings adjusted by `adjust` (after the tests' defaults: a throttle
    /// without a time waits 1 s doubling to 4 s instead of 1 min to 1 h).
    pub async fn spawn_with_queue(
        oauth: Option<lifesync::api::OAuthSetup>,
        adjust: impl FnOnce(&mut QueueSettings),
    ) -> Self {
        let redis = redis_url();
        Self::spawn_on_with_queue(RedisSettings::new(redis), oauth, adjust).await
    }

    /// With OAuth as given, on the Redis that `redis` reaches, with queue settings adjusted
    /// by `adjust`.
    pub async fn spawn_on_with_queue(
        redis: RedisSettings,
        oauth: Option<lifesync::api::OAuthSetup>,
        adjust: impl FnOnce(&mut QueueSettings),
    ) -> Self {
        Self::spawn_routed(redis, oauth, adjust, |_| (None, None)).await
    }

    /// The same, with the database reached as `route(database URL)` says: the URL every route,
    /// worker and test query uses instead (a pooler in front), and the GET routes' read pool's
    /// URL (a replica); None keeps the direct connection, resp. the primary. The database is
    /// created and migrated directly.
    pub async fn spawn_routed(
        redis: RedisSettings,
        oauth: Option<lifesync::api::OAuthSetup>,
        adjust: impl FnOnce(&mut QueueSettings),
        route: impl FnOnce(&str) -> (Option<String>, Option<String>),
    ) -> Self {
        Self::spawn_full(redis, oauth, adjust, route, true).await
    }

    /// With OAuth, as production runs: webhook URLs on loopback and private addresses refused
    /// (every other test app allows them, as `WEBHOOK_ALLOW_PRIVATE_TARGETS=true` does, so
    /// that receivers on 127.0.0.1 can be registered).
    pub async fn spawn_guarding_webhooks(sandbox_base: &str) -> Self {
        let redis = RedisSettings::new(redis_url());
        let oauth = Some(sandbox_oauth(sandbox_base));
        Self::spawn_full(redis, oauth, |_| {}, |_| (None, None), false).await
    }

    async fn spawn_full(
        redis: RedisSettings,
        oauth: Option<lifesync::api::OAuthSetup>,
        adjust: impl FnOnce(&mut QueueSettings),
        route: impl FnOnce(&str) -> (Option<String>, Option<String>),
        webhook_private_targets: bool,
    ) -> Self {
        lifesync::metrics::handle();
        let mut db = TestDb::new().await;
        let (primary, read) = route(&db.url);
        if let Some(url) = primary {
            db.pool = lifesync::db::connect(&url, 5)
                .await
                .expect("the routed database");
        }
        let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut settings = QueueSettings::new(prefix);
        settings.throttle.base = std::time::Duration::from_secs(1);
        settings.throttle.max = std::time::Duration::from_secs(4);
        adjust(&mut settings);
        let store = Store::connect(redis, settings).await.expect("Redis");
        let mut state =
            AppState::with_oauth(db.pool.clone(), store.clone(), JWT_SECRET.as_bytes(), oauth)
                .with_webhook_private_targets(webhook_private_targets);
        if let Some(url) = read {
            state = state.with_read_pool(lifesync::db::connect(&url, 5).await.expect("replica"));
        }
        let (addr, stop) =
            serve_on_free_port(|bound, stopped| serve("127.0.0.1:0", state, bound, stopped)).await;
        Self {
            base: format!("http://{addr}"),
            db,
            store,
            http: sandbox_client(),
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &str) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Starts a sync of `ds` as `user` through the API (`mode`: full or incremental).
    pub async fn start_sync(&self, ds: Uuid, user: &str, mode: &str) -> StartedSync {
        let r = self
            .post_json(
                &format!("/api/v1/data-sources/{ds}/sync"),
                &token(user, 3600, None),
                &format!(r#"{{"mode":"{mode}"}}"#),
            )
            .await;
        assert_eq!(r.status(), 202, "{:?}", r.text().await);
        let v: serde_json::Value = r.json().await.unwrap();
        StartedSync {
            run: v["sync_run_id"].as_str().unwrap().parse().unwrap(),
            job: v["job_id"].as_str().unwrap().to_string(),
        }
    }

    /// Waits (at most 30 s) until completion `id` is no longer pending; returns it as
    /// `user` reads it.
    pub async fn wait_completion(&self, id: &str, user: &str) -> serde_json::Value {
        for _ in 0..300 {
            let body: serde_json::Value = self
                .get(
                    &format!("/api/v1/oauth/completions/{id}"),
                    Some(&token(user, 3600, None)),
                )
                .await
                .json()
                .await
                .unwrap();
            if body["status"] != "pending" {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("completion {id} still pending after 30 s");
    }

    /// Waits (at most 180 s) until `run` ended: succeeded, failed or cancelled.
    pub async fn wait_run(&self, run: impl std::fmt::Display) -> RunOutcome {
        for _ in 0..1800 {
            let row = run_row(&self.db.pool, &run).await;
            if ["succeeded", "failed", "cancelled"].contains(&row.status.as_str()) {
                return row;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("run {run} did not finish in 180 s");
    }

    /// Waits (at most 60 s) until job `id` ended (succeeded or dead); returns that state.
    pub async fn wait_job(&self, id: &str) -> String {
        for _ in 0..600 {
            if let Some(j) = self.store.job(id).await.unwrap() {
                if j.state == "succeeded" || j.state == "dead" {
                    return j.state;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("job {id} did not end in 60 s");
    }

    /// Drains `queues`: waits (at most `secs`) until none has a job pending, scheduled,
    /// running or retrying; false if they never settled.
    pub async fn drained(&self, queues: &[&str], secs: u64) -> bool {
        eventually(secs, || async {
            let mut busy = 0;
            for q in queues {
                let s = self.store.stats(q).await.unwrap();
                busy += s.pending + s.scheduled + s.running + s.retrying;
            }
            busy == 0
        })
        .await
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.store.purge_prefix().await.unwrap();
        self.db.drop().await;
    }
}
