//! `oauth_tokens`: sealed access and refresh tokens, never plaintext, with the fence of the
//! refresh that wrote them and, after a refusal, the fence of the refresh that was refused. A
//! connect writes with [`store`]; a renewal only with [`store_renewed`], which never creates a
//! row (a disconnected source stays without tokens) and never replaces tokens other than the
//! ones it renewed.
//!
//! **A refusal and a success for the same tokens** (`src/oauth/tokens.rs` has the whole story):
//! a refusal marks the tokens it refused (`refused_fence`) in the statement that makes the
//! source `reauth_required` (`db::data_sources::mark_reauth_required`). A renewal that later
//! stores tokens renewed from those very tokens proves the refusal wrong — the provider
//! honoured the refresh token the refusal was about, so it had been spent by this renewal, not
//! revoked — and reopens the source (`reauth_required` → `active`) in the same transaction.
//! The order of the two fences does not matter: in the race this settles the refusal holds
//! the *newer* fence (it was sent by the successor of a holder that stalled past its lease
//! after its request reached the provider), and dropping the older holder's tokens would lose
//! the only refresh token a single-use provider (Twitter) still honours. The fence keeps
//! ordering token *writes* only: a renewal never overwrites tokens written under a newer fence.
//! A source made `reauth_required` by anything else than a refusal of the stored tokens (a
//! token of another account, a key that no longer opens them) is never reopened by a renewal.
//!
//! Writers of a source's tokens and its status lock the source row first (`FOR NO KEY UPDATE`,
//! as the page transaction does), so a refusal and a success cannot interleave inside their
//! statements.

use super::pinned::pinned;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{crypto::Sealed, domain::DataSourceStatus};

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
    conn: &mut PgConnection,
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
                scopes = EXCLUDED.scopes, refused_fence = NULL, updated_at = now()",
    )
    .bind(data_source_id)
    .bind(&access.key_id)
    .bind(&access.bytes)
    .bind(refresh.map(|r| &r.bytes))
    .bind(expires_at)
    .bind(scopes)
    .execute(conn)
    .await?;
    Ok(())
}

/// What [`store_renewed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// Nothing stored: the tokens changed since the renewal read them, are gone, or were
    /// written under a newer fence.
    NotStored,
    /// Stored over the tokens it renewed.
    Stored,
    /// Stored, and the source reopened: a refusal (under `refused_fence`) of the very tokens
    /// this renewal renewed had made it `reauth_required`.
    Reopened { refused_fence: i64 },
}

/// Stores a renewal's tokens (sealed with one key), only over the tokens it renewed —
/// `renewed`: their sealed access token as it was read; every write seals with a fresh nonce,
/// so equal bytes mean nothing was written since — and only with a newer `fence` than the
/// stored one. When a refusal of those tokens had made the source `reauth_required`, the
/// source becomes `active` again in the same transaction (see the module docs).
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
) -> sqlx::Result<Renewed> {
    let mut tx = pool.begin().await?;
    let status: Option<DataSourceStatus> =
        sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1 FOR NO KEY UPDATE")
            .bind(data_source_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(status) = status else {
        return Ok(Renewed::NotStored);
    };
    // The refusal mark as it was before this write clears it (the row is locked by the CTE).
    let refused: Option<Option<i64>> = sqlx::query_scalar(
        "WITH old AS (SELECT refused_fence FROM oauth_tokens
                       WHERE data_source_id = $1 FOR UPDATE)
         UPDATE oauth_tokens t SET key_id = $2, access_token_enc = $3, refresh_token_enc = $4,
                expires_at = $5, scopes = $6, fence = $7, refused_fence = NULL,
                updated_at = now()
           FROM old
          WHERE t.data_source_id = $1 AND t.access_token_enc = $8 AND t.fence < $7
         RETURNING old.refused_fence",
    )
    .bind(data_source_id)
    .bind(&access.key_id)
    .bind(&access.bytes)
    .bind(refresh.map(|r| &r.bytes))
    .bind(expires_at)
    .bind(scopes)
    .bind(fence)
    .bind(renewed)
    .fetch_optional(&mut *tx)
    .await?;
    let out = match refused {
        None => Renewed::NotStored,
        Some(Some(refused_fence)) if status == DataSourceStatus::ReauthRequired => {
            sqlx::query(
                "UPDATE data_sources SET status = 'active', updated_at = now() WHERE id = $1",
            )
            .bind(data_source_id)
            .execute(&mut *tx)
            .await?;
            Renewed::Reopened { refused_fence }
        }
        Some(_) => Renewed::Stored,
    };
    tx.commit().await?;
    Ok(out)
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
    .fetch_optional(pinned(pool))
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
