//! Disconnecting a data source: revoke its token at the provider where the provider allows it
//! (best effort: a provider outage never blocks a user leaving), then delete its tokens and,
//! unless kept, its items. A sync running meanwhile is fenced off: its run ends `cancelled`
//! and it stores nothing more (see `db::data_sources`).

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    crypto::{TokenCipher, TokenKey},
    db::{data_sources, tokens},
    domain::ProviderId,
    oauth::{apps::ProviderApps, token_client},
};

/// Whether the provider accepted the revocation (false: not attempted, not offered or refused).
pub async fn disconnect(
    pool: &PgPool,
    apps: &ProviderApps,
    token_key: Option<&TokenKey>,
    data_source_id: Uuid,
    provider: &str,
    keep_data: bool,
    duplicate_window: std::time::Duration,
) -> sqlx::Result<bool> {
    let mut revoked = false;
    let app = ProviderId::parse(provider).and_then(|p| apps.get(p));
    if let (Some(app), Some(key), Some(stored)) =
        (app, token_key, tokens::load(pool, data_source_id).await?)
    {
        let token = TokenCipher::new(key)
            .open(&stored.access)
            .ok()
            .and_then(|t| String::from_utf8(t).ok());
        if let Some(token) = token {
            match token_client::revoke(app, &apps.http, &token).await {
                Ok(r) => revoked = r,
                Err(e) => {
                    tracing::warn!(%data_source_id, provider, error = %e, "token revocation failed")
                }
            }
        }
    }
    if let Some(trigger) =
        data_sources::disconnect(pool, data_source_id, keep_data, duplicate_window).await?
    {
        crate::metrics::sync_run_cancelled(provider, &trigger);
    }
    Ok(revoked)
}
