//! Disconnecting a data source: revoke its token at the provider where the provider allows it
//! (best effort: a provider outage never blocks a user leaving), then delete its tokens and,
//! unless kept, its items.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    config::TokenKey,
    crypto::TokenCipher,
    db::{data_sources, tokens},
    providers::twitter::TwitterClient,
};

/// What revoking needs: the token key and the provider clients' credentials.
pub struct Revocation {
    pub token_key: TokenKey,
    pub http: reqwest::Client,
    /// Twitter's client id, secret and API base (None: Twitter not configured).
    pub twitter: Option<(String, String, Option<url::Url>)>,
}

/// Whether the provider accepted the revocation (false: not attempted or refused).
pub async fn disconnect(
    pool: &PgPool,
    revocation: Option<&Revocation>,
    data_source_id: Uuid,
    provider: &str,
    keep_data: bool,
) -> sqlx::Result<bool> {
    let mut revoked = false;
    if let (Some(r), "twitter") = (revocation, provider) {
        if let (Some((id, secret, base)), Some(stored)) =
            (&r.twitter, tokens::load(pool, data_source_id).await?)
        {
            let token = TokenCipher::new(&r.token_key)
                .open(&stored.access)
                .ok()
                .and_then(|t| String::from_utf8(t).ok());
            if let Some(token) = token {
                match TwitterClient::new(r.http.clone(), base.as_ref())
                    .revoke(&token, id, secret)
                    .await
                {
                    Ok(()) => revoked = true,
                    Err(e) => {
                        tracing::warn!(%data_source_id, error = %e, "token revocation failed")
                    }
                }
            }
        }
    }
    data_sources::disconnect(pool, data_source_id, keep_data).await?;
    Ok(revoked)
}
