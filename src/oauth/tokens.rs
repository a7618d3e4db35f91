//! A data source's access token over its life: opened from PostgreSQL, renewed shortly before
//! it expires and once after a provider answers 401, with the renewed (possibly rotated) tokens
//! written back in one transaction, sealed under the current key.
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
//! lost in a fail-over), four rules keep the honoured response, and only it:
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
//!    stored ones: the source becomes `reauth_required` in the same transaction that checks
//!    it, and the tokens row records the refusing renewal's fence.
//! 4. *A success outranks a refusal of the same tokens.* Rule 3 cannot see a holder that
//!    stalled longer than its lease (its keep-alive stalled with it, so its flight ran out)
//!    *after* its request reached the provider: its successor presents the refresh token the
//!    stalled request has just spent, is refused, and marks the source `reauth_required`; then
//!    the stalled holder wakes with the rotated tokens. Those are stored (rule 2) and, in the
//!    same transaction, the refusal is undone: the source is `active` again
//!    ([`tokens::store_renewed`]). The provider's answers, not the lock's order, decide: a
//!    success for refresh token R means the provider honoured R, so a refusal of R was either
//!    caused by that success (R spent) or is contradicted by it, and the rotated token is the
//!    one that works from now on. So the fences' order is not consulted here (in this race the
//!    refusal even holds the newer fence); it keeps ordering token writes. Should the grant
//!    really have been revoked right after the stalled request was honoured, the reopened
//!    source costs one more refused renewal, which marks it again.
//!
//! A renewal the provider refuses (`invalid_grant`, a revoked or expired grant, no refresh
//! token) ends in [`TokenError::Reauth`]: the source becomes `reauth_required`, which the API
//! shows and the scheduler skips, until the user connects the account again (or, by rule 4,
//! a success for the same tokens arrives). Every [`TokenError::Reauth`] has already set that
//! status (unless the source is disconnected), so callers never write it themselves: a later
//! write of theirs could undo rule 4. A disconnected source (or one fenced by an erase) is
//! never renewed.

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
    crypto::{TokenCipher, TokenKey},
    db::{
        data_sources,
        tokens::{self, Renewed},
    },
    domain::{DataSourceStatus, ProviderId},
};

/// Why no usable token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The user must connect the account again: the source is now `reauth_required` (the
    /// manager set it; a disconnected source stays disconnected).
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
        let Some(stored) = tokens::load(self.pool, source).await? else {
            return Err(self.reconnect(source, "no tokens stored".into()).await);
        };
        let cipher = TokenCipher::new(self.key);
        let open = |s: &crate::crypto::Sealed| {
            cipher
                .open(s)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| format!("stored token does not open: key {}", s.key_id))
        };
        let opened = open(&stored.access)
            .and_then(|access| Ok((access, stored.refresh.as_ref().map(open).transpose()?)));
        match opened {
            Ok((access, refresh)) => Ok(Opened {
                access,
                refresh,
                expires_at: stored.expires_at,
                scopes: stored.scopes,
                sealed_access: stored.access.bytes,
                fence: stored.fence,
            }),
            Err(reason) => Err(self.reconnect(source, reason).await),
        }
    }

    /// A reconnect is needed for a reason other than a refusal: the source becomes
    /// `reauth_required` (unless disconnected). A refusal marks it itself, conditionally.
    async fn reconnect(&self, source: Uuid, reason: String) -> TokenError {
        let marked = async {
            let mut tx = self.pool.begin().await?;
            data_sources::set_status(&mut tx, source, DataSourceStatus::ReauthRequired).await?;
            tx.commit().await
        };
        match marked.await {
            Ok(()) => TokenError::Reauth(reason),
            Err(e) => TokenError::Database(e),
        }
    }

    fn due(&self, provider: ProviderId, t: &Opened) -> bool {
        let margin = chrono::Duration::seconds(
            crate::providers::oauth_spec::spec(provider).refresh_margin_secs,
        );
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
        // A disconnected source, or one fenced by an erase, is never renewed (its tokens, if
        // any, are about to be revoked; a renewal would only leave keys behind).
        if data_sources::is_gone(self.pool, source).await? {
            return Err(TokenError::Reauth("the data source is disconnected".into()));
        }
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
        let Some(app) = self.apps.get(provider) else {
            return Err(self
                .reconnect(source, format!("{provider} is not configured"))
                .await);
        };
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
                match self
                    .store_renewed(source, &t.sealed_access, fence, &new, refresh.as_deref())
                    .await?
                {
                    Renewed::Stored => return Ok(new.access_token),
                    Renewed::Reopened { refused_fence } => {
                        tracing::warn!(
                            %source, fence, refused_fence,
                            "renewed tokens stored after a refusal of the same tokens marked the \
                             source reauth_required; the refusal is undone (rule 4)"
                        );
                        return Ok(new.access_token);
                    }
                    Renewed::NotStored => {}
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
                if !data_sources::mark_reauth_required(
                    self.pool,
                    source,
                    &reason,
                    &t.sealed_access,
                    fence,
                )
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
    /// (`renewed`: their sealed access token), with the renewal's fence.
    async fn store_renewed(
        &self,
        source: Uuid,
        renewed: &[u8],
        fence: i64,
        t: &TokenSet,
        refresh: Option<&str>,
    ) -> Result<Renewed, TokenError> {
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
