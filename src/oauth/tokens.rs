//! A data source's access token over its life: opened from PostgreSQL, renewed shortly before
//! it expires and once after a provider answers 401, with the renewed (possibly rotated) tokens
//! written back in one statement, sealed under the current key.
//!
//! **One refresh at a time per source, across processes** ([`super::refresh_lock`]). Renewal
//! takes a Redis lock whose lease is renewed every third of it while the request is in flight,
//! so a slow token endpoint never outlives it. Whoever waits for it re-reads the tokens
//! afterwards: if the access token changed (or no longer needs renewing) it uses the new one
//! and calls nobody. This matters most for rotating refresh tokens: Twitter's are single-use,
//! so of two refreshes presenting the same token the provider honours exactly one, and the
//! refresh token it returns is the only one that works from then on.
//!
//! **When the lock is lost anyway** (the holder stalled past its lease, the key was evicted or
//! lost in a fail-over), three rules keep the honoured response, and only it:
//! 1. *A fencing token per grant.* Each acquisition gets a fence from a Redis counter, larger
//!    than every earlier one (and than the fence stored with the tokens). Every renewal stores
//!    its fence with the tokens it writes, and a write whose fence is not newer than the stored
//!    one is refused: a stale holder never overwrites newer tokens.
//! 2. *A renewal stores its result only over the tokens it renewed* (compare-and-set on the
//!    sealed access token it read, whose random nonce makes every write unique) — but then it
//!    stores it whether or not it still holds the lock. Under single-use rotation a successful
//!    reply for the stored refresh token is the one the provider honoured: it is always stored,
//!    never dropped. Anything else that replaced the tokens in between (a reconnect; for
//!    providers that do not rotate, another holder's equally valid renewal) wins, and a
//!    disconnect (tokens deleted) is never undone: the write only updates, never inserts.
//! 3. *No second request while the first may still be answered.* A holder that lost its lock
//!    keeps its renewal registered as in flight; the next holder waits for every older flight
//!    to end before it reads the tokens, so it picks up the rotated token instead of presenting
//!    the spent one. A refusal is taken as final only if the tokens it refused are still the
//!    stored ones: the source becomes `reauth_required` in the same statement that checks it.
//!
//! What remains: a holder stalled longer than its lease *after* its request reached the
//! provider, whose late success then lands after a successor's refusal marked the source
//! `reauth_required` — the tokens are stored valid, the status asks for a reconnect.
//!
//! A renewal the provider refuses (`invalid_grant`, a revoked or expired grant, no refresh
//! token) ends in [`TokenError::Reauth`]: the source becomes `reauth_required`, which the API
//! shows and the scheduler skips, until the user connects the account again.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    apps::ProviderApps,
    refresh_lock::{LockError, RefreshLock},
    state::StateStore,
    token_client::{self, OAuthError, TokenSet},
};
use crate::{
    config::TokenKey,
    crypto::TokenCipher,
    db::{data_sources, tokens},
    providers::ProviderId,
};

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
    /// The sealed access token as stored: which write these tokens came from.
    sealed_access: Vec<u8>,
    fence: i64,
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
            sealed_access: stored.access.bytes,
            fence: stored.fence,
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
        let stored_fence = self.open(source).await?.fence;
        let lock = RefreshLock::acquire(
            self.states,
            source,
            stored_fence,
            self.states.refresh_timing(),
        )
        .await
        .map_err(|e| match e {
            LockError::Redis(e) => TokenError::Transient(format!("refresh lock: {e}")),
            e => TokenError::Transient(e.to_string()),
        })?;
        let result = self
            .renew_locked(source, provider, failed_access, lock.fence())
            .await;
        if lock.lost() {
            tracing::warn!(%source, fence = lock.fence(), "token renewal outlived its refresh lock");
        }
        lock.release().await;
        result
    }

    async fn renew_locked(
        &self,
        source: Uuid,
        provider: ProviderId,
        failed_access: Option<&str>,
        fence: i64,
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
                crate::metrics::token_refreshed(provider, "renewed");
                if self
                    .store_renewed(source, &t.sealed_access, fence, &new, refresh.as_deref())
                    .await?
                {
                    return Ok(new.access_token);
                }
                // Replaced since this renewal read them (a reconnect, another holder's renewal
                // of a provider that does not rotate) or deleted (a disconnect): theirs stand.
                tracing::info!(%source, fence, "renewed tokens not stored: the stored ones changed meanwhile");
                Ok(self.open(source).await?.access)
            }
            Err(OAuthError::Rejected {
                error, description, ..
            }) => {
                // Refused because another renewal already spent the token? Then its tokens are
                // stored by now: use them.
                let now = self.open(source).await?;
                if now.sealed_access != t.sealed_access {
                    return Ok(now.access);
                }
                crate::metrics::token_refreshed(provider, "reauth_required");
                let reason = format!("token renewal refused by {provider}: {error}: {description}");
                if !data_sources::mark_reauth_required(self.pool, source, &reason, &t.sealed_access)
                    .await?
                {
                    // The tokens changed in between (or the source was disconnected).
                    return Ok(self.open(source).await?.access);
                }
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

    /// Writes a renewal's token set (sealed under the current key) over the tokens it renewed
    /// (`renewed`: their sealed access token), with the renewal's fence. False: not stored.
    async fn store_renewed(
        &self,
        source: Uuid,
        renewed: &[u8],
        fence: i64,
        t: &TokenSet,
        refresh: Option<&str>,
    ) -> Result<bool, TokenError> {
        let cipher = TokenCipher::new(self.key);
        let access = cipher.seal(t.access_token.as_bytes());
        let refresh = refresh.map(|r| cipher.seal(r.as_bytes()));
        let expires_at = t
            .expires_in
            .map(|s| Utc::now() + chrono::Duration::seconds(s));
        Ok(tokens::store_renewed(
            self.pool,
            source,
            renewed,
            fence,
            &access,
            refresh.as_ref(),
            expires_at,
            &t.scopes,
        )
        .await?)
    }
}
