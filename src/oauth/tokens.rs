//! A data source's access token over its life: opened from PostgreSQL, renewed shortly before
//! it expires and once after a provider answers 401, with the renewed (possibly rotated) tokens
//! written back in one statement, sealed under the current key.
//!
//! **One refresh at a time per source, across processes.** Renewal takes a Redis lock
//! (`{prefix}:oauth:refresh:{source}`, `SET NX PX`, released by compare-and-delete). Whoever
//! waits for it re-reads the tokens afterwards: if the access token changed (or no longer needs
//! renewing) it uses the new one and calls nobody. This matters most for rotating refresh
//! tokens (Twitter's are single-use): two racing refreshes would lose the session.
//!
//! A renewal the provider refuses (`invalid_grant`, a revoked or expired grant, no refresh
//! token) ends in [`TokenError::Reauth`]: the source becomes `reauth_required`, which the API
//! shows and the scheduler skips, until the user connects the account again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::Script;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    apps::ProviderApps,
    state::StateStore,
    token_client::{self, OAuthError, TokenSet},
};
use crate::{
    config::TokenKey,
    crypto::TokenCipher,
    db::{data_sources, tokens},
    providers::ProviderId,
};

/// How long one renewal may hold the lock.
const LOCK_TTL: Duration = Duration::from_secs(30);
/// How long a caller waits for someone else's renewal.
const LOCK_WAIT: Duration = Duration::from_secs(35);

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Why no usable token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The user must connect the account again (the source is now `reauth_required`).
    #[error("reconnect required: {0}")]
    Reauth(String),
    /// Try again later (provider or Redis unavailable).
    #[error("token renewal failed for now: {0}")]
    Transient(String),
    /// The token endpoint cannot be reached safely (its certificate is not trusted).
    #[error("token renewal impossible: {0}")]
    Tls(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Tokens of data sources, opened and renewed.
pub struct TokenManager<'a> {
    pub pool: &'a PgPool,
    pub apps: &'a ProviderApps,
    pub key: &'a TokenKey,
    pub states: &'a StateStore,
}

struct Opened {
    access: String,
    refresh: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    scopes: Vec<String>,
}

impl TokenManager<'_> {
    async fn open(&self, source: Uuid) -> Result<Opened, TokenError> {
        let stored = tokens::load(self.pool, source)
            .await?
            .ok_or_else(|| TokenError::Reauth("no tokens stored".into()))?;
        let cipher = TokenCipher::new(self.key);
        let open = |s: &crate::crypto::Sealed| {
            cipher
                .open(s)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    TokenError::Reauth(format!("stored token does not open: key {}", s.key_id))
                })
        };
        Ok(Opened {
            access: open(&stored.access)?,
            refresh: stored.refresh.as_ref().map(open).transpose()?,
            expires_at: stored.expires_at,
            scopes: stored.scopes,
        })
    }

    fn due(&self, provider: ProviderId, t: &Opened) -> bool {
        let margin = chrono::Duration::seconds(super::spec::spec(provider).refresh_margin_secs);
        t.expires_at.is_some_and(|e| e - Utc::now() < margin)
    }

    /// A usable access token, renewed first if it expires soon.
    pub async fn access_token(
        &self,
        source: Uuid,
        provider: ProviderId,
    ) -> Result<String, TokenError> {
        let t = self.open(source).await?;
        if !self.due(provider, &t) {
            return Ok(t.access);
        }
        self.renew(source, provider, None).await
    }

    /// After the provider refused `failed_access` with a 401: renew once (or pick up the token
    /// another worker just renewed).
    pub async fn after_unauthorized(
        &self,
        source: Uuid,
        provider: ProviderId,
        failed_access: &str,
    ) -> Result<String, TokenError> {
        self.renew(source, provider, Some(failed_access)).await
    }

    async fn renew(
        &self,
        source: Uuid,
        provider: ProviderId,
        failed_access: Option<&str>,
    ) -> Result<String, TokenError> {
        let lock_key = self.states.prefixed(&format!("refresh:{source}"));
        let owner = format!("{:032x}", rand::random::<u128>());
        self.acquire(&lock_key, &owner).await?;
        let result = self.renew_locked(source, provider, failed_access).await;
        let _ = Script::new(RELEASE)
            .key(&lock_key)
            .arg(&owner)
            .invoke_async::<i64>(&mut self.states.conn())
            .await;
        result
    }

    async fn acquire(&self, key: &str, owner: &str) -> Result<(), TokenError> {
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            let got: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(owner)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_TTL.as_millis() as u64)
                .query_async(&mut self.states.conn())
                .await
                .map_err(|e| TokenError::Transient(format!("refresh lock: {e}")))?;
            if got.is_some() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(TokenError::Transient("refresh lock busy".into()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn renew_locked(
        &self,
        source: Uuid,
        provider: ProviderId,
        failed_access: Option<&str>,
    ) -> Result<String, TokenError> {
        let t = self.open(source).await?;
        let someone_else_renewed = match failed_access {
            Some(failed) => t.access != failed,
            None => !self.due(provider, &t),
        };
        if someone_else_renewed {
            return Ok(t.access);
        }
        let app = self
            .apps
            .get(provider)
            .ok_or_else(|| TokenError::Reauth(format!("{provider} is not configured")))?;
        match token_client::refresh(
            app,
            &self.apps.http,
            &t.access,
            t.refresh.as_deref(),
            &t.scopes,
        )
        .await
        {
            Ok(new) => {
                // A provider that does not rotate keeps the old refresh token.
                let refresh = new.refresh_token.clone().or(t.refresh);
                self.save(source, &new, refresh.as_deref()).await?;
                crate::metrics::token_refreshed(provider, "renewed");
                Ok(new.access_token)
            }
            Err(OAuthError::Rejected {
                error, description, ..
            }) => {
                crate::metrics::token_refreshed(provider, "reauth_required");
                let reason = format!("token renewal refused by {provider}: {error}: {description}");
                data_sources::mark_reauth_required(self.pool, source, &reason).await?;
                Err(TokenError::Reauth(reason))
            }
            Err(OAuthError::Transient(e)) => {
                crate::metrics::token_refreshed(provider, "failed");
                Err(TokenError::Transient(e))
            }
            Err(OAuthError::Tls(e)) => {
                crate::metrics::token_refreshed(provider, "failed");
                Err(TokenError::Tls(e))
            }
        }
    }

    /// Writes a token set (sealed under the current key) for a source.
    pub async fn save(
        &self,
        source: Uuid,
        t: &TokenSet,
        refresh: Option<&str>,
    ) -> Result<(), TokenError> {
        let cipher = TokenCipher::new(self.key);
        let access = cipher.seal(t.access_token.as_bytes());
        let refresh = refresh.map(|r| cipher.seal(r.as_bytes()));
        let expires_at = t
            .expires_in
            .map(|s| Utc::now() + chrono::Duration::seconds(s));
        tokens::store(
            self.pool,
            source,
            &access,
            refresh.as_ref(),
            expires_at,
            &t.scopes,
        )
        .await?;
        Ok(())
    }
}
