//! Queries on `sync_runs`. A run is `queued`, `running`, then `succeeded`, `failed` or
//! `cancelled` (its source was disconnected or deleted while it was live).

use super::pinned::pinned;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// One sync run as the history shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncRunRow {
    pub id: Uuid,
    pub mode: String,
    pub trigger: String,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub items_fetched: i32,
    pub items_new: i32,
    pub items_updated: i32,
    pub items_duplicate: i32,
    pub error: Option<String>,
}

/// Inserting a queued run: created, or refused because one is already queued or running.
pub enum Inserted {
    Created(Uuid),
    AlreadyActive(Uuid),
}

/// Inserts a queued run unless the source has an active one (the partial unique index
/// `sync_runs_one_active` decides, so concurrent requests cannot both win).
pub async fn insert_queued(
    pool: &PgPool,
    data_source_id: Uuid,
    mode: &str,
    trigger: &str,
) -> sqlx::Result<Inserted> {
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO sync_runs (id, data_source_id, mode, trigger, status)
         VALUES ($1, $2, $3, $4, 'queued')
         ON CONFLICT (data_source_id) WHERE status IN ('queued', 'running') DO NOTHING",
    )
    .bind(id)
    .bind(data_source_id)
    .bind(mode)
    .bind(trigger)
    .execute(pinned(pool))
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Inserted::Created(id));
    }
    let active: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM sync_runs WHERE data_source_id = $1 AND status IN ('queued', 'running')",
    )
    .bind(data_source_id)
    .fetch_optional(pinned(pool))
    .await?;
    match active {
        Some(a) => Ok(Inserted::AlreadyActive(a)),
        // The active run finished in between: try once more.
        None => Box::pin(insert_queued(pool, data_source_id, mode, trigger)).await,
    }
}

pub async fn set_job_id(pool: &PgPool, run_id: Uuid, job_id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE sync_runs SET job_id = $2 WHERE id = $1")
        .bind(run_id)
        .bind(job_id)
        .execute(pinned(pool))
        .await?;
    Ok(())
}

pub async fn delete(pool: &PgPool, run_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sync_runs WHERE id = $1")
        .bind(run_id)
        .execute(pinned(pool))
        .await?;
    Ok(())
}

/// The newest runs of a data source (at most `limit`).
pub async fn history(
    pool: &PgPool,
    data_source_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<SyncRunRow>> {
    sqlx::query_as(
        "SELECT id, mode, trigger, status, started_at, finished_at, items_fetched, items_new,
                items_updated, items_duplicate, error
           FROM sync_runs WHERE data_source_id = $1
          ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(data_source_id)
    .bind(limit)
    .fetch_all(pinned(pool))
    .await
}

/// A run as its worker sees it when it (re)starts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunProgress {
    pub status: String,
    pub page_cursor: Option<String>,
    /// The provider's content version read at the run's start ([`set_start_version`]).
    pub start_version: Option<String>,
}

/// Marks a queued (or re-delivered running) run as running and returns where to resume. None:
/// the run already ended (a duplicate delivery) or does not exist. The first start also keeps
/// the user's last change number (`changes_from`): the run's `items.changed` webhook points
/// the changes feed there.
pub async fn start(pool: &PgPool, run_id: Uuid) -> sqlx::Result<Option<RunProgress>> {
    sqlx::query_as(
        "UPDATE sync_runs r SET status = 'running', started_at = COALESCE(started_at, now()),
                updated_at = now(),
                changes_from = COALESCE(changes_from,
                    (SELECT COALESCE(max(c.seq), 0) FROM data_sources d
                       LEFT JOIN item_change_counters c ON c.user_id = d.user_id
                      WHERE d.id = r.data_source_id))
          WHERE id = $1 AND status IN ('queued', 'running')
          RETURNING status, page_cursor, start_version",
    )
    .bind(run_id)
    .fetch_optional(pinned(pool))
    .await
}

/// Keeps the provider's content version read at the run's start with the run, for its end.
pub async fn set_start_version(pool: &PgPool, run_id: Uuid, version: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE sync_runs SET start_version = $2, updated_at = now() WHERE id = $1")
        .bind(run_id)
        .bind(version)
        .execute(pinned(pool))
        .await
        .map(|_| ())
}

/// Fan-out: queued runs for these sources, skipping any with an active run (the partial unique
/// index), plus earlier queued runs of these sources that never got a job: a fan-out of the
/// same schedule, or a request more than a minute ago, that died between its insert and its
/// enqueue (a request younger than that may still be about to enqueue). Returns
/// (run id, source id, mode) of every run that needs a job.
pub async fn insert_queued_batch(
    pool: &PgPool,
    sources: &[Uuid],
    mode: &str,
    trigger: &str,
) -> sqlx::Result<Vec<(Uuid, Uuid, String)>> {
    sqlx::query_as(
        "WITH created AS (
             INSERT INTO sync_runs (id, data_source_id, mode, trigger)
             SELECT gen_random_uuid(), s, $2, $3 FROM unnest($1::uuid[]) AS s
             ON CONFLICT (data_source_id) WHERE status IN ('queued', 'running') DO NOTHING
             RETURNING id, data_source_id, mode)
         SELECT id, data_source_id, mode FROM created
         UNION ALL
         SELECT id, data_source_id, mode FROM sync_runs
          WHERE data_source_id = ANY($1) AND status = 'queued' AND job_id IS NULL
            AND (trigger = $3 OR created_at < now() - interval '1 minute')",
    )
    .bind(sources)
    .bind(mode)
    .bind(trigger)
    .fetch_all(pinned(pool))
    .await
}

/// Records the job of each run (fan-out), in one statement.
pub async fn set_job_ids(pool: &PgPool, runs: &[Uuid], jobs: &[String]) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sync_runs SET job_id = x.job
           FROM unnest($1::uuid[], $2::text[]) AS x(run, job)
          WHERE sync_runs.id = x.run",
    )
    .bind(runs)
    .bind(jobs)
    .execute(pinned(pool))
    .await?;
    Ok(())
}

/// Deletes runs that got no job (their source's job was still live in the queue).
pub async fn delete_many(pool: &PgPool, runs: &[Uuid]) -> sqlx::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM sync_runs WHERE id = ANY($1) AND status = 'queued'")
        .bind(runs)
        .execute(pinned(pool))
        .await?;
    Ok(())
}

/// Ends every queued or running run without progress for `deadline` as failed and records it on
/// its source; returns the runs ended. Their sources are free for the next sync at once (a job
/// still holding one of them ends without effect when it runs: its run is over).
pub async fn fail_stuck(
    pool: &PgPool,
    deadline: std::time::Duration,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let secs = deadline.as_secs_f64();
    let message = format!(
        "no progress for {}s: stopped by the run deadline",
        deadline.as_secs()
    );
    sqlx::query_as(
        "WITH stuck AS (
             UPDATE sync_runs SET status = 'failed', error = $2, finished_at = now(),
                    updated_at = now()
              WHERE status IN ('queued', 'running')
                AND updated_at < now() - make_interval(secs => $1)
             RETURNING id, data_source_id),
         sources AS (
             UPDATE data_sources SET last_sync_at = now(), last_sync_status = 'failed',
                    last_sync_error = $2, updated_at = now()
              WHERE id IN (SELECT data_source_id FROM stuck) AND status <> 'disconnected')
         SELECT id, data_source_id FROM stuck",
    )
    .bind(secs)
    .bind(message)
    .fetch_all(pinned(pool))
    .await
}

/// Re-opens a failed run for a re-driven job (it resumes from its last stored page). False when
/// the run is not failed, or another run of its source is active (the partial unique index).
pub async fn reopen(pool: &PgPool, run_id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sync_runs SET status = 'queued', error = NULL, finished_at = NULL,
                updated_at = now()
          WHERE id = $1 AND status = 'failed'
            AND NOT EXISTS (SELECT 1 FROM sync_runs o
                             WHERE o.data_source_id = sync_runs.data_source_id
                               AND o.status IN ('queued', 'running'))",
    )
    .bind(run_id)
    .execute(pinned(pool))
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds one stored page to the run's counters and moves its resume point, in the page's
/// transaction. False when the run is no longer running (ended elsewhere: its source was
/// disconnected, or the deadline swept it): the caller rolls the page back.
pub async fn record_page(
    tx: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    fetched: i32,
    counts: crate::db::items::PageCounts,
    next_cursor: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sync_runs SET items_fetched = items_fetched + $2, items_new = items_new + $3,
                items_updated = items_updated + $4, items_duplicate = items_duplicate + $5,
                page_cursor = $6, updated_at = now()
          WHERE id = $1 AND status = 'running'",
    )
    .bind(run_id)
    .bind(fetched)
    .bind(counts.new)
    .bind(counts.updated)
    .bind(counts.duplicate)
    .bind(next_cursor)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a run as succeeded or failed (idempotent: only a live run changes). False: the run had
/// already ended.
pub async fn finish(
    tx: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    succeeded: bool,
    error: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sync_runs SET status = $2, error = $3, finished_at = now()
          WHERE id = $1 AND status IN ('queued', 'running')",
    )
    .bind(run_id)
    .bind(if succeeded { "succeeded" } else { "failed" })
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a live run `cancelled` (its source was disconnected or deleted while it ran). False:
/// the run had already ended (the disconnect itself cancels the live run) or is gone.
pub async fn cancel(pool: &PgPool, run_id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sync_runs SET status = 'cancelled', error = $2, finished_at = now(),
                updated_at = now()
          WHERE id = $1 AND status IN ('queued', 'running')",
    )
    .bind(run_id)
    .bind(reason)
    .execute(pinned(pool))
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The run's job is deferred for up to `wait` (a throttle): the run deadline counts from its
/// next turn, so waiting for a provider is never taken for being stuck.
pub async fn waiting(pool: &PgPool, run_id: Uuid, wait: std::time::Duration) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sync_runs SET updated_at = GREATEST(updated_at, now() + make_interval(secs => $2))
          WHERE id = $1 AND status IN ('queued', 'running')",
    )
    .bind(run_id)
    .bind(wait.as_secs_f64())
    .execute(pinned(pool))
    .await?;
    Ok(())
}

/// Live (queued or running) runs with a job, untouched for `idle`: (run, job id), oldest first,
/// at most `limit`. Candidates for `maintenance::end_dead_job_runs`.
pub async fn idle_with_jobs(
    pool: &PgPool,
    idle: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, String)>> {
    sqlx::query_as(
        "SELECT id, job_id FROM sync_runs
          WHERE status IN ('queued', 'running') AND job_id IS NOT NULL
            AND updated_at < now() - make_interval(secs => $1)
          ORDER BY updated_at LIMIT $2",
    )
    .bind(idle.as_secs_f64())
    .bind(limit)
    .fetch_all(pinned(pool))
    .await
}

/// Ends live runs whose job died without ending them (a lease lost on its last attempt, a
/// timeout, a panic): `failed` with `error`, recorded on their sources. Returns the runs ended.
pub async fn fail_runs(pool: &PgPool, ended: &[(Uuid, String)]) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let (ids, errors): (Vec<Uuid>, Vec<String>) = ended.iter().cloned().unzip();
    sqlx::query_as(
        "WITH dead AS (
             UPDATE sync_runs r SET status = 'failed', error = x.error, finished_at = now(),
                    updated_at = now()
               FROM unnest($1::uuid[], $2::text[]) AS x(id, error)
              WHERE r.id = x.id AND r.status IN ('queued', 'running')
             RETURNING r.id, r.data_source_id, r.error),
         sources AS (
             UPDATE data_sources d SET last_sync_at = now(), last_sync_status = 'failed',
                    last_sync_error = dead.error, updated_at = now()
               FROM dead WHERE d.id = dead.data_source_id AND d.status <> 'disconnected')
         SELECT id, data_source_id FROM dead",
    )
    .bind(&ids)
    .bind(&errors)
    .fetch_all(pinned(pool))
    .await
}

/// A run as `lifesync dev`'s progress lines show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveRun {
    pub id: Uuid,
    pub provider: String,
    pub account_name: Option<String>,
    pub status: String,
    pub items_fetched: i32,
    pub items_new: i32,
}

/// Runs running now or finished in the last `recent`.
pub async fn live(pool: &PgPool, recent: std::time::Duration) -> sqlx::Result<Vec<LiveRun>> {
    sqlx::query_as(
        "SELECT r.id, ds.provider, ds.account_name, r.status, r.items_fetched, r.items_new
           FROM sync_runs r JOIN data_sources ds ON ds.id = r.data_source_id
          WHERE r.status = 'running'
             OR r.finished_at > now() - make_interval(secs => $1)",
    )
    .bind(recent.as_secs_f64())
    .fetch_all(pinned(pool))
    .await
}

/// A run's status and items fetched so far (None: no such run).
pub async fn status_and_fetched(
    pool: &PgPool,
    run_id: Uuid,
) -> sqlx::Result<Option<(String, i32)>> {
    sqlx::query_as("SELECT status, items_fetched FROM sync_runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(pinned(pool))
        .await
}

/// A run's status (None: no such run).
pub async fn status(pool: &PgPool, run_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT status FROM sync_runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(pinned(pool))
        .await
}
