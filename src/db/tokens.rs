//! `oauth_tokens`: sealed access and refresh tokens, never plaintext.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::crypto::Sealed;

/// A data source's sealed tokens.
pub struct StoredTokens {
    pub access: Sealed,
    pub refresh: Option<Sealed>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

/// Stores (or replaces) a data source's tokens; both must be sealed with the same key.
pub async fn store(
    db: impl sqlx::PgExecutor<'_>,
    data_source_id: Uuid,
    access: &Sealed,
    refresh: Option<&Sealed>,
    expires_at: Option<DateTime<Utc>>,
    scopes: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_tokens (data_source_id, key_id, access_token_enc, refresh_token_enc,
                                   expires_at, scopes)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (data_source_id) DO UPDATE
            SET key_id = EXCLUDED.key_id, access_token_enc = EXCLUDED.access_token_enc,
                refresh_token_enc = EXCLUDED.refresh_token_enc, expires_at = EXCLUDED.expires_at,
                scopes = EXCLUDED.scopes, updated_at = now()",
    )
    .bind(data_source_id)
    .bind(&access.key_id)
    .bind(&access.bytes)
    .bind(refresh.map(|r| &r.bytes))
    .bind(expires_at)
    .bind(scopes)
    .execute(db)
    .await?;
    Ok(())
}

/// key id, sealed access token, sealed refresh token, expiry, scopes.
type TokenRow = (
    String,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<DateTime<Utc>>,
    Vec<String>,
);

pub async fn load(pool: &PgPool, data_source_id: Uuid) -> sqlx::Result<Option<StoredTokens>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT key_id, access_token_enc, refresh_token_enc, expires_at, scopes
           FROM oauth_tokens WHERE data_source_id = $1",
    )
    .bind(data_source_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(key_id, access, refresh, expires_at, scopes)| StoredTokens {
            access: Sealed {
                key_id: key_id.clone(),
                bytes: access,
            },
            refresh: refresh.map(|bytes| Sealed { key_id, bytes }),
            expires_at,
            scopes,
        },
    ))
}
