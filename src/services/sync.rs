//! Starting a sync: at most one queued or running sync per data source, whatever the trigger.
//! PostgreSQL's `sync_runs_one_active` index is the arbiter; the job's unique key
//! `sync:<data_source_id>` makes the queue agree.

use lifesync_jobs::{
    payloads::{SyncDataSource, SyncMode, SyncTrigger},
    Producer, QueueError,
};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

use crate::db::sync_runs::{self, Inserted};

/// How long a request waits for the previous run's job to leave the queue when its run has
/// ended (the job's unique key is released by its acknowledgement, just after).
const PREVIOUS_JOB_GRACE: Duration = Duration::from_secs(1);

/// A sync that was queued.
#[derive(Debug, Clone)]
pub struct Started {
    pub sync_run_id: Uuid,
    pub job_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestSyncError {
    #[error("a sync of this data source is already queued or running")]
    InProgress { sync_run_id: Option<Uuid> },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
}

/// Records a queued run and enqueues its job. The caller has checked that the data source
/// exists and may be synced by whoever asked.
pub async fn request_sync(
    pool: &PgPool,
    producer: &Producer,
    data_source_id: Uuid,
    mode: SyncMode,
    trigger: SyncTrigger,
) -> Result<Started, RequestSyncError> {
    let run_id =
        match sync_runs::insert_queued(pool, data_source_id, mode.as_str(), trigger.as_str())
            .await?
        {
            Inserted::Created(id) => id,
            Inserted::AlreadyActive(id) => {
                return Err(RequestSyncError::InProgress {
                    sync_run_id: Some(id),
                })
            }
        };
    let job = SyncDataSource {
        version: SyncDataSource::VERSION,
        data_source_id,
        mode,
        trigger,
        sync_run_id: run_id,
        page_cursor: None,
    };
    let asked = Instant::now();
    let enqueued = loop {
        let enqueued = match producer.enqueue(&job).await {
            Ok(e) => e,
            Err(e) => {
                // Nothing will run it: the run must not block the source.
                sync_runs::delete(pool, run_id).await?;
                return Err(e.into());
            }
        };
        // A run is recorded as ended a moment before its job is acknowledged: a request right
        // after the end waits for the key rather than being refused.
        if enqueued.created || asked.elapsed() >= PREVIOUS_JOB_GRACE {
            break enqueued;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    if !enqueued.created {
        // A job for this source is still live in the queue (its run ended early): let it be.
        sync_runs::delete(pool, run_id).await?;
        return Err(RequestSyncError::InProgress { sync_run_id: None });
    }
    sync_runs::set_job_id(pool, run_id, &enqueued.id).await?;
    Ok(Started {
        sync_run_id: run_id,
        job_id: enqueued.id,
    })
}
