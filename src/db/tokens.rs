//! `oauth_tokens`: sealed access and refresh tokens, never plaintext, with the fence of the
//! refresh that wrote them. A connect writes with [`store`]; a renewal only with
//! [`store_renewed`], which never creates a row (a disconnected source stays without tokens)
//! and never replaces tokens other than the ones it renewed.

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
    /// The fence of the refresh that wrote these tokens (0: none since the row was created).
    pub fence: i64,
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

/// Stores a renewal's tokens (sealed with one key) in one statement, only over the tokens it
/// renewed — `renewed`: their sealed access token as it was read; every write seals with a
/// fresh nonce, so equal bytes mean nothing was written since — and only with a newer `fence`
/// than the stored one. False: nothing stored (the tokens changed or are gone).
#[allow(clippy::too_many_arguments)]
pub async fn store_renewed(
    pool: &PgPool,
    data_source_id: Uuid,
    renewed: &[u8],
    fence: i64,
    access: &Sealed,
    refresh: Option<&Sealed>,
    expires_at: Option<DateTime<Utc>>,
    scopes: &[String],
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET key_id = $2, access_token_enc = $3, refresh_token_enc = $4,
                expires_at = $5, scopes = $6, fence = $7, updated_at = now()
          WHERE data_source_id = $1 AND access_token_enc = $8 AND fence < $7",
    )
    .bind(data_source_id)
    .bind(&access.key_id)
    .bind(&access.bytes)
    .bind(refresh.map(|r| &r.bytes))
    .bind(expires_at)
    .bind(scopes)
    .bind(fence)
    .bind(renewed)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// key id, sealed access token, sealed refresh token, expiry, scopes, fence.
type TokenRow = (
    String,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<DateTime<Utc>>,
    Vec<String>,
    i64,
);

pub async fn load(pool: &PgPool, data_source_id: Uuid) -> sqlx::Result<Option<StoredTokens>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT key_id, access_token_enc, refresh_token_enc, expires_at, scopes, fence
           FROM oauth_tokens WHERE data_source_id = $1",
    )
    .bind(data_source_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(key_id, access, refresh, expires_at, scopes, fence)| StoredTokens {
            access: Sealed {
                key_id: key_id.clone(),
                bytes: access,
            },
            refresh: refresh.map(|bytes| Sealed { key_id, bytes }),
            expires_at,
            scopes,
            fence,
        },
    ))
}
