//! Queries on `data_sources`, as the API shows them.
//!
//! **A disconnect sticks.** `disconnected` is left only by a new connect ([`upsert_connected`]):
//! every other write a sync makes on a source (its status, `last_sync_*`, account name) is
//! conditional on the source not being disconnected, and a sync stores a page only in a
//! transaction that holds the source's row ([`lock_for_page`]), which [`disconnect`] takes
//! first — so once a disconnect has committed, nothing more is written for the source.

use super::pinned::pinned;
use chrono::{DateTime, Utc};
use sqlx::{
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
    PgPool, Postgres, Transaction,
};
use uuid::Uuid;

use crate::domain::DataSourceStatus;

/// `data_sources.status` is text holding [`DataSourceStatus::as_str`].
impl sqlx::Type<Postgres> for DataSourceStatus {
    fn type_info() -> PgTypeInfo {
        <&str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for DataSourceStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = <&str as sqlx::Decode<Postgres>>::decode(value)?;
        DataSourceStatus::parse(s).ok_or_else(|| format!("unknown data source status {s:?}").into())
    }
}

impl sqlx::Encode<'_, Postgres> for DataSourceStatus {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as sqlx::Encode<Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

/// A data source with its sync status, scoped to its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DataSourceRow {
    pub id: Uuid,
    pub provider: String,
    pub account_id: String,
    pub account_name: Option<String>,
    pub status: DataSourceStatus,
    pub connected_at: DateTime<Utc>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_status: Option<String>,
    pub last_sync_error: Option<String>,
    pub item_count: i64,
    pub sync_in_progress: bool,
}

// `item_count` is kept by triggers on `items` (migrations/20261207110000_item_count.sql).
const SELECT: &str = "
    SELECT ds.id, ds.provider, ds.account_id, ds.account_name, ds.status, ds.connected_at,
           ds.last_sync_at, ds.last_sync_status, ds.last_sync_error,
           ds.item_count,
           EXISTS (SELECT 1 FROM sync_runs r
             WHERE r.data_source_id = ds.id AND r.status IN ('queued', 'running')) AS sync_in_progress
      FROM data_sources ds";

/// The user's data sources, oldest connection first.
pub async fn list_for_user(pool: &PgPool, user_id: &str) -> sqlx::Result<Vec<DataSourceRow>> {
    let sql = format!("{SELECT} WHERE ds.user_id = $1 ORDER BY ds.connected_at, ds.id");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_all(pinned(pool))
        .await
}

/// One data source, only if it belongs to the user (another user's id looks like a missing one).
pub async fn get_for_user(
    pool: &PgPool,
    user_id: &str,
    id: Uuid,
) -> sqlx::Result<Option<DataSourceRow>> {
    let sql = format!("{SELECT} WHERE ds.user_id = $1 AND ds.id = $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(pinned(pool))
        .await
}

/// Ids of the active sources of these users (of one provider if given), in one query.
pub async fn active_ids_of_users(
    pool: &PgPool,
    user_ids: &[String],
    provider: Option<&str>,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM data_sources
          WHERE user_id = ANY($1) AND status = 'active'
            AND ($2::text IS NULL OR provider = $2)
          ORDER BY user_id, connected_at, id",
    )
    .bind(user_ids)
    .bind(provider)
    .fetch_all(pinned(pool))
    .await
}

/// What a sync worker needs of its data source.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncSource {
    pub id: Uuid,
    pub user_id: String,
    pub provider: String,
    pub account_id: String,
    pub status: DataSourceStatus,
    pub cursor_state: serde_json::Value,
    /// The provider's content version the source's items last matched completely (see the
    /// migration `synced_version`); None: unknown.
    pub synced_version: Option<String>,
}

pub async fn load_for_sync(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<SyncSource>> {
    sqlx::query_as(
        "SELECT id, user_id, provider, account_id, status, cursor_state, synced_version
           FROM data_sources WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pinned(pool))
    .await
}

/// Locks the source's row in a page's transaction (`FOR NO KEY UPDATE`: the disconnect's update
/// waits for the page, or the page for the disconnect; two page transactions of one source
/// queue instead of deadlocking when the last one updates the row; item inserts, which only
/// share the key, are not held up). False: the source is disconnected or gone, and the caller
/// stores nothing.
pub async fn lock_for_page(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> sqlx::Result<bool> {
    let status: Option<DataSourceStatus> =
        sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(status.is_some_and(|s| s != DataSourceStatus::Disconnected))
}

/// Whether the source is disconnected or no longer exists.
pub async fn is_gone(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let status: Option<DataSourceStatus> =
        sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1")
            .bind(id)
            .fetch_optional(pinned(pool))
            .await?;
    Ok(status.is_none_or(|s| s == DataSourceStatus::Disconnected))
}

/// How a sync ended, as its source records it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncEnd<'a> {
    pub succeeded: bool,
    pub error: Option<&'a str>,
    /// Merged into the source's cursor state (on success).
    pub cursor_patch: Option<&'a serde_json::Value>,
    /// The provider's content version the items now match completely (None: keep the stored).
    pub synced_version: Option<&'a str>,
}

/// Records a sync's end on its source: status, error, and (on success) the merged cursor state
/// and the content version its items match. A disconnected source is left as it is.
pub async fn finish_sync(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    end: SyncEnd<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE data_sources SET last_sync_at = now(), last_sync_status = $2,
                last_sync_error = $3, cursor_state = cursor_state || COALESCE($4, '{}'::jsonb),
                synced_version = COALESCE($5, synced_version), updated_at = now()
          WHERE id = $1 AND status <> 'disconnected'",
    )
    .bind(id)
    .bind(if end.succeeded { "succeeded" } else { "failed" })
    .bind(end.error)
    .bind(end.cursor_patch)
    .bind(end.synced_version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets a source's status (`reauth_required` after a revoked token, …), unless it is
/// disconnected: only a new connect reopens a disconnected source.
pub async fn set_status(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    status: DataSourceStatus,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE data_sources SET status = $2, updated_at = now()
          WHERE id = $1 AND status <> 'disconnected'",
    )
    .bind(id)
    .bind(status)
    .execute(conn)
    .await?;
    Ok(())
}

/// The provider refused to renew the source's token: the user must reconnect. The scheduler
/// skips such sources; the API shows the status and the reason. Only while the refused tokens
/// are still the stored ones (`refused`: their sealed access token; a reconnect or another
/// renewal since then wins) and the source is not disconnected; the tokens row records the
/// refusing renewal's `fence` (`refused_fence`), so that a success for the same tokens can undo
/// it (`db::tokens::store_renewed`). One transaction that locks the source row first, as every
/// token write does. False: nothing changed.
pub async fn mark_reauth_required(
    pool: &PgPool,
    id: Uuid,
    reason: &str,
    refused: &[u8],
    fence: i64,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let status: Option<DataSourceStatus> =
        sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if status.is_none_or(|s| s == DataSourceStatus::Disconnected) {
        return Ok(false);
    }
    let marked = sqlx::query(
        "UPDATE oauth_tokens SET refused_fence = $3
          WHERE data_source_id = $1 AND access_token_enc = $2",
    )
    .bind(id)
    .bind(refused)
    .bind(fence)
    .execute(&mut *tx)
    .await?;
    if marked.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE data_sources SET status = 'reauth_required', last_sync_error = $2,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Ids of active sources synced successfully since `since`, after `after`, in id order: the
/// incremental schedule's keyset pages ("recent" sources: their cursor is fresh).
pub async fn recent_ids_after(
    pool: &PgPool,
    since: chrono::DateTime<chrono::Utc>,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    recent_ids_after_except(pool, since, after, limit, &[]).await
}

/// [`recent_ids_after`] without the sources of the `skipped` providers (paused apps).
pub async fn recent_ids_after_except(
    pool: &PgPool,
    since: chrono::DateTime<chrono::Utc>,
    after: Option<Uuid>,
    limit: i64,
    skipped: &[String],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM data_sources
          WHERE status = 'active' AND last_sync_status = 'succeeded' AND last_sync_at >= $1
            AND ($2::uuid IS NULL OR id > $2) AND provider <> ALL($4)
          ORDER BY id LIMIT $3",
    )
    .bind(since)
    .bind(after)
    .bind(limit)
    .bind(skipped)
    .fetch_all(pinned(pool))
    .await
}

/// One keyset page of the fan-out ([`fanout_page`]).
#[derive(Debug, Default)]
pub struct FanoutPage {
    /// The eligible sources among those read.
    pub ids: Vec<Uuid>,
    /// The last source read, eligible or not (None: no source after `after`): the next page's
    /// `after`.
    pub last: Option<Uuid>,
}

/// The next `limit` data sources after `after` in id order, and which of them a fan-out takes:
/// `active`, not of a `skipped` provider, and with `recent_since`, only those whose last sync
/// succeeded since then. The page is read by the primary key alone (`id > $1 ORDER BY id
/// LIMIT`), the one plan PostgreSQL has for it: asked for active sources in id order it chose,
/// without statistics on a freshly filled table, to read every active source through
/// `data_sources_status` and sort them, on every page (quadratic over a million sources).
pub async fn fanout_page(
    pool: &PgPool,
    recent_since: Option<chrono::DateTime<chrono::Utc>>,
    after: Option<Uuid>,
    limit: i64,
    skipped: &[String],
) -> sqlx::Result<FanoutPage> {
    const FIRST: &str = "SELECT id, COALESCE(status = 'active' AND provider <> ALL($3)
                                   AND ($4::timestamptz IS NULL
                                        OR (last_sync_status = 'succeeded'
                                            AND last_sync_at >= $4)), false)
                           FROM data_sources WHERE $1::uuid IS NULL ORDER BY id LIMIT $2";
    const NEXT: &str = "SELECT id, COALESCE(status = 'active' AND provider <> ALL($3)
                                  AND ($4::timestamptz IS NULL
                                       OR (last_sync_status = 'succeeded'
                                           AND last_sync_at >= $4)), false)
                          FROM data_sources WHERE id > $1 ORDER BY id LIMIT $2";
    let rows: Vec<(Uuid, bool)> = sqlx::query_as(if after.is_none() { FIRST } else { NEXT })
        .bind(after)
        .bind(limit)
        .bind(skipped)
        .bind(recent_since)
        .fetch_all(pinned(pool))
        .await?;
    Ok(FanoutPage {
        last: rows.last().map(|r| r.0),
        ids: rows.into_iter().filter(|r| r.1).map(|r| r.0).collect(),
    })
}

/// Ids of syncable (active) data sources after `after`, in id order: keyset pages for fan-out.
pub async fn active_ids_after(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    active_ids_after_except(pool, after, limit, &[]).await
}

/// [`active_ids_after`] without the sources of the `skipped` providers (paused apps).
pub async fn active_ids_after_except(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
    skipped: &[String],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM data_sources
          WHERE status = 'active' AND ($1::uuid IS NULL OR id > $1) AND provider <> ALL($3)
          ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .bind(skipped)
    .fetch_all(pinned(pool))
    .await
}

/// Connects (or reconnects) an account: creates the user if new; the same account again updates
/// the existing source instead of duplicating it. Returns the source's id.
pub async fn upsert_connected(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    provider: &str,
    account_id: &str,
    account_name: Option<&str>,
) -> sqlx::Result<Uuid> {
    sqlx::query("INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "INSERT INTO data_sources (id, user_id, provider, account_id, account_name)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, provider, account_id) DO UPDATE
            SET account_name = EXCLUDED.account_name, status = 'active',
                last_sync_error = NULL, synced_version = NULL, updated_at = now()
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(provider)
    .bind(account_id)
    .bind(account_name)
    .fetch_one(&mut *conn)
    .await
}

/// Disconnects a source in one transaction: status `disconnected` first (the row lock orders it
/// with any page being stored, see [`lock_for_page`]), an active run ended `cancelled`, tokens
/// deleted, items deleted unless `keep_data` (relinking the user's cross-posts that pointed at
/// them). Returns the trigger of the run it cancelled.
pub async fn disconnect(
    pool: &PgPool,
    id: Uuid,
    keep_data: bool,
    duplicate_window: std::time::Duration,
) -> sqlx::Result<Option<String>> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE data_sources SET status = 'disconnected', synced_version = NULL, updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let cancelled: Option<String> = sqlx::query_scalar(
        "UPDATE sync_runs SET status = 'cancelled', error = 'disconnected', finished_at = now(),
                updated_at = now()
          WHERE data_source_id = $1 AND status IN ('queued', 'running')
         RETURNING trigger",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM oauth_tokens WHERE data_source_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if !keep_data {
        super::duplicates::delete_source_items(&mut tx, id, duplicate_window).await?;
    }
    tx.commit().await?;
    Ok(cancelled)
}

pub async fn set_account_name(pool: &PgPool, id: Uuid, name: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE data_sources SET account_name = COALESCE($2, account_name), updated_at = now()
          WHERE id = $1 AND status <> 'disconnected'",
    )
    .bind(id)
    .bind(name)
    .execute(pinned(pool))
    .await?;
    Ok(())
}

/// How many sources each provider has in each status (the `lifesync_data_sources` gauge).
pub async fn count_by_provider_and_status(
    pool: &PgPool,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    sqlx::query_as("SELECT provider, status, count(*) FROM data_sources GROUP BY provider, status")
        .fetch_all(pinned(pool))
        .await
}

/// Each provider's most recent successful sync, in Unix seconds.
pub async fn last_success_by_provider(pool: &PgPool) -> sqlx::Result<Vec<(String, f64)>> {
    sqlx::query_as(
        "SELECT provider, extract(epoch FROM max(last_sync_at))::float8 FROM data_sources
          WHERE last_sync_status = 'succeeded' GROUP BY provider",
    )
    .fetch_all(pinned(pool))
    .await
}

/// The provider of a data source (None: no such source).
pub async fn provider_of(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT provider FROM data_sources WHERE id = $1")
        .bind(id)
        .fetch_optional(pinned(pool))
        .await
}
