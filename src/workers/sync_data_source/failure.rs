//! How a failed attempt of a sync job ends (the module docs of `sync_data_source` list the
//! endings): the [`Failure`] a step returns, its [`Ending`], and recording it — the run's end,
//! the source's status and error, a paused provider app — before the job completes, retries,
//! defers or dies.

use lifesync_jobs::{payloads::SyncDataSource, JobError, JobLease};

use super::super::SharedDeps;
use crate::{
    db::{data_sources, sync_runs},
    domain::{DataSourceStatus, ProviderId},
    metrics,
    oauth::tokens::TokenError,
    providers::{pause, ProviderError},
};

/// How a failed attempt ends the job (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Ending {
    Retry,
    Defer,
    Expected,
    Cancelled,
    Bug,
}

/// A failure, with how it ends the job and what the data source's status becomes.
pub(super) struct Failure {
    pub(super) error: JobError,
    pub(super) message: String,
    pub(super) ending: Ending,
    pub(super) source_status: Option<DataSourceStatus>,
    /// The longest the job will wait before its next attempt (deferrals), for the run deadline.
    pub(super) wait: Option<std::time::Duration>,
    /// The provider app's usage cap is spent until then: pause the provider's syncs.
    pub(super) pause_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Failure {
    pub(super) fn retryable(message: String) -> Self {
        Self {
            error: JobError::retryable(message.clone()),
            message,
            ending: Ending::Retry,
            source_status: None,
            wait: None,
            pause_until: None,
        }
    }

    /// The user's or the provider's doing: the run ends, the job completes.
    pub(super) fn expected(message: String, source_status: Option<DataSourceStatus>) -> Self {
        Self {
            error: JobError::permanent(message.clone()),
            message,
            ending: Ending::Expected,
            source_status,
            wait: None,
            pause_until: None,
        }
    }

    /// The source was disconnected or deleted: the run ends `cancelled`, the job completes.
    pub(super) fn cancelled(message: &str) -> Self {
        Self {
            error: JobError::permanent(message.to_string()),
            message: message.to_string(),
            ending: Ending::Cancelled,
            source_status: None,
            wait: None,
            pause_until: None,
        }
    }

    /// Retrying cannot help and nobody outside caused it: a dead job to look at.
    pub(super) fn bug(message: String) -> Self {
        Self {
            error: JobError::permanent(message.clone()),
            message,
            ending: Ending::Bug,
            source_status: None,
            wait: None,
            pause_until: None,
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Self::retryable(format!("database: {e}"))
    }
}

impl From<TokenError> for Failure {
    fn from(e: TokenError) -> Self {
        let message = e.to_string();
        match e {
            // The token manager has set the status, under its rules (a success for the same
            // tokens may undo a refusal): writing it again here could undo that.
            TokenError::Reauth(_) => Self::expected(message, None),
            // A token endpoint whose certificate is not trusted: the operator's to mend.
            TokenError::Tls(_) => Self::bug(message),
            TokenError::Transient(_) | TokenError::Database(_) => Self::retryable(message),
        }
    }
}

/// The longest a throttle without a time waits (the queue's throttle backoff cap).
const THROTTLE_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(3600);

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        let message = e.to_string();
        match e {
            ProviderError::RateLimited { retry_after } => Self {
                error: match retry_after {
                    Some(d) => JobError::retry_after(d, message.clone()),
                    None => JobError::throttled(message.clone()),
                },
                message,
                ending: Ending::Defer,
                source_status: None,
                wait: Some(retry_after.unwrap_or(THROTTLE_WAIT_MAX)),
                pause_until: None,
            },
            // Not a window to wait out: the provider's syncs pause until the reset.
            ProviderError::UsageCapped { resets_at, detail } => Self {
                pause_until: Some(resets_at),
                ..Self::expected(pause::reason(resets_at, &detail), None)
            },
            ProviderError::Transient(_) => Self::retryable(message),
            ProviderError::Unauthorized(_) => {
                Self::expected(message, Some(DataSourceStatus::ReauthRequired))
            }
            ProviderError::Forbidden(_) => Self::expected(message, Some(DataSourceStatus::Error)),
            ProviderError::NotFound(_) | ProviderError::Permanent(_) => Self::bug(message),
        }
    }
}

/// Records a failed attempt as its [`Ending`] says: Ok when the job completes, else the job's
/// error (retry, deferral, dead letter).
pub(super) async fn failed(
    deps: &SharedDeps,
    job: &SyncDataSource,
    lease: &JobLease,
    mut f: Failure,
) -> Result<(), JobError> {
    // Whatever went wrong, a run whose source is disconnected or gone is cancelled.
    if f.ending != Ending::Cancelled
        && data_sources::is_gone(&deps.pool, job.data_source_id)
            .await
            .unwrap_or(false)
    {
        f = Failure::cancelled(&format!("disconnected ({})", f.message));
    }
    let last_attempt = lease.attempt >= lease.max_attempts;
    // This deferral would pass the queue's cap: the queue buries the job.
    let last_deferral = lease.deferrals >= lease.max_deferrals;
    tracing::warn!(
        data_source_id = %job.data_source_id,
        sync_run_id = %job.sync_run_id,
        attempt = lease.attempt,
        error = %f.message,
        "sync attempt failed"
    );
    if let Some(until) = f.pause_until {
        pause_provider(deps, job, until).await;
    }
    match f.ending {
        Ending::Cancelled => {
            record_cancel(deps, job, &f.message).await;
            return Ok(());
        }
        Ending::Expected => {
            record_failure(deps, job, &f).await;
            return Ok(());
        }
        Ending::Bug => record_failure(deps, job, &f).await,
        Ending::Retry if last_attempt => {
            f.message = format!(
                "gave up after {} attempts: {}",
                lease.max_attempts, f.message
            );
            record_failure(deps, job, &f).await;
        }
        Ending::Defer if last_deferral => {
            f.message = format!("gave up after {} deferrals: {}", lease.deferrals, f.message);
            record_failure(deps, job, &f).await;
        }
        Ending::Defer => {
            // Waiting is not being stuck: the run's deadline counts from its next turn.
            if let Some(w) = f.wait {
                if let Err(e) = sync_runs::waiting(&deps.pool, job.sync_run_id, w).await {
                    tracing::warn!(error = %e, "could not move the run's deadline");
                }
            }
        }
        Ending::Retry => {}
    }
    Err(f.error)
}

/// The run was ended while this job worked on it (the run deadline): the page is not stored,
/// and the job ends without a dead letter.
pub(super) fn ended_elsewhere() -> Failure {
    Failure::expected(
        "the run was ended while it synced (run deadline)".into(),
        None,
    )
}

/// Pauses the syncs of the job's provider app until `until` (best effort: the run ends with
/// the reason either way, and the next run meets the cap again if the marker was lost).
async fn pause_provider(
    deps: &SharedDeps,
    job: &SyncDataSource,
    until: chrono::DateTime<chrono::Utc>,
) {
    let Ok(Some(source)) = data_sources::load_for_sync(&deps.pool, job.data_source_id).await else {
        return;
    };
    let Some(app) = ProviderId::parse(&source.provider).and_then(|p| deps.apps.get(p)) else {
        return;
    };
    match deps.pauses().pause(app.id, &app.client_id, until).await {
        Ok(()) => tracing::warn!(provider = app.id.as_str(), until = %until,
                                 "provider usage cap exceeded: its syncs are paused"),
        Err(e) => tracing::warn!(error = %e, "could not record the provider pause"),
    }
}

/// Ends the run `cancelled` (unless the disconnect already did) and writes nothing on its
/// source (best effort: the job ends either way).
async fn record_cancel(deps: &SharedDeps, job: &SyncDataSource, reason: &str) {
    let result: sqlx::Result<()> = async {
        if sync_runs::cancel(&deps.pool, job.sync_run_id, reason).await? {
            if let Some(p) = data_sources::provider_of(&deps.pool, job.data_source_id).await? {
                metrics::sync_run_cancelled(&p, job.trigger.as_str());
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => tracing::info!(reason, "sync run cancelled"),
        Err(e) => {
            tracing::error!(sync_run_id = %job.sync_run_id, error = %e, "could not record a cancelled sync")
        }
    }
}

/// Ends the run and records the error on its source (best effort: the job ends either way).
async fn record_failure(deps: &SharedDeps, job: &SyncDataSource, f: &Failure) {
    let result: sqlx::Result<()> = async {
        let mut tx = deps.pool.begin().await?;
        let ended = sync_runs::finish(&mut tx, job.sync_run_id, false, Some(&f.message)).await?;
        let end = data_sources::SyncEnd {
            error: Some(&f.message),
            ..Default::default()
        };
        data_sources::finish_sync(&mut tx, job.data_source_id, end).await?;
        // The run's end and what the source's status asks of the user, seen together.
        if let Some(status) = f.source_status {
            data_sources::set_status(&mut tx, job.data_source_id, status).await?;
        }
        tx.commit().await?;
        if ended {
            if let Some(p) = data_sources::provider_of(&deps.pool, job.data_source_id).await? {
                metrics::sync_run_finished(&p, job.trigger.as_str(), false);
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(sync_run_id = %job.sync_run_id, error = %e, "could not record a failed sync");
    }
}
