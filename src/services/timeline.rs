//! Keeping timelines current: a user's `BuildTimeline` job is queued when their items changed
//! since the timeline was built ([`request_build_if_needed`], at the end of a sync run), when a
//! source of theirs is disconnected ([`request_build`]), and by the sweep of every worker
//! ([`queue_stale`]) for the builds a crash or a dropped enqueue left out (a run's last page
//! committed, then the worker died before queueing; an enqueue joined a build that had already
//! read its changes). One build per user is queued or running (the job's unique key), so
//! asking twice is harmless.

use lifesync_jobs::{payloads::BuildTimeline, EnqueueOptions, Producer, QueueError};
use sqlx::PgPool;

use crate::db::timeline;

fn job(user_id: &str) -> BuildTimeline {
    BuildTimeline {
        version: BuildTimeline::VERSION,
        user_id: user_id.to_string(),
    }
}

/// Queues the user's build.
pub async fn request_build(producer: &Producer, user_id: &str) -> Result<(), QueueError> {
    producer.enqueue(&job(user_id)).await.map(|_| ())
}

/// Queues the user's build if their items changed since their timeline was built (or an
/// entry of theirs lost an item).
pub async fn request_build_if_needed(
    pool: &PgPool,
    producer: &Producer,
    user_id: &str,
) -> anyhow::Result<()> {
    if timeline::needs_build(pool, user_id).await? {
        request_build(producer, user_id).await?;
    }
    Ok(())
}

/// Queues the builds of up to `limit` users whose items changed since their timeline was
/// built; returns how many were offered.
pub async fn queue_stale(pool: &PgPool, producer: &Producer, limit: i64) -> anyhow::Result<usize> {
    let users = timeline::stale_users(pool, limit).await?;
    let jobs: Vec<BuildTimeline> = users.iter().map(|u| job(u)).collect();
    producer
        .enqueue_batch(&jobs, EnqueueOptions::default())
        .await?;
    Ok(jobs.len())
}
