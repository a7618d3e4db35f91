//! The `lifesync` binary as a child process of a test: its command line with a clean
//! environment, and the environment an operator would set for this test's stores and sandbox.

use std::process::Command;

use super::{provider_env, redis_url, sandbox_ca_file, TestSandbox, JWT_SECRET, TOKEN_KEY_B64};

/// `lifesync ARGS` with nothing of the test's environment but `PATH`, plus `env`.
pub fn lifesync_command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifesync"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)));
    c
}

/// The environment of a service process on the database at `db_url` and the shared Redis
/// under `prefix`, with the test's JWT secret and token key.
pub fn service_env(db_url: &str, prefix: &str) -> Vec<(String, String)> {
    let redis = redis_url();
    [
        ("DATABASE_URL", db_url.to_string()),
        ("REDIS_URL", redis),
        ("REDIS_KEY_PREFIX", prefix.to_string()),
        ("JWT_SECRET", JWT_SECRET.to_string()),
        ("TOKEN_ENCRYPTION_KEY", TOKEN_KEY_B64.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// [`service_env`] with all six providers pointed at the sandbox served at `sandbox_base`
/// ([`provider_env`]), their redirect URIs on an API at `web_base`.
pub fn sandbox_service_env(
    db_url: &str,
    prefix: &str,
    sandbox_base: &str,
    web_base: &str,
) -> Vec<(String, String)> {
    let mut env = service_env(db_url, prefix);
    env.extend(provider_env(sandbox_base, web_base));
    env
}

impl TestSandbox {
    /// [`sandbox_service_env`] for this in-process sandbox, its CA trusted through
    /// `SSL_CERT_FILE`.
    pub fn service_env(&self, db_url: &str, prefix: &str, web_base: &str) -> Vec<(String, String)> {
        let mut env = sandbox_service_env(db_url, prefix, &self.base, web_base);
        env.push(("SSL_CERT_FILE".to_string(), sandbox_ca_file()));
        env
    }
}

/// The setting of the tests that kill a worker process mid-run: a Twitter source of 230 posts
/// (5 pages of 46) whose sandbox answers 1.5 s a page, and worker processes for it.
pub struct SlowFeed {
    pub app: super::TestApp,
    pub sandbox: TestSandbox,
    pub ds: uuid::Uuid,
    env: Vec<(String, String)>,
}

impl SlowFeed {
    pub async fn new(user: &str) -> Self {
        let app = super::TestApp::spawn().await;
        let sandbox = TestSandbox::spawn(7).await;
        let super::TwitterSource { ds, .. } = app.db.twitter_source(user, "1001", &sandbox).await;
        sandbox.state.faults.lock().unwrap().slow_ms = 1500;
        let prefix = app.store.settings().prefix.clone();
        let mut env = sandbox.service_env(&app.db.url, &prefix, "http://127.0.0.1:1");
        env.push(("SYNC_BATCH_SIZE".into(), "46".into()));
        Self {
            app,
            sandbox,
            ds,
            env,
        }
    }

    /// A `lifesync worker` process on the sync queue.
    pub fn spawn_worker(&self) -> std::process::Child {
        lifesync_command(&["worker", "--queues", "sync"], &self.env)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }
}
