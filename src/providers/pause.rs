//! Provider-app pauses: when a provider says the app's quota for a period is spent (X's
//! monthly usage cap, [`ProviderError::UsageCapped`](super::ProviderError::UsageCapped)), one
//! Redis marker per provider app holds the moment it resets, shared by every worker. The sync
//! worker ends a paused provider's runs at once with the reason (no request is sent) and the
//! fan-out skips its sources, until the marker expires at the reset.
//!
//! Key: `{prefix}:pause:{provider}:{client id}` = the reset time (RFC 3339), expiring then.

use chrono::{DateTime, Utc};
use lifesync_jobs::RedisConn;
use redis::AsyncCommands;

use super::ProviderId;

/// The pause markers under one key prefix.
#[derive(Clone)]
pub struct Pauses {
    conn: RedisConn,
    prefix: String,
}

impl Pauses {
    pub fn new(conn: RedisConn, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
        }
    }

    fn key(&self, provider: ProviderId, client_id: &str) -> String {
        format!("{}:pause:{}:{}", self.prefix, provider.as_str(), client_id)
    }

    /// Pauses the app until `until` (a later pause already set wins).
    pub async fn pause(
        &self,
        provider: ProviderId,
        client_id: &str,
        until: DateTime<Utc>,
    ) -> redis::RedisResult<()> {
        if let Some(current) = self.paused_until(provider, client_id).await? {
            if current >= until {
                return Ok(());
            }
        }
        let ttl_ms = (until - Utc::now()).num_milliseconds().max(1000) as u64;
        let mut c = self.conn.clone();
        c.pset_ex::<_, _, ()>(self.key(provider, client_id), until.to_rfc3339(), ttl_ms)
            .await
    }

    /// When the app's pause ends, if it is paused now.
    pub async fn paused_until(
        &self,
        provider: ProviderId,
        client_id: &str,
    ) -> redis::RedisResult<Option<DateTime<Utc>>> {
        let mut c = self.conn.clone();
        let v: Option<String> = c.get(self.key(provider, client_id)).await?;
        Ok(v.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t > Utc::now()))
    }
}

/// The reason a paused provider's run ends with (shown as the run's error and the source's
/// `last_sync_error`).
pub fn reason(until: DateTime<Utc>, detail: &str) -> String {
    format!(
        "usage cap exceeded for this provider app; its syncs are paused until {} ({detail})",
        until.format("%Y-%m-%d %H:%M UTC")
    )
}
