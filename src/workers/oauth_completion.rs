//! `OAuthCompletion`: exchange the authorization code (once), turn Meta's short-lived tokens into
//! long-lived ones, fetch the profile, upsert the data source and its sealed tokens in one
//! transaction, enqueue the first full sync (trigger `oauth`), and record the completion.
//!
//! A code is single-use, so the exchange is the step that must not repeat: its result is
//! checkpointed (sealed) in Redis before anything else happens, and a retry resumes from it.
//! A provider refusal (used or expired code, PKCE mismatch, bad client) ends the completion
//! `failed` with the provider's error and does not retry; transport failures and 5xx retry
//! (3 attempts), and the last one also ends `failed`. Every later step is idempotent:
//! reconnecting the same account updates its source rather than adding one. The outcome is
//! announced once to the user's webhooks (`connection.created` in the connecting transaction,
//! `connection.failed` before the record says failed), under an event id derived from the
//! completion.

use apalis_core::task::data::Data;
use lifesync_jobs::{
    payloads::{OAuthCompletion, SyncMode, SyncTrigger},
    JobError, JobLease,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::SharedDeps;
use crate::{
    crypto::TokenCipher,
    db::{data_sources, webhooks},
    domain::ProviderId,
    oauth::{
        completions::{Completion, CompletionStatus, Completions},
        token_client::{self, OAuthError, TokenSet},
    },
    providers::{self, ProviderError},
    services::sync::{request_sync, RequestSyncError},
    webhooks::events::EventType,
};

/// How a step ended when it did not succeed.
enum Stop {
    /// The completion failed for good (the provider refused, or our data is unusable).
    Failed(String),
    /// Worth another attempt.
    Retry(String),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Self::Retry(format!("database: {e}"))
    }
}

impl From<redis::RedisError> for Stop {
    fn from(e: redis::RedisError) -> Self {
        Self::Retry(format!("redis: {e}"))
    }
}

impl From<OAuthError> for Stop {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Rejected { .. } | OAuthError::Tls(_) => Self::Failed(e.to_string()),
            OAuthError::Transient(m) => Self::Retry(m),
        }
    }
}

impl From<ProviderError> for Stop {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Transient(_) | ProviderError::RateLimited { .. } => {
                Self::Retry(e.to_string())
            }
            _ => Self::Failed(format!("profile: {e}")),
        }
    }
}

/// The job handler.
pub async fn handle(
    job: OAuthCompletion,
    deps: Data<SharedDeps>,
    lease: Data<JobLease>,
) -> Result<(), JobError> {
    let completions = Completions(&deps.states);
    if let Ok(Some(c)) = completions.get(job.completion_id).await {
        if c.status != CompletionStatus::Pending {
            return Ok(()); // already finished: a duplicate delivery
        }
    }
    let span = tracing::info_span!(
        "oauth_completion",
        completion_id = %job.completion_id,
        provider = %job.provider,
    );
    match tracing::Instrument::instrument(complete(&job, &deps), span).await {
        Ok(data_source_id) => {
            finish(
                &deps,
                &job,
                CompletionStatus::Connected,
                Some(data_source_id),
                None,
            )
            .await
        }
        Err(Stop::Failed(error)) => {
            finish(&deps, &job, CompletionStatus::Failed, None, Some(error)).await
        }
        Err(Stop::Retry(error)) => {
            warn!(
                completion_id = %job.completion_id,
                provider = %job.provider,
                attempt = lease.attempt,
                %error,
                "oauth completion attempt failed"
            );
            if lease.attempt >= lease.max_attempts {
                finish(&deps, &job, CompletionStatus::Failed, None, Some(error)).await
            } else {
                Err(JobError::retryable(error))
            }
        }
    }
}

fn database(e: sqlx::Error) -> JobError {
    JobError::retryable(format!("database: {e}"))
}

/// The id of a completion's event of `kind`: the same for every attempt, so a retried
/// completion announces itself once.
fn event_id(job: &OAuthCompletion, kind: EventType) -> uuid::Uuid {
    let digest = Sha256::new()
        .chain_update(job.completion_id.as_bytes())
        .chain_update(kind.as_str())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

async fn finish(
    deps: &SharedDeps,
    job: &OAuthCompletion,
    status: CompletionStatus,
    data_source_id: Option<uuid::Uuid>,
    error: Option<String>,
) -> Result<(), JobError> {
    let connected = status == CompletionStatus::Connected;
    if !connected {
        let event = json!({"completion_id": job.completion_id, "provider": job.provider});
        let mut tx = deps.pool.begin().await.map_err(database)?;
        webhooks::emit(
            &mut tx,
            &job.user_id,
            EventType::ConnectionFailed.as_str(),
            &event,
            event_id(job, EventType::ConnectionFailed),
        )
        .await
        .map_err(database)?;
        tx.commit().await.map_err(database)?;
    }
    let completions = Completions(&deps.states);
    let record = Completion {
        user_id: job.user_id.clone(),
        provider: job.provider.clone(),
        status,
        data_source_id,
        error: error.clone(),
    };
    completions
        .put(job.completion_id, &record)
        .await
        .map_err(|e| JobError::retryable(format!("redis: {e}")))?;
    let _ = completions.drop_checkpoint(job.completion_id).await;
    crate::metrics::oauth_completion(&job.provider, connected);
    if connected {
        info!(completion_id = %job.completion_id, provider = %job.provider,
              data_source_id = ?data_source_id, "account connected");
    } else {
        warn!(completion_id = %job.completion_id, provider = %job.provider,
              error = error.as_deref().unwrap_or(""), "oauth completion failed");
    }
    Ok(())
}

async fn complete(job: &OAuthCompletion, deps: &SharedDeps) -> Result<uuid::Uuid, Stop> {
    let provider = ProviderId::parse(&job.provider)
        .ok_or_else(|| Stop::Failed(format!("unknown provider {}", job.provider)))?;
    let app = deps
        .apps
        .get(provider)
        .ok_or_else(|| Stop::Failed(format!("{provider} is not configured")))?;
    let http = &deps.apps.http;
    let cipher = TokenCipher::new(&deps.token_key);
    let completions = Completions(&deps.states);

    let mut tokens: TokenSet = match completions.checkpoint(job.completion_id, &cipher).await? {
        Some(t) => t,
        None => {
            let code = cipher
                .open_string(&job.sealed_code)
                .map_err(|e| Stop::Failed(format!("sealed code: {e}")))?;
            let verifier = job
                .sealed_pkce_verifier
                .as_deref()
                .map(|v| cipher.open_string(v))
                .transpose()
                .map_err(|e| Stop::Failed(format!("sealed verifier: {e}")))?;
            let t = token_client::exchange_code(
                app,
                http,
                &code,
                &job.redirect_uri,
                verifier.as_deref(),
            )
            .await?;
            completions
                .save_checkpoint(job.completion_id, &cipher, &t)
                .await?;
            t
        }
    };
    if !tokens.long_lived {
        tokens = token_client::to_long_lived(app, http, &tokens).await?;
        completions
            .save_checkpoint(job.completion_id, &cipher, &tokens)
            .await?;
    }
    let profile = providers::fetch_profile(app, http, &tokens.access_token).await?;

    let mut tx = deps.pool.begin().await?;
    let data_source_id = data_sources::upsert_connected(
        &mut tx,
        &job.user_id,
        provider.as_str(),
        &profile.account_id,
        profile.account_name.as_deref(),
    )
    .await?;
    let access = cipher.seal(tokens.access_token.as_bytes());
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|r| cipher.seal(r.as_bytes()));
    let expires_at = tokens
        .expires_in
        .map(|s| chrono::Utc::now() + chrono::Duration::seconds(s));
    crate::db::tokens::store(
        &mut tx,
        data_source_id,
        &access,
        refresh.as_ref(),
        expires_at,
        &tokens.scopes,
    )
    .await?;
    let event = json!({"completion_id": job.completion_id, "data_source_id": data_source_id,
                       "provider": job.provider});
    let created = EventType::ConnectionCreated;
    webhooks::emit(
        &mut tx,
        &job.user_id,
        created.as_str(),
        &event,
        event_id(job, created),
    )
    .await?;
    tx.commit().await?;

    match request_sync(
        &deps.pool,
        &deps.producer,
        data_source_id,
        SyncMode::Full,
        SyncTrigger::Oauth,
    )
    .await
    {
        Ok(_) | Err(RequestSyncError::InProgress { .. }) => {}
        Err(e) => return Err(Stop::Retry(format!("enqueue first sync: {e}"))),
    }
    Ok(data_source_id)
}
