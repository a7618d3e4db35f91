//! A user as a whole: the erase fence, what the erase needs to revoke, the erase itself, and
//! the export's snapshot reads. Every table that holds a user's data is reached from here;
//! a new one adds its deletion to [`delete_user`] and its lines to the export
//! (`tests/it/erase.rs` scans every table of the schema for what an erase left behind).

use super::pinned::pinned;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::crypto::Sealed;

/// Fences the user's data before an erase: every source of theirs becomes `disconnected` in
/// one statement, so from its commit on no sync stores anything for them, the scheduler
/// skips them and no manual sync starts (`409 disconnected`). Returns the sources fenced.
pub async fn fence_for_erase(pool: &PgPool, user_id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE data_sources SET status = 'disconnected', updated_at = now()
          WHERE user_id = $1 AND status <> 'disconnected'",
    )
    .bind(user_id)
    .execute(pinned(pool))
    .await?;
    Ok(done.rows_affected())
}

/// A source of the user with what revoking its grant needs.
#[derive(Debug, Clone)]
pub struct SourceToRevoke {
    pub id: Uuid,
    pub provider: String,
    pub account_id: String,
    /// Sealed access and refresh tokens (None: the source has no tokens left).
    pub access: Option<Sealed>,
    pub refresh: Option<Sealed>,
}

type RevokeRow = (
    Uuid,
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// Every source of the user, with its sealed tokens.
pub async fn sources_to_revoke(pool: &PgPool, user_id: &str) -> sqlx::Result<Vec<SourceToRevoke>> {
    let rows: Vec<RevokeRow> = sqlx::query_as(
        "SELECT ds.id, ds.provider, ds.account_id, t.key_id, t.access_token_enc,
                t.refresh_token_enc
           FROM data_sources ds LEFT JOIN oauth_tokens t ON t.data_source_id = ds.id
          WHERE ds.user_id = $1
          ORDER BY ds.id",
    )
    .bind(user_id)
    .fetch_all(pinned(pool))
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, provider, account_id, key_id, access, refresh)| {
            let seal = |bytes: Option<Vec<u8>>| {
                Some(Sealed {
                    key_id: key_id.clone()?,
                    bytes: bytes?,
                })
            };
            SourceToRevoke {
                id,
                provider,
                account_id,
                access: seal(access),
                refresh: seal(refresh),
            }
        })
        .collect())
}

/// Deletes the user and everything of theirs in one transaction: items, sync runs, tokens,
/// sources, the user row. Other users' items that pointed at one of theirs as `duplicate_of`
/// lose that link. Idempotent: a user already gone deletes nothing. Returns the rows deleted.
pub async fn delete_user(pool: &PgPool, user_id: &str) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let mut total = 0;
    // Explicit order, children first (the cascades would do it too; this keeps each step's
    // row count visible and the big item delete in one indexed statement).
    for sql in [
        "DELETE FROM items WHERE user_id = $1",
        "DELETE FROM sync_runs WHERE data_source_id IN
           (SELECT id FROM data_sources WHERE user_id = $1)",
        "DELETE FROM oauth_tokens WHERE data_source_id IN
           (SELECT id FROM data_sources WHERE user_id = $1)",
        "DELETE FROM data_sources WHERE user_id = $1",
        // Webhook endpoints take their deliveries and attempts with them; events go too.
        "DELETE FROM webhook_endpoints WHERE user_id = $1",
        "DELETE FROM webhook_events WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        total += sqlx::query(sql)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(total)
}

/// Opens a read-only snapshot for an export: every read in the transaction sees the same
/// committed state, whatever syncs commit meanwhile. Dropping it rolls back.
pub async fn begin_snapshot(
    pool: &PgPool,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// A data source as exported (no token, no cursor).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ExportSource {
    pub id: Uuid,
    pub provider: String,
    pub account_id: String,
    pub account_name: Option<String>,
    pub status: String,
    pub connected_at: DateTime<Utc>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_status: Option<String>,
    pub last_sync_error: Option<String>,
}

/// A sync run as exported.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ExportRun {
    pub id: Uuid,
    pub data_source_id: Uuid,
    pub mode: String,
    pub trigger: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub items_fetched: i32,
    pub items_new: i32,
    pub items_updated: i32,
    pub items_duplicate: i32,
    pub error: Option<String>,
}

/// An item as exported: the API's fields plus its deletion and bookkeeping times.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ExportItem {
    pub id: Uuid,
    pub data_source_id: Uuid,
    pub provider: String,
    pub kind: String,
    pub external_id: String,
    pub occurred_at: DateTime<Utc>,
    pub text: String,
    pub category: Option<String>,
    pub is_event: bool,
    pub event: Option<serde_json::Value>,
    pub mentions: Vec<String>,
    pub hashtags: Vec<String>,
    pub dates: Vec<chrono::NaiveDate>,
    pub location: Option<serde_json::Value>,
    pub media_url: Option<String>,
    pub permalink: Option<String>,
    pub metrics: serde_json::Value,
    pub duplicate_of: Option<Uuid>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The user's sources, streamed in connection order.
pub fn export_sources<'c>(
    conn: &'c mut PgConnection,
    user_id: &'c str,
) -> BoxStream<'c, sqlx::Result<ExportSource>> {
    sqlx::query_as(
        "SELECT id, provider, account_id, account_name, status, connected_at, last_sync_at,
                last_sync_status, last_sync_error
           FROM data_sources WHERE user_id = $1 ORDER BY connected_at, id",
    )
    .bind(user_id)
    .fetch(conn)
}

/// The runs of the user's sources, streamed oldest first.
pub fn export_runs<'c>(
    conn: &'c mut PgConnection,
    user_id: &'c str,
) -> BoxStream<'c, sqlx::Result<ExportRun>> {
    sqlx::query_as(
        "SELECT r.id, r.data_source_id, r.mode, r.trigger, r.status, r.created_at, r.started_at,
                r.finished_at, r.items_fetched, r.items_new, r.items_updated, r.items_duplicate,
                r.error
           FROM sync_runs r JOIN data_sources ds ON ds.id = r.data_source_id
          WHERE ds.user_id = $1
          ORDER BY r.created_at, r.id",
    )
    .bind(user_id)
    .fetch(conn)
}

/// The user's items (deleted ones too, marked), streamed newest first through the
/// `items_by_user` index: rows arrive as PostgreSQL produces them, never all in memory.
pub fn export_items<'c>(
    conn: &'c mut PgConnection,
    user_id: &'c str,
) -> BoxStream<'c, sqlx::Result<ExportItem>> {
    sqlx::query_as(
        "SELECT id, data_source_id, provider, kind, external_id, occurred_at, text, category,
                is_event, event, mentions, hashtags, dates, location, media_url, permalink,
                metrics, duplicate_of, deleted_at, created_at, updated_at
           FROM items WHERE user_id = $1
          ORDER BY occurred_at DESC, id DESC",
    )
    .bind(user_id)
    .fetch(conn)
}
