//! The typed job payloads of lifesync, one struct per job, each with its queue, attempt
//! budget, dedup rule and a `version` field.
//!
//! Rules for changing a payload (rolling deploys run old and new releases side by side):
//! add fields only with `#[serde(default)]`, never rename or remove one, never reject unknown
//! fields; bump `version` when the meaning changes and keep reading the old version. Every
//! version ever written has a golden fixture under `jobs/tests/fixtures/`, and a test proves it
//! still deserializes.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

/// A job type: its payload, the queue it runs on and how it is deduplicated.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The queue this job runs on.
    const QUEUE: &'static str;
    /// Attempts before the job is dead-lettered.
    const MAX_ATTEMPTS: u32;
    /// While a job with this key is queued, scheduled or running, enqueueing another returns
    /// the existing job's id. Released when the job ends in any way.
    fn unique_key(&self) -> Option<String> {
        None
    }
    /// A deterministic id: enqueueing the same id again (while its record is retained) returns
    /// the existing job instead of creating a second one.
    fn job_id(&self) -> Option<String> {
        None
    }
}

/// Queue names, as they appear in keys, metrics and the admin API.
pub mod queues {
    pub const OAUTH_COMPLETION: &str = "oauth_completion";
    pub const SYNC: &str = "sync";
    pub const FANOUT: &str = "fanout";
    pub const ERASE: &str = "erase";
    pub const WEBHOOKS: &str = "webhooks";
    pub const TIMELINE: &str = "timeline";
    /// Every production queue.
    pub const ALL: [&str; 6] = [OAUTH_COMPLETION, SYNC, FANOUT, ERASE, WEBHOOKS, TIMELINE];
}

/// Full or incremental sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    Full,
    Incremental,
}

/// What started a sync (the contract's `trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    Oauth,
    Manual,
    Daily,
    Incremental,
    Admin,
}

impl SyncMode {
    pub const ALL: [SyncMode; 2] = [Self::Full, Self::Incremental];

    /// The name in the database, the API and metric labels (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
        }
    }
}

impl SyncTrigger {
    pub const ALL: [SyncTrigger; 5] = [
        Self::Oauth,
        Self::Manual,
        Self::Daily,
        Self::Incremental,
        Self::Admin,
    ];

    /// The name in the database, the API and metric labels (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oauth => "oauth",
            Self::Manual => "manual",
            Self::Daily => "daily",
            Self::Incremental => "incremental",
            Self::Admin => "admin",
        }
    }
}

/// Exchange an OAuth authorization code, store the tokens and connect the data source.
/// The code (and PKCE verifier) travel sealed with the token-encryption key, never in clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthCompletion {
    pub version: u32,
    pub completion_id: Uuid,
    pub user_id: String,
    pub provider: String,
    pub redirect_uri: String,
    /// The authorization code, AES-256-GCM sealed: `v1.<key id>.<base64>` (see the service's
    /// `crypto` module).
    pub sealed_code: String,
    /// The PKCE verifier, sealed the same way, for providers that use PKCE.
    #[serde(default)]
    pub sealed_pkce_verifier: Option<String>,
}

impl OAuthCompletion {
    pub const VERSION: u32 = 1;
}

impl Job for OAuthCompletion {
    const QUEUE: &'static str = queues::OAUTH_COMPLETION;
    /// A code works once: retries are for transport failures only.
    const MAX_ATTEMPTS: u32 = 3;
    fn unique_key(&self) -> Option<String> {
        Some(format!("oauth:{}", self.completion_id))
    }
    fn job_id(&self) -> Option<String> {
        Some(format!("oauth-{}", self.completion_id))
    }
}

/// Sync one data source: fetch a page, normalize, store, checkpoint, continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncDataSource {
    pub version: u32,
    pub data_source_id: Uuid,
    pub mode: SyncMode,
    pub trigger: SyncTrigger,
    pub sync_run_id: Uuid,
    /// The provider page to start from (None: the source's stored cursor or the beginning).
    #[serde(default)]
    pub page_cursor: Option<String>,
}

impl SyncDataSource {
    pub const VERSION: u32 = 1;
}

impl Job for SyncDataSource {
    const QUEUE: &'static str = queues::SYNC;
    const MAX_ATTEMPTS: u32 = 8;
    /// At most one sync per data source is queued or running, whatever the trigger.
    fn unique_key(&self) -> Option<String> {
        Some(format!("sync:{}", self.data_source_id))
    }
}

/// One scheduler tick: enqueue a sync for every eligible data source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleFanout {
    pub version: u32,
    /// The schedule's name (`daily`, `incremental`).
    pub schedule: String,
    pub mode: SyncMode,
    /// The tick's time, seconds since the Unix epoch (UTC).
    pub tick_unix: i64,
}

impl ScheduleFanout {
    pub const VERSION: u32 = 1;
}

impl Job for ScheduleFanout {
    const QUEUE: &'static str = queues::FANOUT;
    const MAX_ATTEMPTS: u32 = 5;
    /// One job per schedule and tick, however many schedulers enqueue it.
    fn job_id(&self) -> Option<String> {
        Some(format!("fanout-{}-{}", self.schedule, self.tick_unix))
    }
}

/// Erase a user: revoke every token at its provider, delete their Redis keys and every row.
/// The user id travels sealed with the token-encryption key (the record outlives the user
/// for the queue's retention: it must not name them in clear); `user_key` (SHA-256 of the id,
/// hex) only deduplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraseUser {
    pub version: u32,
    /// The user id, AES-256-GCM sealed: `v1.<key id>.<base64>` (the service's `crypto`).
    pub sealed_user_id: String,
    /// SHA-256 of the user id, hex.
    pub user_key: String,
}

impl EraseUser {
    pub const VERSION: u32 = 1;
}

impl Job for EraseUser {
    const QUEUE: &'static str = queues::ERASE;
    /// Every step is idempotent; unreachable providers are retried a few attempts, then the
    /// erase goes on without them (see the handler), so attempts run out only on our outages.
    const MAX_ATTEMPTS: u32 = 12;
    /// One erase per user is queued or running: a second request joins it.
    fn unique_key(&self) -> Option<String> {
        Some(format!("erase:{}", self.user_key))
    }
}

/// Deliver one webhook event to one endpoint (a row of `webhook_deliveries`): sign, POST,
/// record the attempt, and come back after a backoff (or the receiver's `Retry-After`) until
/// delivered or 24 hours have passed. Retries are deferrals the handler times itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub version: u32,
    pub delivery_id: i64,
}

impl DeliverWebhook {
    pub const VERSION: u32 = 1;
}

impl Job for DeliverWebhook {
    const QUEUE: &'static str = queues::WEBHOOKS;
    /// Spent only by our own failures (database, a panic): a receiver's failures are timed
    /// retries that spend none.
    const MAX_ATTEMPTS: u32 = 10;
    /// One job per delivery, however often the dispatcher offers it.
    fn job_id(&self) -> Option<String> {
        Some(format!("webhook-{}", self.delivery_id))
    }
}

/// Bring a user's timeline up to date with their items (after a sync run that changed them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildTimeline {
    pub version: u32,
    pub user_id: String,
}

impl BuildTimeline {
    pub const VERSION: u32 = 1;
}

impl Job for BuildTimeline {
    const QUEUE: &'static str = queues::TIMELINE;
    /// Idempotent (a build replaces what it rebuilds): retries are for outages only.
    const MAX_ATTEMPTS: u32 = 5;
    /// One build per user is queued or running: the build reads every change up to its start.
    fn unique_key(&self) -> Option<String> {
        Some(format!("timeline:{}", self.user_id))
    }
}

#[cfg(test)]
mod names {
    use super::{SyncMode, SyncTrigger};

    #[test]
    fn names_are_the_serialized_forms() {
        for m in SyncMode::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        for t in SyncTrigger::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
