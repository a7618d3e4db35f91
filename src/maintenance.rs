//! Background upkeep that runs in every worker process (idempotent, so several may run it):
//! ending sync runs that have made no progress for the run deadline
//! (`SYNC_RUN_DEADLINE_SECONDS`), so a lost job can never block its data source for good; and
//! ending, within a minute, runs whose job died without ending them (its lease lost on the
//! last attempt, a timeout, a panic), with the job's last error; and queueing the timeline
//! builds that a crash between a run's end and its enqueue left out.

use std::time::Duration;

use sqlx::PgPool;

/// Sweeps stuck runs every `every` until dropped.
pub async fn sweep_stuck_runs(pool: PgPool, deadline: Duration, every: Duration) {
    loop {
        match crate::db::sync_runs::fail_stuck(&pool, deadline).await {
            Ok(ended) if !ended.is_empty() => {
                for (run, source) in &ended {
                    tracing::warn!(sync_run_id = %run, data_source_id = %source,
                                   "sync run ended by the deadline");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "stuck-run sweep failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Users offered per sweep of [`sweep_stale_timelines`].
const STALE_TIMELINE_BATCH: i64 = 1000;

/// Every `every`, queues the timeline builds that a crash or a dropped enqueue left out
/// (`services::timeline::queue_stale`), until dropped.
pub async fn sweep_stale_timelines(
    pool: PgPool,
    producer: lifesync_jobs::Producer,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) =
            crate::services::timeline::queue_stale(&pool, &producer, STALE_TIMELINE_BATCH).await
        {
            tracing::warn!(error = %e, "stale-timeline sweep failed");
        }
    }
}

/// Runs checked per sweep of [`sweep_dead_job_runs`] (oldest first).
const DEAD_JOB_BATCH: i64 = 500;

/// Every `every`, ends the live runs untouched for `every` whose job is dead in the queue, until
/// dropped. One statement and one Redis pipeline per sweep.
pub async fn sweep_dead_job_runs(pool: PgPool, store: lifesync_jobs::Store, every: Duration) {
    loop {
        if let Err(e) = end_dead_job_runs(&pool, &store, every).await {
            tracing::warn!(error = %e, "dead-job run sweep failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// One sweep of [`sweep_dead_job_runs`]: the runs ended.
pub async fn end_dead_job_runs(
    pool: &PgPool,
    store: &lifesync_jobs::Store,
    idle: Duration,
) -> anyhow::Result<Vec<(uuid::Uuid, uuid::Uuid)>> {
    let candidates = crate::db::sync_runs::idle_with_jobs(pool, idle, DEAD_JOB_BATCH).await?;
    let jobs: Vec<String> = candidates.iter().map(|(_, j)| j.clone()).collect();
    let states = store.job_states(&jobs).await?;
    let dead: Vec<(uuid::Uuid, String)> = candidates
        .iter()
        .zip(states)
        .filter_map(|((run, _), st)| match st {
            Some((state, error)) if state == "dead" => Some((
                *run,
                format!(
                    "the sync job died: {}",
                    error.unwrap_or_else(|| "no error recorded".into())
                ),
            )),
            _ => None,
        })
        .collect();
    if dead.is_empty() {
        return Ok(Vec::new());
    }
    let ended = crate::db::sync_runs::fail_runs(pool, &dead).await?;
    for (run, source) in &ended {
        tracing::warn!(sync_run_id = %run, data_source_id = %source,
                       "sync run ended: its job died");
    }
    Ok(ended)
}
