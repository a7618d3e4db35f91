//! `ScheduleFanout`: one scheduler tick → one sync per active data source, through the same
//! `request_sync` as the API, so a source already queued or running is skipped and a
//! re-delivered fan-out enqueues nothing twice. Sources are read in keyset pages of 500.
//!
//! Both schedules cover every active source today; issue #7 narrows the incremental one to
//! recently active sources, adds pacing and batched enqueue.

use apalis_core::task::data::Data;
use lifesync_jobs::{
    payloads::{ScheduleFanout, SyncTrigger},
    JobError,
};

use super::SharedDeps;
use crate::{
    db::data_sources,
    services::sync::{request_sync, RequestSyncError},
};

pub async fn handle(job: ScheduleFanout, deps: Data<SharedDeps>) -> Result<(), JobError> {
    let trigger = match job.schedule.as_str() {
        "daily" => SyncTrigger::Daily,
        _ => SyncTrigger::Incremental,
    };
    let (mut after, mut enqueued, mut skipped) = (None, 0u64, 0u64);
    loop {
        let ids = data_sources::active_ids_after(&deps.pool, after, 500)
            .await
            .map_err(JobError::retryable)?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        for id in ids {
            match request_sync(&deps.pool, &deps.producer, id, job.mode, trigger).await {
                Ok(_) => enqueued += 1,
                Err(RequestSyncError::InProgress { .. }) => skipped += 1,
                Err(e) => return Err(JobError::retryable(e)),
            }
        }
        after = Some(last);
    }
    tracing::info!(schedule = %job.schedule, tick = job.tick_unix, enqueued, skipped, "fan-out done");
    Ok(())
}
