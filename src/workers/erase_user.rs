//! `EraseUser`: erase a user — revoke, delete their Redis keys, delete their rows — in the
//! order and with the rules of `services::erase` (its module docs are the specification).
//! Every step is idempotent, so a re-delivery after a crash anywhere finishes the erase.

use std::time::Duration;

use apalis_core::task::data::Data;
use lifesync_jobs::{payloads::EraseUser, JobError, JobLease};
use tracing::{info, warn};

use super::SharedDeps;
use crate::{
    crypto::TokenCipher,
    db::users,
    services::erase::{
        redis_keys,
        revoke::{self, Outcome},
        user_key, REVOKE_ATTEMPTS,
    },
};

/// How long the erase waits for a connection of the user that is being exchanged.
const CONNECT_WAIT: Duration = Duration::from_secs(2);

/// The job handler.
pub async fn handle(
    job: EraseUser,
    deps: Data<SharedDeps>,
    lease: Data<JobLease>,
) -> Result<(), JobError> {
    let user_id = TokenCipher::new(&deps.token_key)
        .open_string(&job.sealed_user_id)
        .ok()
        .filter(|u| user_key(u) == job.user_key)
        .ok_or_else(|| JobError::permanent("the user id does not open with any configured key"))?;
    let span = tracing::info_span!("erase_user", job_id = %lease.id, attempt = lease.attempt);
    tracing::Instrument::instrument(erase(&deps, &user_id, &lease), span).await
}

async fn erase(deps: &SharedDeps, user_id: &str, lease: &JobLease) -> Result<(), JobError> {
    // 1. Revoke at the providers.
    let sources = users::sources_to_revoke(&deps.pool, user_id)
        .await
        .map_err(|e| JobError::retryable(format!("database: {e}")))?;
    let mut outcomes = Vec::with_capacity(sources.len());
    for s in &sources {
        outcomes.push(revoke::revoke_source(&deps.apps, &deps.token_key, s).await);
    }
    let unreachable: Vec<&str> = sources
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Unreachable(_)))
        .map(|(s, _)| s.provider.as_str())
        .collect();
    if !unreachable.is_empty() && lease.attempt < REVOKE_ATTEMPTS {
        return Err(JobError::retryable(format!(
            "revocation unreachable at {}",
            unreachable.join(", ")
        )));
    }
    for (s, o) in sources.iter().zip(&outcomes) {
        crate::metrics::erase_revocation(&s.provider, o.label());
        match o {
            Outcome::Unreachable(e) => warn!(
                data_source_id = %s.id, provider = %s.provider, error = %e,
                "gave up revoking after {REVOKE_ATTEMPTS} attempts; erasing anyway (the grant may \
                 live on at the provider until it expires or the user removes the app)"
            ),
            Outcome::Refused(e) => info!(
                data_source_id = %s.id, provider = %s.provider, error = %e,
                "the provider refused the revocation (already revoked or expired)"
            ),
            _ => {}
        }
    }

    // 2. Redis: everything of theirs, unless a connection is being exchanged.
    let store = deps.producer.store();
    let purged = redis_keys::purge(store, &deps.states, user_id, &sources)
        .await
        .map_err(|e| JobError::retryable(format!("redis: {e:#}")))?;
    if purged.live_connects > 0 {
        return Err(JobError::retry_after(
            CONNECT_WAIT,
            "an account connection of the user is in progress",
        ));
    }

    // 3. PostgreSQL: every row, one transaction.
    let rows = users::delete_user(&deps.pool, user_id)
        .await
        .map_err(|e| JobError::retryable(format!("database: {e}")))?;

    // 4. Nothing slipped in between 2 and 3 (a connection; anything a sync still in flight
    //    wrote for one of their sources).
    let late = redis_keys::purge(store, &deps.states, user_id, &sources)
        .await
        .map_err(|e| JobError::retryable(format!("redis: {e:#}")))?;
    if late.live_connects > 0 {
        return Err(JobError::retry_after(
            CONNECT_WAIT,
            "an account connection of the user started during the erase",
        ));
    }
    info!(
        sources = sources.len(),
        rows,
        redis_keys = purged.deleted + late.deleted,
        "user erased"
    );
    Ok(())
}
