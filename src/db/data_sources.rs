//! Queries on `data_sources`, as the API shows them.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
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
