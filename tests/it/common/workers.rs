//! In-process workers: the one place tests build the workers' `Deps`, and runners for chosen
//! queues that stop on request.

use super::*;
use lifesync_jobs::Store;
use sqlx::PgPool;

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
    let deps = worker_deps(
        pool,
        store,
        sandbox_apps(twitter_base.trim_end_matches("/twitter")),
        batch_size,
    );
    run_workers(store, deps, queues, 4)
}

/// The workers' dependencies as tests build them (the one place they do), through the
/// library's bootstrap from a configuration: this test's database and queue prefix, the test
/// token key, `apps`, `batch_size`, no fan-out spread and the 72-hour duplicate window;
/// webhooks may call loopback receivers that serve the test CA's certificate.
pub fn worker_deps(
    pool: &PgPool,
    store: &Store,
    apps: std::sync::Arc<lifesync::oauth::apps::ProviderApps>,
    batch_size: u32,
) -> lifesync::workers::SharedDeps {
    let vars = [
        ("TOKEN_ENCRYPTION_KEY", TOKEN_KEY_B64.to_string()),
        ("REDIS_KEY_PREFIX", store.settings().prefix.clone()),
        ("SYNC_BATCH_SIZE", batch_size.to_string()),
        ("SYNC_FANOUT_SPREAD_SECONDS", "0".to_string()),
        ("SYNC_DUPLICATE_WINDOW_HOURS", "72".to_string()),
        // Webhook receivers of tests listen on 127.0.0.1 with the test CA's certificate.
        ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true".to_string()),
        ("SSL_CERT_FILE", sandbox_ca_file()),
    ];
    let config = lifesync::config::Config::from_env(&|k: &str| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .expect("the test configuration is valid");
    lifesync::bootstrap::worker_deps(&config, pool.clone(), store, apps)
        .expect("the test configuration has a token key")
}

/// Runs in-process workers for `queues` (`concurrency` each) until the returned sender fires
/// or drops; the task ends once they stopped: every job they ran finished or handed back
/// within a 5 s grace, and every acknowledgement written.
pub fn run_workers(
    store: &Store,
    deps: lifesync::workers::SharedDeps,
    queues: &[&str],
    concurrency: usize,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let handles = lifesync_jobs::runner::Handles::default();
    let queues: Vec<String> = queues.iter().map(|q| q.to_string()).collect();
    let monitor = lifesync::workers::register(store, deps, &queues, concurrency, &handles);
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
