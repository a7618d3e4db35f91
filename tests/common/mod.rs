//! Test harness for the service: a fresh migrated database per test, a random Redis key
//! prefix, the API served on port 0, and JWTs minted with the test's secret.
#![allow(dead_code)]

pub mod servers;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use lifesync::api::{serve, AppState};
use lifesync_jobs::{QueueSettings, RedisSettings, Store};
use sqlx::PgPool;
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret!";

/// A database of this test's own, migrated, dropped by [`TestDb::drop`].
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    name: String,
}

/// The PostgreSQL server tests use (`TEST_DATABASE_URL`, without a database name).
pub fn pg_base() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database name no other test uses, and its URL; nothing is created.
pub fn fresh_db() -> (String, String) {
    let name = format!(
        "lifesync_test_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    (format!("{}/{name}", pg_base()), name)
}

/// Drops a test database (whoever is still connected).
pub async fn drop_db(name: &str) {
    let admin = PgPool::connect(&format!("{}/postgres", pg_base()))
        .await
        .expect("PostgreSQL");
    // The name is ours (a fresh ULID), not input.
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&admin)
        .await
        .unwrap();
}

impl TestDb {
    pub async fn new() -> Self {
        let (url, name) = fresh_db();
        lifesync::db::create_database_if_missing(&url)
            .await
            .expect("PostgreSQL");
        let pool = lifesync::db::connect(&url, 5).await.unwrap();
        lifesync::db::migrate(&pool).await.unwrap();
        Self { pool, url, name }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        drop_db(&self.name).await;
    }

    pub async fn user(&self, id: &str) {
        sqlx::query("INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(id)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// A connected data source (as OAuth completion will create them).
    pub async fn data_source(&self, user: &str, provider: &str, account: &str) -> Uuid {
        self.user(user).await;
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO data_sources (id, user_id, provider, account_id, account_name)
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id)
        .bind(user)
        .bind(provider)
        .bind(account)
        .execute(&self.pool)
        .await
        .unwrap();
        id
    }
}

type OnBound = Box<dyn FnOnce(std::net::SocketAddr) + Send>;
type Stopped = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Starts a server on a free port (`serve` gets the bound-address callback and the shutdown
/// future); returns its address and the sender that stops it.
async fn serve_on_free_port<F, Fut>(
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
        let redis =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Self::spawn_on_with_queue(RedisSettings::new(redis), oauth, adjust).await
    }

    /// With OAuth as given, on the Redis that `redis` reaches.
    pub async fn spawn_on(redis: RedisSettings, oauth: Option<lifesync::api::OAuthSetup>) -> Self {
        Self::spawn_on_with_queue(redis, oauth, |_| {}).await
    }

    /// [`Self::spawn_on`] with queue settings adjusted by `adjust`.
    pub async fn spawn_on_with_queue(
        redis: RedisSettings,
        oauth: Option<lifesync::api::OAuthSetup>,
        adjust: impl FnOnce(&mut QueueSettings),
    ) -> Self {
        lifesync::metrics::handle();
        let db = TestDb::new().await;
        let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut settings = QueueSettings::new(prefix);
        settings.throttle.base = std::time::Duration::from_secs(1);
        settings.throttle.max = std::time::Duration::from_secs(4);
        adjust(&mut settings);
        let store = Store::connect(redis, settings).await.expect("Redis");
        let state =
            AppState::with_oauth(db.pool.clone(), store.clone(), JWT_SECRET.as_bytes(), oauth);
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

    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.store.purge_prefix().await.unwrap();
        self.db.drop().await;
    }
}

/// A token for `sub`, valid for an hour (or expired when `ttl_s` is negative).
pub fn token(sub: &str, ttl_s: i64, role: Option<&str>) -> String {
    token_with_secret(sub, ttl_s, role, JWT_SECRET)
}

pub fn token_with_secret(sub: &str, ttl_s: i64, role: Option<&str>, secret: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({ "sub": sub, "exp": now + ttl_s, "role": role });
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The body's `error` code, asserting the contract's error shape.
pub async fn error_code(resp: reqwest::Response) -> String {
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "error content-type {ct}"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"].is_string(), "error body {body}");
    body["error"].as_str().expect("error code").to_string()
}

pub const TOKEN_KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn token_key() -> lifesync::config::TokenKey {
    lifesync::config::TokenKey::from_base64("TOKEN_ENCRYPTION_KEY", TOKEN_KEY_B64).unwrap()
}

/// The private CA of every sandbox this test binary starts, and the certificate they serve.
pub fn sandbox_tls() -> &'static lifesync_sandbox::tls::SandboxTls {
    static TLS: std::sync::OnceLock<lifesync_sandbox::tls::SandboxTls> = std::sync::OnceLock::new();
    TLS.get_or_init(|| lifesync_sandbox::tls::SandboxTls::generate().unwrap())
}

/// How the service reaches a test sandbox: the production client, trusting the test CA.
pub fn sandbox_outbound() -> lifesync::outbound::OutboundConfig {
    lifesync::outbound::OutboundConfig::trusting(
        lifesync::tls::TrustConfig::default()
            .adding_pem(&sandbox_tls().ca.cert_pem())
            .unwrap(),
    )
}

/// A client for the sandbox (and the API), trusting the test CA.
pub fn sandbox_client() -> reqwest::Client {
    sandbox_outbound().client().unwrap()
}

/// The test CA in a file, for `SSL_CERT_FILE` of the service processes a test starts against
/// an in-process [`TestSandbox`].
pub fn sandbox_ca_file() -> String {
    static FILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("lifesync-test-ca-{}.pem", ulid::Ulid::new()));
        sandbox_tls().ca.write_cert(&path).unwrap();
        path.to_string_lossy().to_string()
    })
    .clone()
}

/// A stand-in browser: trusts the test CA, does not follow redirects.
pub fn browser() -> reqwest::Client {
    sandbox_outbound()
        .builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Waits (at most 30 s) until a `lifesync sandbox --tls --ca-file PATH` process has written
/// its CA, and returns the outbound configuration that trusts it — what `SSL_CERT_FILE=PATH`
/// gives the service's own processes.
pub async fn trust_ca_file(path: &std::path::Path) -> lifesync::outbound::OutboundConfig {
    let start = std::time::Instant::now();
    loop {
        if let Ok(trust) = lifesync::tls::TrustConfig::from_env(&|k: &str| {
            (k == "SSL_CERT_FILE").then(|| path.to_string_lossy().to_string())
        }) {
            return lifesync::outbound::OutboundConfig::trusting(trust);
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the sandbox never wrote its CA to {}",
            path.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A sandbox of this test's own on a free port, over HTTPS.
pub struct TestSandbox {
    pub base: String,
    pub state: std::sync::Arc<lifesync_sandbox::SandboxState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestSandbox {
    /// Serves with the test CA's certificate ([`sandbox_tls`]).
    pub async fn spawn(seed: u64) -> Self {
        Self::spawn_with_cert(seed, sandbox_tls().server.clone()).await
    }

    /// Serves with a certificate from a CA that nobody trusts.
    pub async fn spawn_untrusted(seed: u64) -> Self {
        let stranger = lifesync_sandbox::tls::SandboxTls::generate().unwrap();
        Self::spawn_with_cert(seed, stranger.server).await
    }

    async fn spawn_with_cert(seed: u64, cert: lifesync_sandbox::tls::ServerCert) -> Self {
        let state = lifesync_sandbox::SandboxState::new(seed);
        let s = state.clone();
        let (addr, stop) = serve_on_free_port(|bound, stopped| async move {
            lifesync_sandbox::serve_with("127.0.0.1:0", s, Some(&cert), bound, stopped).await
        })
        .await;
        Self {
            base: format!("https://{addr}"),
            state,
            stop: Some(stop),
        }
    }

    pub fn twitter_base(&self) -> String {
        format!("{}/twitter", self.base)
    }

    /// Timeline requests seen so far, as `path?query`.
    pub fn timeline_requests(&self) -> Vec<String> {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains("/tweets"))
            .cloned()
            .collect()
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl TestDb {
    /// A connected Twitter account with a sandbox-issued token, sealed at rest.
    pub async fn twitter_source(
        &self,
        user: &str,
        account: &str,
        sandbox: &TestSandbox,
    ) -> (Uuid, String) {
        let id = self.data_source(user, "twitter", account).await;
        let token = sandbox.state.issue_token(account);
        let key = token_key();
        let cipher = lifesync::crypto::TokenCipher::new(&key);
        lifesync::db::tokens::store(
            &self.pool,
            id,
            &cipher.seal(token.as_bytes()),
            Some(&cipher.seal(b"refresh-token-value")),
            None,
            &["tweet.read".to_string(), "users.read".to_string()],
        )
        .await
        .unwrap();
        (id, token)
    }
}

/// The environment that configures all six providers against a sandbox served at
/// `sandbox_base`, with redirect URIs on the API at `web_base`: what an operator would set.
pub fn provider_env(sandbox_base: &str, web_base: &str) -> Vec<(String, String)> {
    use secrecy::ExposeSecret;
    let base = url::Url::parse(sandbox_base).unwrap();
    let mut env = Vec::new();
    for p in lifesync::providers::ProviderId::ALL {
        let redirect = url::Url::parse(&format!("{web_base}/api/v1/oauth/{p}/callback")).unwrap();
        let c = lifesync::sandbox_link::provider_config(p, &base, redirect);
        let pre = p.env_prefix();
        let (id, secret) = match p {
            lifesync::providers::ProviderId::Facebook => (
                "FACEBOOK_APP_ID".to_string(),
                "FACEBOOK_APP_SECRET".to_string(),
            ),
            _ => (format!("{pre}_CLIENT_ID"), format!("{pre}_CLIENT_SECRET")),
        };
        env.push((id, c.client_id.clone()));
        env.push((secret, c.client_secret.expose_secret().to_string()));
        env.push((format!("{pre}_REDIRECT_URI"), c.redirect_uri.to_string()));
        env.push((format!("{pre}_AUTH_URL"), c.auth_url.unwrap().to_string()));
        env.push((format!("{pre}_TOKEN_URL"), c.token_url.unwrap().to_string()));
        env.push((
            format!("{pre}_API_BASE_URL"),
            c.api_base_url.unwrap().to_string(),
        ));
        if let Some(scopes) = &c.scopes {
            // The sandbox's LinkedIn app is approved for posts.
            env.push((format!("{pre}_SCOPES"), scopes.join(" ")));
        }
    }
    env
}

/// Where tests pretend the API's OAuth callback lives (tests call the callback themselves).
pub fn redirect_uri(p: lifesync::providers::ProviderId) -> url::Url {
    url::Url::parse(&format!("http://127.0.0.1:9/api/v1/oauth/{p}/callback")).unwrap()
}

/// All six provider apps pointed at a sandbox served at `sandbox_base`.
pub fn sandbox_apps(sandbox_base: &str) -> std::sync::Arc<lifesync::oauth::apps::ProviderApps> {
    let base = url::Url::parse(sandbox_base).unwrap();
    let configs = lifesync::providers::ProviderId::ALL
        .into_iter()
        .map(|p| {
            (
                p,
                lifesync::sandbox_link::provider_config(p, &base, redirect_uri(p)),
            )
        })
        .collect();
    std::sync::Arc::new(lifesync::oauth::apps::ProviderApps::new(
        &configs,
        sandbox_client(),
    ))
}

/// OAuth set up against a sandbox, with the test key.
pub fn sandbox_oauth(sandbox_base: &str) -> lifesync::api::OAuthSetup {
    lifesync::api::OAuthSetup {
        apps: sandbox_apps(sandbox_base),
        token_key: token_key(),
        success_redirect: None,
        clock: None,
    }
}

/// Starts sync workers in this process; returns a stopper.
pub fn start_workers(
    pool: &PgPool,
    store: &Store,
    twitter_base: &str,
    batch_size: u32,
) -> tokio::sync::oneshot::Sender<()> {
    start_queue_workers(pool, store, twitter_base, batch_size, &["sync", "fanout"])
}

/// Starts workers for the named queues only.
pub fn start_queue_workers(
    pool: &PgPool,
    store: &Store,
    twitter_base: &str,
    batch_size: u32,
    queues: &[&str],
) -> tokio::sync::oneshot::Sender<()> {
    start_queue_workers_joinable(pool, store, twitter_base, batch_size, queues).0
}

/// [`start_queue_workers`], with the task that ends once the workers stopped: every job they
/// ran finished or handed back, and every acknowledgement written.
pub fn start_queue_workers_joinable(
    pool: &PgPool,
    store: &Store,
    twitter_base: &str,
    batch_size: u32,
    queues: &[&str],
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let deps = lifesync::workers::SharedDeps(std::sync::Arc::new(lifesync::workers::Deps {
        pool: pool.clone(),
        producer: lifesync_jobs::Producer::new(store.clone()),
        token_key: token_key(),
        apps: sandbox_apps(twitter_base.trim_end_matches("/twitter")),
        states: lifesync::oauth::state::StateStore::new(
            store.connection(),
            store.settings().prefix.clone(),
        ),
        batch_size,
        fanout_spread: std::time::Duration::ZERO,
        duplicate_window: std::time::Duration::from_secs(72 * 3600),
    }));
    let handles = lifesync_jobs::runner::Handles::default();
    let queues: Vec<String> = queues.iter().map(|q| q.to_string()).collect();
    let monitor = lifesync::workers::register(store, deps, &queues, 4, &handles);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = lifesync_jobs::runner::run_until(
            monitor,
            handles,
            async {
                let _ = stopped.await;
                Ok(())
            },
            std::time::Duration::from_secs(5),
        )
        .await;
    });
    (stop, task)
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

/// Polls until `f` holds or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(secs) {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// A run's status and counters.
pub async fn run_row(pool: &PgPool, run_id: &str) -> (String, i32, i32, i32) {
    sqlx::query_as(
        "SELECT status, items_fetched, items_new, items_updated FROM sync_runs WHERE id = $1::uuid",
    )
    .bind(run_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A whole service on a sandbox: the API with OAuth, and in-process workers for every queue.
/// Sources are connected through the real OAuth flow, which also runs their first full sync.
pub struct SyncHarness {
    pub app: TestApp,
    pub sandbox: TestSandbox,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    workers: Option<tokio::task::JoinHandle<()>>,
}

/// A run's outcome: status, fetched, new, updated, error.
pub type RunOutcome = (String, i32, i32, i32, Option<String>);

impl SyncHarness {
    /// Starts a sync of `ds` as `user` through the API (`mode`: full or incremental):
    /// (run id, job id).
    pub async fn start_sync(&self, ds: uuid::Uuid, user: &str, mode: &str) -> (uuid::Uuid, String) {
        let r = self
            .app
            .post_json(
                &format!("/api/v1/data-sources/{ds}/sync"),
                &token(user, 3600, None),
                &format!(r#"{{"mode":"{mode}"}}"#),
            )
            .await;
        assert_eq!(r.status(), 202);
        let v: serde_json::Value = r.json().await.unwrap();
        (
            v["sync_run_id"].as_str().unwrap().parse().unwrap(),
            v["job_id"].as_str().unwrap().to_string(),
        )
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
        let redis =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
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
        let sandbox = TestSandbox::spawn(seed).await;
        let app =
            TestApp::spawn_on_with_queue(redis, Some(sandbox_oauth(&sandbox.base)), adjust).await;
        let (stop, workers) = start_queue_workers_joinable(
            &app.db.pool,
            &app.store,
            &sandbox.twitter_base(),
            batch_size,
            &["oauth_completion", "sync", "fanout"],
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
    ) -> (Uuid, RunOutcome) {
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
        assert_eq!(r.status(), 202, "confirm");
        let mut ds = None;
        for _ in 0..300 {
            let c: serde_json::Value = self
                .app
                .get(
                    &format!("/api/v1/oauth/completions/{id}"),
                    Some(&token(user, 3600, None)),
                )
                .await
                .json()
                .await
                .unwrap();
            match c["status"].as_str() {
                Some("connected") => {
                    ds = Some(c["data_source_id"].as_str().unwrap().parse().unwrap());
                    break;
                }
                Some("failed") => panic!("{p}: connection failed: {c}"),
                _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        let ds: Uuid = ds.expect("connected");
        let run: Uuid = sqlx::query_scalar(
            "SELECT id FROM sync_runs WHERE data_source_id = $1 AND trigger = 'oauth'",
        )
        .bind(ds)
        .fetch_one(&self.app.db.pool)
        .await
        .unwrap();
        (ds, self.wait(run).await)
    }

    /// Starts a sync through the API and waits for its end.
    pub async fn sync(&self, ds: Uuid, user: &str, mode: &str) -> RunOutcome {
        let r = self
            .app
            .post_json(
                &format!("/api/v1/data-sources/{ds}/sync"),
                &token(user, 3600, None),
                &format!(r#"{{"mode":"{mode}"}}"#),
            )
            .await;
        assert_eq!(r.status(), 202, "{:?}", r.text().await);
        let body: serde_json::Value = r.json().await.unwrap();
        let run: Uuid = body["sync_run_id"].as_str().unwrap().parse().unwrap();
        self.wait(run).await
    }

    pub async fn wait(&self, run: Uuid) -> RunOutcome {
        for _ in 0..1800 {
            let row: RunOutcome = sqlx::query_as(
                "SELECT status, items_fetched, items_new, items_updated, error
                   FROM sync_runs WHERE id = $1",
            )
            .bind(run)
            .fetch_one(&self.app.db.pool)
            .await
            .unwrap();
            if ["succeeded", "failed", "cancelled"].contains(&row.0.as_str()) {
                return row;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("run {run} did not finish in 180 s");
    }

    /// The source's stored items: (external id, deleted).
    pub async fn stored(&self, ds: Uuid) -> Vec<(String, bool)> {
        sqlx::query_as(
            "SELECT external_id, deleted_at IS NOT NULL FROM items
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
            .filter(|(_, d)| !d)
            .map(|(id, _)| id)
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

/// The mail providers' sandboxes (Gmail, Outlook): the live message ids of an account, and
/// adding and deleting messages between syncs.
pub trait SandboxMailbox {
    fn ids(&self, account: &str) -> Vec<String>;
    fn add(&self, account: &str, n: usize) -> Vec<String>;
    fn delete(&self, account: &str, m: usize) -> Vec<String>;
}

impl SandboxMailbox for lifesync_sandbox::google::GoogleData {
    fn ids(&self, account: &str) -> Vec<String> {
        self.ids(account)
    }
    fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.add(account, n)
    }
    fn delete(&self, account: &str, m: usize) -> Vec<String> {
        self.delete(account, m)
    }
}

impl SandboxMailbox for lifesync_sandbox::microsoft::MicrosoftData {
    fn ids(&self, account: &str) -> Vec<String> {
        self.ids(account)
    }
    fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.add(account, n)
    }
    fn delete(&self, account: &str, m: usize) -> Vec<String> {
        self.delete(account, m)
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A mail provider's sync scenarios against the sandbox: full = the sandbox's messages; a
/// second full adds nothing; adds and deletions → an incremental fetches exactly the adds and
/// marks exactly the deletions; 30 % 5xx and periodic throttling change nothing; a malformed
/// page fails the run cleanly and the next succeeds; an expired cursor (Gmail history 404,
/// Graph 410) falls back to a full sync, after which incremental works again.
pub async fn mail_sync_scenarios<M: SandboxMailbox>(
    provider: lifesync::providers::ProviderId,
    account: &str,
    seed: u64,
    mailbox: impl Fn(&lifesync_sandbox::SandboxState) -> &M,
) {
    use lifesync_sandbox::Faults;
    let h = SyncHarness::new(seed, 25).await;
    let data = mailbox(&h.sandbox.state);
    // Full sync (the first, started by connecting): exactly the sandbox's messages.
    let (ds, first) = h.connect(provider, "alice", account).await;
    assert_eq!(first.0, "succeeded", "{first:?}");
    let expected = sorted(data.ids(account));
    assert!(expected.len() >= 120);
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.1 as usize, expected.len());

    // Events from the sandbox's schema.org markup keep their start's UTC offset in what the
    // items API returns (RFC 3339, e.g. `2026-12-09T10:05:00-08:00`), with `time_zone` beside.
    let r = h
        .app
        .get(
            "/api/v1/items?kind=email&limit=500",
            Some(&token("alice", 3600, None)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page: serde_json::Value = r.json().await.unwrap();
    let starts: Vec<&serde_json::Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["event"].as_object())
        .inspect(|e| assert!(e.contains_key("time_zone"), "{e:?}"))
        .filter_map(|e| e.get("start").filter(|s| !s.is_null()))
        .collect();
    assert!(starts.len() >= 5, "{starts:?}");
    for s in starts {
        let s = s.as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "start without its offset: {s}"
        );
    }

    // A second full sync adds no rows.
    let again = h.sync(ds, "alice", "full").await;
    assert_eq!((again.0.as_str(), again.2), ("succeeded", 0), "{again:?}");
    assert_eq!(h.stored(ds).await.len(), expected.len());

    // 6 new messages and 4 deleted: an incremental sync fetches exactly the new ones and
    // marks exactly the deleted ones.
    let added = data.add(account, 6);
    let deleted = data.delete(account, 4);
    assert_eq!((added.len(), deleted.len()), (6, 4));
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 6, 6),
        "{inc:?}"
    );
    let all = sorted(data.ids(account));
    assert_eq!(h.live_ids(ds).await, all);
    let gone: Vec<String> = h
        .stored(ds)
        .await
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(gone, sorted(deleted));
    // Nothing changed since: nothing fetched.
    let quiet = h.sync(ds, "alice", "incremental").await;
    assert_eq!((quiet.0.as_str(), quiet.1), ("succeeded", 0), "{quiet:?}");

    // 30 % 5xx and a throttling reply every 4th request: same result, no duplicate.
    h.set_faults(Faults {
        fail_ratio: 0.3,
        throttle_every: 4,
        ..Faults::default()
    });
    let faulty = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (faulty.0.as_str(), faulty.2),
        ("succeeded", 0),
        "{faulty:?}"
    );
    assert_eq!(h.live_ids(ds).await, all);
    assert_eq!(h.stored(ds).await.len(), all.len() + 4);

    // A malformed page fails the run cleanly; the next run succeeds.
    h.set_faults(Faults {
        malformed_pages: 1,
        ..Faults::default()
    });
    let broken = h.sync(ds, "alice", "full").await;
    assert_eq!(broken.0, "failed");
    assert!(
        broken.4.as_deref().unwrap().contains("malformed"),
        "{broken:?}"
    );
    assert_eq!(h.live_ids(ds).await, all, "nothing partial or wrong stored");
    let fixed = h.sync(ds, "alice", "full").await;
    assert_eq!((fixed.0.as_str(), fixed.2), ("succeeded", 0), "{fixed:?}");

    // Cursor expired (Gmail history 404, Graph delta 410): the incremental run falls back to
    // a full sync and still ends
    // with exactly the sandbox's messages.
    h.set_faults(Faults {
        expire_cursors: true,
        ..Faults::default()
    });
    let more = data.add(account, 3);
    let expired = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (expired.0.as_str(), expired.2),
        ("succeeded", 3),
        "{expired:?}"
    );
    // (Gmail's full listing fetches only what it does not hold; Outlook's initial rounds
    // bring every message again.)
    assert!(expired.1 as usize >= more.len(), "{expired:?}");
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(account)));
    // The fallback stored a fresh cursor: incremental works again.
    h.set_faults(Faults::default());
    let newer = data.add(account, 2);
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 2, 2),
        "{inc:?}"
    );
    assert!(newer.iter().all(|id| data.ids(account).contains(id)));
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(account)));
    h.shutdown().await;
}
