//! Queries on `data_sources`, as the API shows them.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A data source with its sync status, scoped to its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DataSourceRow {
    pub id: Uuid,
    pub provider: String,
    pub account_id: String,
    pub account_name: Option<String>,
    pub status: String,
    pub connected_at: DateTime<Utc>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_status: Option<String>,
    pub last_sync_error: Option<String>,
    pub item_count: i64,
    pub sync_in_progress: bool,
}

const SELECT: &str = "
    SELECT ds.id, ds.provider, ds.account_id, ds.account_name, ds.status, ds.connected_at,
           ds.last_sync_at, ds.last_sync_status, ds.last_sync_error,
           (SELECT count(*) FROM items i
             WHERE i.data_source_id = ds.id AND i.deleted_at IS NULL) AS item_count,
           EXISTS (SELECT 1 FROM sync_runs r
             WHERE r.data_source_id = ds.id AND r.status IN ('queued', 'running')) AS sync_in_progress
      FROM data_sources ds";

/// The user's data sources, oldest connection first.
pub async fn list_for_user(pool: &PgPool, user_id: &str) -> sqlx::Result<Vec<DataSourceRow>> {
    let sql = format!("{SELECT} WHERE ds.user_id = $1 ORDER BY ds.connected_at, ds.id");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_all(pool)
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
        .fetch_optional(pool)
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
    .fetch_all(pool)
    .await
}

/// What a sync worker needs of its data source.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncSource {
    pub id: Uuid,
    pub user_id: String,
    pub provider: String,
    pub account_id: String,
    pub status: String,
    pub cursor_state: serde_json::Value,
}

pub async fn load_for_sync(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<SyncSource>> {
    sqlx::query_as(
        "SELECT id, user_id, provider, account_id, status, cursor_state
           FROM data_sources WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Records a sync's end on its source: status, error, and (on success) the merged cursor state.
pub async fn finish_sync(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    succeeded: bool,
    error: Option<&str>,
    cursor_patch: Option<&serde_json::Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE data_sources SET last_sync_at = now(), last_sync_status = $2,
                last_sync_error = $3, cursor_state = cursor_state || COALESCE($4, '{}'::jsonb),
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(if succeeded { "succeeded" } else { "failed" })
    .bind(error)
    .bind(cursor_patch)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets a source's status (`reauth_required` after a revoked token, …).
pub async fn set_status(pool: &PgPool, id: Uuid, status: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE data_sources SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(pool)
        .await?;
    Ok(())
}

/// The provider refused to renew the source's token: the user must reconnect. The scheduler
/// skips such sources; the API shows the status and the reason.
pub async fn mark_reauth_required(pool: &PgPool, id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE data_sources SET status = 'reauth_required', last_sync_error = $2,
                updated_at = now()
          WHERE id = $1 AND status <> 'disconnected'",
    )
    .bind(id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
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
    .fetch_all(pool)
    .await
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
    .fetch_all(pool)
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
                last_sync_error = NULL, updated_at = now()
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

/// Disconnects a source in one transaction: tokens deleted, status `disconnected`, items
/// deleted unless `keep_data` (relinking the user's cross-posts that pointed at them), an
/// active run ended as failed.
pub async fn disconnect(
    pool: &PgPool,
    id: Uuid,
    keep_data: bool,
    duplicate_window: std::time::Duration,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM oauth_tokens WHERE data_source_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if !keep_data {
        super::duplicates::delete_source_items(&mut tx, id, duplicate_window).await?;
    }
    sqlx::query(
        "UPDATE sync_runs SET status = 'failed', error = 'disconnected', finished_at = now()
          WHERE data_source_id = $1 AND status IN ('queued', 'running')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE data_sources SET status = 'disconnected', updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub async fn set_account_name(pool: &PgPool, id: Uuid, name: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE data_sources SET account_name = COALESCE($2, account_name), updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .execute(pool)
    .await?;
    Ok(())
}
