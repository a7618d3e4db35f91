//! OAuth completion records: what `GET /api/v1/oauth/completions/{id}` reports. Created
//! `pending` by the callback, ended `connected` or `failed` by the completion job; kept 24 h
//! as temporary data in Redis. The job's token checkpoint lives beside it, sealed, so a retry
//! after a crash resumes after the (single-use) code exchange instead of repeating it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{state::StateStore, token_client::TokenSet};
use crate::crypto::TokenCipher;

/// How long a completion can be looked up.
pub const COMPLETION_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a token checkpoint is kept (the job's retries end well within it).
const CHECKPOINT_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
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
        self.0
            .put_temporary(&Self::name(id), &json, COMPLETION_TTL)
            .await
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
