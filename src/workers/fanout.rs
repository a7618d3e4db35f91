//! `ScheduleFanout`: one scheduler tick → one sync per eligible data source, in bounded memory
//! and a few statements per thousand sources:
//!
//! * sources are read in keyset pages of [`PAGE`] ids by the primary key alone
//!   ([`data_sources::fanout_page`]); the daily (full) schedule takes every
//!   `active` source, the incremental schedule the **recent** ones: active sources whose last
//!   sync succeeded within [`RECENT`] (their cursor is fresh; the others get the daily full
//!   sync). `reauth_required` and `disconnected` sources are never taken, nor the sources of a
//!   provider app paused by its usage cap (`providers::pause`);
//! * per page: one `INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING` creates the queued runs
//!   (a source with a queued or running sync is skipped by the partial unique index), one
//!   batched enqueue (unique key `sync:<source>` per job), one `UPDATE … FROM unnest` records
//!   the job ids; the runs of the next page are created while earlier pages' jobs are
//!   enqueued (up to [`ENQUEUE_PAGES`] at once), so PostgreSQL, Redis and this process work
//!   side by side;
//! * load is spread: each job is delayed by a stable per-source offset within
//!   `fanout_spread`, so a provider sees the fleet's syncs over that window, not in one second
//!   (the per-app rate limiter caps what remains);
//! * a re-delivered fan-out (crash, retry) creates nothing twice: active runs are skipped, and
//!   runs a crashed attempt created without a job are picked up and enqueued — or, when that
//!   attempt had enqueued their job before crashing, given that job's id.

use std::time::Duration;

use apalis_core::task::data::Data;
use lifesync_jobs::{
    payloads::{ScheduleFanout, SyncDataSource, SyncMode, SyncTrigger},
    EnqueueOptions, JobError,
};
use uuid::Uuid;

use super::SharedDeps;
use crate::db::{data_sources, sync_runs};

/// Sources per keyset page.
pub const PAGE: i64 = 2000;
/// Pages whose jobs are being enqueued and recorded at once: one page's jobs are built while
/// another's script runs in Redis and a third's ids are written to PostgreSQL.
pub const ENQUEUE_PAGES: usize = 3;
/// How recent a successful sync makes a source eligible for the incremental schedule.
pub const RECENT: chrono::Duration = chrono::Duration::days(7);

pub async fn handle(job: ScheduleFanout, deps: Data<SharedDeps>) -> Result<(), JobError> {
    let totals = fan_out(&deps, &job).await.map_err(JobError::retryable)?;
    tracing::info!(
        schedule = %job.schedule, tick = job.tick_unix,
        enqueued = totals.enqueued, skipped = totals.skipped, "fan-out done"
    );
    Ok(())
}

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanoutTotals {
    pub enqueued: u64,
    /// Sources already queued or running.
    pub skipped: u64,
}

/// Runs one tick's fan-out.
pub async fn fan_out(deps: &SharedDeps, job: &ScheduleFanout) -> anyhow::Result<FanoutTotals> {
    let trigger = match job.schedule.as_str() {
        "daily" => SyncTrigger::Daily,
        _ => SyncTrigger::Incremental,
    };
    let recent_since = chrono::DateTime::from_timestamp(job.tick_unix, 0)
        .unwrap_or_else(chrono::Utc::now)
        - RECENT;
    let paused = paused_providers(deps).await;
    if !paused.is_empty() {
        tracing::info!(providers = ?paused, "paused providers skipped by the fan-out");
    }
    // Two stages over one bounded channel, so PostgreSQL and Redis work at once: `read` pages
    // the sources and creates their runs; `enqueue` enqueues the jobs of up to
    // [`ENQUEUE_PAGES`] pages at once and records their ids while `read` prepares the next
    // page. At most `ENQUEUE_PAGES` + 2 pages are in memory. A stage that fails stops the
    // other (the channel closes) and the error ends the fan-out.
    let (pages, ready) = tokio::sync::mpsc::channel::<(usize, Vec<(Uuid, Uuid, String)>)>(1);
    let paused = &paused;
    let read = async move {
        let mut after = None;
        loop {
            let recent = (job.mode == SyncMode::Incremental).then_some(recent_since);
            let page = data_sources::fanout_page(&deps.pool, recent, after, PAGE, paused).await?;
            let Some(last) = page.last else {
                return anyhow::Ok(());
            };
            after = Some(last);
            let ids = page.ids;
            if ids.is_empty() {
                continue;
            }
            let runs = sync_runs::insert_queued_batch(
                &deps.pool,
                &ids,
                job.mode.as_str(),
                trigger.as_str(),
            )
            .await?;
            if pages.send((ids.len(), runs)).await.is_err() {
                return Ok(()); // `enqueue` failed: its error ends the fan-out
            }
        }
    };
    let enqueue = async move {
        use futures_util::StreamExt;
        let mut done = tokio_stream::wrappers::ReceiverStream::new(ready)
            .map(|(sources, runs)| async move {
                let enqueued = enqueue_page(deps, trigger, &runs).await?;
                anyhow::Ok((sources as u64, enqueued))
            })
            .buffer_unordered(ENQUEUE_PAGES);
        let mut totals = FanoutTotals::default();
        while let Some(page) = done.next().await {
            let (sources, enqueued) = page?;
            totals.enqueued += enqueued;
            totals.skipped += sources - enqueued;
        }
        anyhow::Ok(totals)
    };
    let (read, totals) = tokio::join!(read, enqueue);
    let totals = totals?;
    read?;
    Ok(totals)
}

/// One page's jobs: enqueued (one batched call), their ids recorded on the runs, the runs that
/// got no job (their source's job still live in the queue, for another run) deleted. Returns
/// the runs given a job.
async fn enqueue_page(
    deps: &SharedDeps,
    trigger: SyncTrigger,
    runs: &[(Uuid, Uuid, String)],
) -> anyhow::Result<u64> {
    let jobs: Vec<(SyncDataSource, EnqueueOptions)> = runs
        .iter()
        .map(|(run, source, mode)| {
            let mode = if mode == "incremental" {
                SyncMode::Incremental
            } else {
                SyncMode::Full
            };
            let job = SyncDataSource {
                version: SyncDataSource::VERSION,
                data_source_id: *source,
                mode,
                trigger,
                sync_run_id: *run,
                page_cursor: None,
            };
            let opts = EnqueueOptions {
                delay: spread_delay(*source, deps.fanout_spread),
                ..EnqueueOptions::default()
            };
            (job, opts)
        })
        .collect();
    let enqueued = deps.producer.enqueue_batch_each(&jobs).await?;
    let (mut with_job, mut job_ids, mut orphans) = (Vec::new(), Vec::new(), Vec::new());
    for ((run, _, _), e) in runs.iter().zip(&enqueued) {
        if e.created || live_job_runs(deps, &e.id, *run).await? {
            with_job.push(*run);
            job_ids.push(e.id.clone());
        } else {
            orphans.push(*run);
        }
    }
    sync_runs::set_job_ids(&deps.pool, &with_job, &job_ids).await?;
    sync_runs::delete_many(&deps.pool, &orphans).await?;
    Ok(with_job.len() as u64)
}

/// Whether the live job `id` that kept a run from getting a job of its own is that run's
/// job after all: an earlier attempt enqueued it and crashed before recording its id. Such a
/// run is kept (and gets the id), not deleted under the job that will run it.
async fn live_job_runs(deps: &SharedDeps, id: &str, run: Uuid) -> anyhow::Result<bool> {
    let Some(job) = deps.producer.store().job(id).await? else {
        return Ok(false);
    };
    Ok(serde_json::from_str::<SyncDataSource>(&job.payload)
        .is_ok_and(|live| live.sync_run_id == run))
}

/// Providers whose app is paused now (a Redis error pauses nothing: the sync worker checks
/// again).
async fn paused_providers(deps: &SharedDeps) -> Vec<String> {
    let pauses = deps.pauses();
    let mut out = Vec::new();
    for p in deps.apps.configured() {
        let Some(app) = deps.apps.get(p) else {
            continue;
        };
        if let Ok(Some(_)) = pauses.paused_until(p, &app.client_id).await {
            out.push(p.as_str().to_string());
        }
    }
    out
}

/// A stable offset in `[0, spread)` for a source, so its syncs land at the same point of
/// every window and the fleet's load is even across it.
fn spread_delay(source: Uuid, spread: Duration) -> Duration {
    let ms = spread.as_millis() as u64;
    if ms == 0 {
        return Duration::ZERO;
    }
    let h = source.as_u64_pair().0 ^ source.as_u64_pair().1;
    Duration::from_millis(h % ms)
}
