//! The three long-running processes, each built from `&Config` and run until `shutdown`:
//! `web` (the API, with its gauges), `worker` (the job handlers of the requested queues, with
//! the queue-depth gauge and the run sweepers) and `scheduler` (the cron table, after catching
//! up a missed tick).

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use lifesync_jobs::{payloads::queues, runner::Handles};

use super::{api_state, connect_postgres, connect_postgres_waiting, connect_redis, provider_apps};
use crate::{config::Config, maintenance, scheduler, services::gauges, workers};

/// How often the gauges read their stores.
const GAUGE_PERIOD: Duration = Duration::from_secs(15);
const DEPTH_PERIOD: Duration = Duration::from_secs(5);
const SWEEP_PERIOD: Duration = Duration::from_secs(60);
/// The webhook dispatcher's sweep (it also wakes on every committed event).
const WEBHOOK_SWEEP_PERIOD: Duration = Duration::from_secs(5);
/// Webhook attempts and events are kept this long.
const WEBHOOK_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Serves `/metrics` on `METRICS_ADDR`, when set, for the rest of the process.
pub fn spawn_metrics_server(config: &Config, process: &'static str) {
    if let Some(addr) = config.metrics_addr.clone() {
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(&addr, std::future::pending()).await {
                tracing::error!("{process}: metrics on {addr}: {e}");
            }
        });
    }
}

/// The API on `HOST:PORT` until `shutdown`; `on_bound` hears the bound address.
pub async fn run_web(
    config: &Config,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    config.require_web()?;
    let pool = connect_postgres(config, "web", 10).await?;
    let store = connect_redis(config, "web").await?;
    tokio::spawn(gauges::report_data_sources(pool.clone(), GAUGE_PERIOD));
    tokio::spawn(gauges::report_webhooks(pool.clone(), GAUGE_PERIOD));
    tokio::spawn(lifesync_jobs::metrics::report_depth(
        store.clone(),
        queues::ALL.map(String::from).to_vec(),
        DEPTH_PERIOD,
    ));
    let state = api_state(config, pool, store, provider_apps(config)?)?;
    tokio::spawn(gauges::report_oauth_states(
        state.states.clone(),
        GAUGE_PERIOD,
    ));
    let addr = format!("{}:{}", config.host, config.port);
    crate::api::serve(&addr, state, on_bound, shutdown)
        .await
        .with_context(|| format!("web: cannot serve on {addr}"))
}

/// Which queues a worker runs, how many jobs at once, and how long a stop waits for them.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Queue names; empty: every queue.
    pub queues: Vec<String>,
    /// Jobs run at once per queue (the fan-out queue always runs one).
    pub concurrency: usize,
    /// How long a stop waits for running jobs before handing them back.
    pub shutdown_timeout: Duration,
}

impl WorkerOptions {
    /// The named queues (all if none), checked against the known ones.
    fn checked_queues(&self) -> anyhow::Result<Vec<String>> {
        if self.queues.is_empty() {
            return Ok(queues::ALL.map(String::from).to_vec());
        }
        if let Some(q) = self
            .queues
            .iter()
            .find(|q| !queues::ALL.contains(&q.as_str()))
        {
            anyhow::bail!("worker: unknown queue {q:?} (known: {:?})", queues::ALL);
        }
        Ok(self.queues.clone())
    }
}

/// The job handlers of `options.queues` until `shutdown`: running jobs finish within
/// `options.shutdown_timeout` or are handed back to their queues.
pub async fn run_worker(
    config: &Config,
    options: &WorkerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.require_token_key()?;
    let queues = options.checked_queues()?;
    spawn_metrics_server(config, "worker");
    let pool = connect_postgres_waiting(config, "worker", options.concurrency as u32 + 2).await?;
    let store = connect_redis(config, "worker").await?;
    let deps = super::worker_deps(config, pool.clone(), &store, provider_apps(config)?)?;
    tokio::spawn(lifesync_jobs::metrics::report_depth(
        store.clone(),
        queues.clone(),
        DEPTH_PERIOD,
    ));
    tokio::spawn(maintenance::sweep_stuck_runs(
        pool.clone(),
        config.run_deadline,
        SWEEP_PERIOD,
    ));
    tokio::spawn(maintenance::sweep_dead_job_runs(
        pool.clone(),
        store.clone(),
        SWEEP_PERIOD,
    ));
    tokio::spawn(maintenance::sweep_stale_timelines(
        pool.clone(),
        lifesync_jobs::Producer::new(store.clone()),
        SWEEP_PERIOD,
    ));
    tokio::spawn(crate::services::webhooks::run_dispatcher(
        pool,
        lifesync_jobs::Producer::new(store.clone()),
        WEBHOOK_SWEEP_PERIOD,
        WEBHOOK_RETENTION,
    ));
    let handles = Handles::default();
    let monitor = workers::register(&store, deps, &queues, options.concurrency, &handles);
    tracing::info!("worker: running {}", queues.join(", "));
    lifesync_jobs::runner::run_until(
        monitor,
        handles,
        async move {
            shutdown.await;
            Ok(())
        },
        options.shutdown_timeout,
    )
    .await
    .map_err(|e| anyhow::anyhow!("worker: {e}"))
}

/// Whether a starting scheduler enqueues the last tick of each schedule that no scheduler
/// enqueued (production: yes; `dev`, whose data is new: no).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    Yes,
    No,
}

/// The cron table as durable fan-out jobs until `shutdown`, after catching up missed ticks
/// as `catch_up` says.
pub async fn run_scheduler(
    config: &Config,
    catch_up: CatchUp,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    spawn_metrics_server(config, "scheduler");
    let store = connect_redis(config, "scheduler").await?;
    let table = scheduler::table(config);
    let caught = match catch_up {
        CatchUp::Yes => scheduler::catch_up(&store, &table, chrono::Utc::now())
            .await
            .map_err(|e| anyhow::anyhow!("scheduler: catch-up: {e}"))?,
        CatchUp::No => Vec::new(),
    };
    for job in caught {
        tracing::info!(
            "scheduler: caught up the missed {} tick of {}",
            job.schedule,
            job.tick_unix
        );
    }
    let monitor = scheduler::monitor(store, table);
    tracing::info!(
        "scheduler: daily {:?}, incremental {:?} (UTC)",
        config.daily_schedule.expression,
        config.incremental_schedule.expression
    );
    monitor
        .shutdown_timeout(Duration::from_secs(10))
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("scheduler: {e}"))
}
