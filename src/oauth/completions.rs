//! OAuth completion records: what `GET /api/v1/oauth/completions/{id}` reports. The browser
//! callback creates one `awaiting_confirmation` (with its code-exchange job held beside it,
//! the code sealed) for as long as an OAuth state lives; the client application's confirmation
//! by the user who started the flow makes it `pending` and queues the job (a native client's
//! callback does both at once); the job ends it `connected` or `failed`; kept 24 h from then
//! as temporary data in Redis. The job's token checkpoint lives beside it, sealed, so a retry
//! after a crash resumes after the (single-use) code exchange instead of repeating it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use lifesync_jobs::payloads::OAuthCompletion;

use super::{state::StateStore, token_client::TokenSet};
use crate::crypto::TokenCipher;

/// How long a completion can be looked up.
pub const COMPLETION_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long an unconfirmed completion waits: as long as the OAuth state it came from.
pub const AWAITING_TTL: Duration = super::state::STATE_TTL;
/// How long a token checkpoint is kept (the job's retries end well within it).
const CHECKPOINT_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
    AwaitingConfirmation,
    Pending,
    Connected,
    Failed,
}

/// A completion's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub user_id: String,
    pub provider: String,
    pub status: CompletionStatus,
    pub data_source_id: Option<Uuid>,
    /// The provider's error (or ours), for `failed`.
    pub error: Option<String>,
}

/// Completion records and token checkpoints.
pub struct Completions<'a>(pub &'a StateStore);

impl Completions<'_> {
    fn name(id: Uuid) -> String {
        format!("completion:{id}")
    }

    pub async fn get(&self, id: Uuid) -> redis::RedisResult<Option<Completion>> {
        Ok(self
            .0
            .get_temporary(&Self::name(id))
            .await?
            .and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub async fn put(&self, id: Uuid, c: &Completion) -> redis::RedisResult<()> {
        let json = serde_json::to_string(c).expect("serializable");
        let ttl = match c.status {
            CompletionStatus::AwaitingConfirmation => AWAITING_TTL,
            _ => COMPLETION_TTL,
        };
        self.0.put_temporary(&Self::name(id), &json, ttl).await
    }

    /// Holds the code-exchange job (its code sealed) of an unconfirmed completion.
    pub async fn hold_job(&self, id: Uuid, job: &OAuthCompletion) -> redis::RedisResult<()> {
        let json = serde_json::to_string(job).expect("serializable");
        self.0
            .put_temporary(&format!("held-job:{id}"), &json, AWAITING_TTL)
            .await
    }

    /// The held job, if the completion still has one.
    pub async fn held_job(&self, id: Uuid) -> redis::RedisResult<Option<OAuthCompletion>> {
        Ok(self
            .0
            .get_temporary(&format!("held-job:{id}"))
            .await?
            .and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub async fn release_held_job(&self, id: Uuid) -> redis::RedisResult<()> {
        self.0.delete_temporary(&format!("held-job:{id}")).await
    }

    /// Forgets an unconfirmed completion and its held job.
    pub async fn discard(&self, id: Uuid) -> redis::RedisResult<()> {
        self.release_held_job(id).await?;
        self.0.delete_temporary(&Self::name(id)).await
    }

    pub async fn save_checkpoint(
        &self,
        id: Uuid,
        cipher: &TokenCipher<'_>,
        tokens: &TokenSet,
    ) -> redis::RedisResult<()> {
        let sealed = cipher.seal_to_string(&serde_json::to_string(tokens).expect("serializable"));
        self.0
            .put_temporary(&format!("checkpoint:{id}"), &sealed, CHECKPOINT_TTL)
            .await
    }

    pub async fn checkpoint(
        &self,
        id: Uuid,
        cipher: &TokenCipher<'_>,
    ) -> redis::RedisResult<Option<TokenSet>> {
        let sealed = self.0.get_temporary(&format!("checkpoint:{id}")).await?;
        Ok(sealed
            .and_then(|s| cipher.open_string(&s).ok())
            .and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub async fn drop_checkpoint(&self, id: Uuid) -> redis::RedisResult<()> {
        self.0.delete_temporary(&format!("checkpoint:{id}")).await
    }
}
