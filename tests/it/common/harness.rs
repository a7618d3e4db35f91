//! A whole service on a sandbox (API, OAuth, workers for every queue): sources connected
//! through the real OAuth flow, syncs started and followed through the API.

use super::*;
use lifesync_jobs::{QueueSettings, RedisSettings};
use uuid::Uuid;

/// A whole service on a sandbox: the API with OAuth, and in-process workers for every queue.
/// Sources are connected through the real OAuth flow, which also runs their first full sync.
pub struct SyncHarness {
    pub app: TestApp,
    pub sandbox: TestSandbox,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    workers: Option<tokio::task::JoinHandle<()>>,
}

/// A source connected through the OAuth flow, and its first (full, trigger `oauth`) run.
#[derive(Debug)]
pub struct Connected {
    pub source: Uuid,
    pub run: RunOutcome,
}

/// A sync started through the API: its run and its job.
#[derive(Debug)]
pub struct StartedSync {
    pub run: Uuid,
    pub job: String,
}

impl SyncHarness {
    /// Starts a sync of `ds` as `user` through the API ([`TestApp::start_sync`]).
    pub async fn start_sync(&self, ds: Uuid, user: &str, mode: &str) -> StartedSync {
        self.app.start_sync(ds, user, mode).await
    }

    pub async fn new(seed: u64, batch_size: u32) -> Self {
        Self::with_queue(seed, batch_size, |_| {}).await
    }

    /// With queue settings adjusted by `adjust` (retry and throttle timings, caps).
    pub async fn with_queue(
        seed: u64,
        batch_size: u32,
        adjust: impl FnOnce(&mut QueueSettings),
    ) -> Self {
        let redis = redis_url();
        Self::on_redis_with_queue(seed, batch_size, RedisSettings::new(redis), adjust).await
    }

    /// The same, with the queue, OAuth state and locks on the Redis that `redis` reaches.
    pub async fn on_redis(seed: u64, batch_size: u32, redis: RedisSettings) -> Self {
        Self::on_redis_with_queue(seed, batch_size, redis, |_| {}).await
    }

    async fn on_redis_with_queue(
        seed: u64,
        batch_size: u32,
        redis: RedisSettings,
        adjust: impl FnOnce(&mut QueueSettings),
    ) -> Self {
        Self::routed(seed, batch_size, redis, adjust, |_| (None, None)).await
    }

    /// With the database reached as `route` says ([`TestApp::spawn_routed`]): workers and API
    /// through a pooler, GET routes on a replica.
    pub async fn routed(
        seed: u64,
        batch_size: u32,
        redis: RedisSettings,
        adjust: impl FnOnce(&mut QueueSettings),
        route: impl FnOnce(&str) -> (Option<String>, Option<String>),
    ) -> Self {
        let queues = ["oauth_completion", "sync", "fanout"];
        Self::build(seed, batch_size, redis, adjust, route, &queues).await
    }

    /// With in-process workers for `queues` only: the others are left to worker processes
    /// the test starts (and may kill).
    pub async fn with_workers_for(
        seed: u64,
        batch_size: u32,
        redis: RedisSettings,
        adjust: impl FnOnce(&mut QueueSettings),
        queues: &[&str],
    ) -> Self {
        Self::build(seed, batch_size, redis, adjust, |_| (None, None), queues).await
    }

    async fn build(
        seed: u64,
        batch_size: u32,
        redis: RedisSettings,
        adjust: impl FnOnce(&mut QueueSettings),
        route: impl FnOnce(&str) -> (Option<String>, Option<String>),
        queues: &[&str],
    ) -> Self {
        let sandbox = TestSandbox::spawn(seed).await;
        let app =
            TestApp::spawn_routed(redis, Some(sandbox_oauth(&sandbox.base)), adjust, route).await;
        let (stop, workers) = start_queue_workers_joinable(
            &app.db.pool,
            &app.store,
            &sandbox.twitter_base(),
            batch_size,
            queues,
        );
        Self {
            app,
            sandbox,
            stop: Some(stop),
            workers: Some(workers),
        }
    }

    /// Stops the harness's workers and waits until they stopped (jobs in flight finished or
    /// handed back within the 5 s grace, acknowledgements written).
    pub async fn stop_workers(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(w) = self.workers.take() {
            tokio::time::timeout(std::time::Duration::from_secs(30), w)
                .await
                .expect("the workers stopped")
                .unwrap();
        }
    }

    /// Connects `account` of provider `p` for `user` through authorize → sandbox → callback →
    /// completion; waits for the first (full, trigger `oauth`) sync and returns the source
    /// and that run's outcome.
    pub async fn connect(
        &self,
        p: lifesync::providers::ProviderId,
        user: &str,
        account: &str,
    ) -> Connected {
        let completion = self.begin_connect(p, user, account).await;
        let source = self.connected_source(&completion, user).await;
        let run = self.first_run(source).await;
        Connected {
            source,
            run: self.wait(run).await,
        }
    }

    /// The OAuth flow of [`Self::connect`] up to the client's confirmation: authorize →
    /// sandbox → callback → confirm. Returns the completion's id; its job connects the source
    /// and queues the first sync.
    pub async fn begin_connect(
        &self,
        p: lifesync::providers::ProviderId,
        user: &str,
        account: &str,
    ) -> String {
        let r = self
            .app
            .get(
                &format!("/api/v1/oauth/{p}/authorize"),
                Some(&token(user, 3600, None)),
            )
            .await;
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        let mut url = url::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
        url.query_pairs_mut()
            .append_pair("sandbox_account", account);
        let r = browser().get(url).send().await.unwrap();
        let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let r = self
            .app
            .get(
                &format!("/api/v1/oauth/{p}/callback?{}", back.query().unwrap()),
                None,
            )
            .await;
        assert_eq!(r.status(), 202);
        let body: serde_json::Value = r.json().await.unwrap();
        let id = body["completion_id"].as_str().unwrap().to_string();
        let r = self
            .app
            .post_json(
                &format!("/api/v1/oauth/completions/{id}/confirm"),
                &token(user, 3600, None),
                "",
            )
            .await;
        assert_eq!(r.status(), 202, "{p}: confirm");
        id
    }

    /// Waits until `completion` connected its source; returns the source.
    pub async fn connected_source(&self, completion: &str, user: &str) -> Uuid {
        let c = self.app.wait_completion(completion, user).await;
        assert_eq!(c["status"], "connected", "connection failed: {c}");
        c["data_source_id"].as_str().unwrap().parse().unwrap()
    }

    /// The source's first run (trigger `oauth`), queued by its connection.
    pub async fn first_run(&self, ds: Uuid) -> Uuid {
        sqlx::query_scalar(
            "SELECT id FROM sync_runs WHERE data_source_id = $1 AND trigger = 'oauth'",
        )
        .bind(ds)
        .fetch_one(&self.app.db.pool)
        .await
        .unwrap()
    }

    /// Starts a sync through the API and waits for its end.
    pub async fn sync(&self, ds: Uuid, user: &str, mode: &str) -> RunOutcome {
        let started = self.start_sync(ds, user, mode).await;
        self.wait(started.run).await
    }

    /// Starts a sync of `ds` as the scheduler does (trigger `daily` or `incremental`, straight
    /// on the queue) and waits for its end. The previous run's job may hold the source's queue
    /// key for a moment after that run ended: the request is repeated until it is taken.
    pub async fn scheduled(
        &self,
        ds: Uuid,
        mode: lifesync_jobs::payloads::SyncMode,
        trigger: lifesync_jobs::payloads::SyncTrigger,
    ) -> RunOutcome {
        let producer = lifesync_jobs::Producer::new(self.app.store.clone());
        let pool = &self.app.db.pool;
        for _ in 0..100 {
            match lifesync::services::sync::request_sync(pool, &producer, ds, mode, trigger).await {
                Ok(started) => return self.wait(started.sync_run_id).await,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        panic!("the scheduled sync of {ds} was never taken");
    }

    /// Waits for the end of `run` ([`TestApp::wait_run`]).
    pub async fn wait(&self, run: Uuid) -> RunOutcome {
        self.app.wait_run(run).await
    }

    /// The source's stored items, deleted ones included.
    pub async fn stored(&self, ds: Uuid) -> Vec<StoredItem> {
        sqlx::query_as(
            "SELECT external_id, deleted_at IS NOT NULL AS deleted FROM items
              WHERE data_source_id = $1 ORDER BY external_id",
        )
        .bind(ds)
        .fetch_all(&self.app.db.pool)
        .await
        .unwrap()
    }

    /// External ids of the source's live (not deleted) items, sorted.
    pub async fn live_ids(&self, ds: Uuid) -> Vec<String> {
        self.stored(ds)
            .await
            .into_iter()
            .filter(|i| !i.deleted)
            .map(|i| i.external_id)
            .collect()
    }

    pub fn set_faults(&self, f: lifesync_sandbox::Faults) {
        *self.sandbox.state.faults.lock().unwrap() = f;
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.app.shutdown().await;
    }
}

/// The client application's confirmation of a completion (`POST …/confirm` with `jwt`);
/// returns the status.
pub async fn confirm(http: &reqwest::Client, api_base: &str, completion: &str, jwt: &str) -> u16 {
    http.post(format!(
        "{api_base}/api/v1/oauth/completions/{completion}/confirm"
    ))
    .bearer_auth(jwt)
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}
