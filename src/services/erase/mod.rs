//! Erasing a user (GDPR Art. 17): the request, and the steps the `EraseUser` job runs.
//!
//! **Request** ([`request_erase`], `DELETE /api/v1/users/me` and the admin route): first the
//! fence — every source of the user becomes `disconnected` in one statement, so no sync stores
//! anything for them from that commit on (the page transaction, the scheduler and manual syncs
//! all honour `disconnected`) — then the job is enqueued. One erase per user is queued or
//! running (its unique key); a second request joins it and gets its id. The job carries the
//! user id sealed with the token key: its record outlives the user by the queue's retention.
//!
//! **Job** (`workers::erase_user`), every step idempotent, so a re-delivery after a crash anywhere completes
//! the erase:
//! 1. revoke every source's tokens at its provider ([`revoke`]): refused or already-revoked
//!    tokens count as done; an unreachable provider fails the attempt (queue backoff) for the
//!    first [`REVOKE_ATTEMPTS`] attempts, after which the erase goes on without it and logs
//!    which provider kept a grant — a provider outage never holds an erase hostage;
//! 2. delete the user's Redis keys ([`redis_keys`]): OAuth states, completions, held and
//!    checkpointed exchanges, refresh locks, rate-limit buckets, and every job of theirs or of
//!    their sources in any state — queued, scheduled, retrying, dead, succeeded or running
//!    (a running sync is cut loose: it finds its source fenced and stores nothing, and its
//!    acknowledgement finds no record to write to). While an account connection of theirs is
//!    still being exchanged, the erase waits for it (deferral, no attempt spent) so that it
//!    cannot land after the erase;
//! 3. delete every row of theirs in PostgreSQL in one transaction (`db::users::delete_user`);
//! 4. purge the same keys once more (anything a sync still in flight wrote for one of their
//!    sources in between) and look for a connection that slipped in between 2 and 3; if one
//!    did, the job runs again.
//!
//! Webhooks: step 3 deletes the user's endpoints (with their deliveries and attempts) and
//! events; a delivery job still queued carries only its delivery's id, finds no row and ends.

pub mod redis_keys;
pub mod revoke;

use lifesync_jobs::{payloads::EraseUser, Producer, QueueError};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::{
    crypto::{TokenCipher, TokenKey},
    db::users,
};

/// Attempts during which an unreachable provider fails the attempt (retried with the queue's
/// backoff: 5 s, 10 s, 20 s by default); from the next one on, the erase proceeds without it.
pub const REVOKE_ATTEMPTS: u32 = 4;

/// A queued (or already queued) erase.
#[derive(Debug, Clone)]
pub struct EraseQueued {
    pub job_id: String,
    /// False: an erase of this user was already queued or running; this is its id.
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestEraseError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
}

/// SHA-256 of a user id, hex: the erase job's dedup key.
pub fn user_key(user_id: &str) -> String {
    Sha256::digest(user_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fences the user's sources and enqueues their erase (see the module docs). A user who has
/// nothing (or was erased before) still gets a job: it clears whatever Redis may hold.
pub async fn request_erase(
    pool: &PgPool,
    producer: &Producer,
    key: &TokenKey,
    user_id: &str,
) -> Result<EraseQueued, RequestEraseError> {
    let fenced = users::fence_for_erase(pool, user_id).await?;
    let job = EraseUser {
        version: EraseUser::VERSION,
        sealed_user_id: TokenCipher::new(key).seal_to_string(user_id),
        user_key: user_key(user_id),
    };
    let queued = producer.enqueue(&job).await?;
    tracing::info!(
        job_id = %queued.id,
        fenced_sources = fenced,
        joined = !queued.created,
        "user erase requested"
    );
    Ok(EraseQueued {
        job_id: queued.id,
        created: queued.created,
    })
}
