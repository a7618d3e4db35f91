//! Operator actions: syncs for chosen users, and re-driving dead jobs so they do what they
//! were meant to (a dead sync job's run is re-opened and resumes at its last stored page).

use lifesync_jobs::{
    payloads::{queues, SyncDataSource, SyncMode, SyncTrigger},
    Store,
};
use sqlx::PgPool;

use super::sync::{request_sync, RequestSyncError};
use crate::db::{data_sources, sync_runs};

/// Queues a sync (trigger `admin`) for every active source of these users (of one provider
/// if given); sources already syncing are skipped. Returns how many jobs were enqueued.
pub async fn sync_users(
    pool: &PgPool,
    producer: &lifesync_jobs::Producer,
    user_ids: &[String],
    provider: Option<&str>,
    mode: SyncMode,
) -> Result<u64, RequestSyncError> {
    let mut enqueued = 0;
    for id in data_sources::active_ids_of_users(pool, user_ids, provider).await? {
        match request_sync(pool, producer, id, mode, SyncTrigger::Admin).await {
            Ok(_) => enqueued += 1,
            Err(RequestSyncError::InProgress { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(enqueued)
}

/// Why a dead job was not re-driven.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no such job")]
    NotFound,
    #[error("the job is {0}, not dead")]
    NotDead(String),
    #[error("another sync of this data source is queued or running")]
    SourceBusy,
    #[error(transparent)]
    Queue(#[from] lifesync_jobs::QueueError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Moves a dead job back to its queue with a fresh attempt budget.
pub async fn retry_dead_job(store: &Store, pool: &PgPool, id: &str) -> Result<(), RetryError> {
    let job = store.job(id).await?.ok_or(RetryError::NotFound)?;
    if job.state != "dead" {
        return Err(RetryError::NotDead(job.state));
    }
    if job.queue == queues::SYNC {
        if let Ok(p) = serde_json::from_str::<SyncDataSource>(&job.payload) {
            let status = sync_runs::status(pool, p.sync_run_id).await?;
            if status.as_deref() == Some("failed")
                && !sync_runs::reopen(pool, p.sync_run_id).await?
            {
                return Err(RetryError::SourceBusy);
            }
        }
    }
    if store.redrive(&job.queue, id).await? {
        Ok(())
    } else {
        Err(RetryError::NotDead("no longer dead".into()))
    }
}
