//! The timeline's tables (`timeline_entries`, `timeline_entry_items`, `timeline_state`,
//! migration `20261207130000_timeline`): what a build reads (a user's live items, what changed
//! since the last build) and writes (its entries, replacing those of the window it rebuilt, in
//! one transaction), and what the API lists.

use super::pinned::pinned;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// An item as a build reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineItemRow {
    pub id: Uuid,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub text: String,
    pub hashtags: Vec<String>,
    pub category: Option<String>,
    pub event: Option<serde_json::Value>,
    pub location: Option<serde_json::Value>,
    pub duplicate_of: Option<Uuid>,
}

/// Where a user's timeline stands.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineState {
    pub built_seq: i64,
    pub home_lat: Option<f64>,
    pub home_lon: Option<f64>,
}

/// Opens a build's transaction, holding the user's build lock (two builds of one user never
/// interleave). The change number is read before the items: an item written meanwhile is
/// either read now or has a higher number, so the next build reads it (never lost, at worst
/// built twice).
pub async fn begin_build(
    pool: &PgPool,
    user_id: &str,
) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('timeline:' || $1, 0))")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The user's current item change number (0 before any write).
pub async fn current_seq(tx: &mut Transaction<'_, Postgres>, user_id: &str) -> sqlx::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT seq FROM item_change_counters WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(0),
    )
}

pub async fn state(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
) -> sqlx::Result<Option<TimelineState>> {
    sqlx::query_as("SELECT built_seq, home_lat, home_lon FROM timeline_state WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await
}

/// The change number the user's timeline was last built from (None: never built).
pub async fn built_seq(pool: &PgPool, user_id: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT built_seq FROM timeline_state WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(pinned(pool))
        .await
}

/// Whether the user's items changed since the timeline was last built (or it never was).
pub async fn needs_build(pool: &PgPool, user_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT COALESCE((SELECT seq FROM item_change_counters WHERE user_id = $1), 0)
                > COALESCE((SELECT built_seq FROM timeline_state WHERE user_id = $1), -1)
             OR EXISTS (SELECT 1 FROM timeline_entries WHERE user_id = $1 AND dirty)",
    )
    .bind(user_id)
    .fetch_one(pinned(pool))
    .await
}

/// Up to `limit` users whose items changed after the change number their timeline was built
/// from (or who have items and no timeline yet).
pub async fn stale_users(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT c.user_id FROM item_change_counters c
           LEFT JOIN timeline_state t ON t.user_id = c.user_id
          WHERE c.seq > COALESCE(t.built_seq, -1)
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pinned(pool))
    .await
}

/// The times that changed after change `seq`: each changed item's time and event start
/// (as stored), and the spans of the entries holding a changed item or marked dirty (an item
/// of theirs was deleted). At most `limit` rows.
pub async fn changed_since(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<(DateTime<Utc>, Option<String>)>> {
    sqlx::query_as(
        "(SELECT i.occurred_at, i.event->>'start' FROM items i
           WHERE i.user_id = $1 AND i.change_seq > $2 LIMIT $3)
         UNION ALL
         (SELECT e.start_at, NULL FROM timeline_entries e
           WHERE e.user_id = $1 AND (e.dirty OR e.id IN (
                 SELECT ei.entry_id FROM timeline_entry_items ei JOIN items i ON i.id = ei.item_id
                  WHERE i.user_id = $1 AND i.change_seq > $2))
           LIMIT $3)
         UNION ALL
         (SELECT e.end_at, NULL FROM timeline_entries e
           WHERE e.user_id = $1 AND (e.dirty OR e.id IN (
                 SELECT ei.entry_id FROM timeline_entry_items ei JOIN items i ON i.id = ei.item_id
                  WHERE i.user_id = $1 AND i.change_seq > $2))
           LIMIT $3)",
    )
    .bind(user_id)
    .bind(seq)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// The user's live items (not deleted, from sources not disconnected); with a window, those
/// that occurred in it plus every event item (a booking mail arrives long before its start).
pub async fn load_items(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> sqlx::Result<Vec<TimelineItemRow>> {
    const COLUMNS: &str = "SELECT i.id, i.kind, i.occurred_at, i.text, i.hashtags, i.category,
                                  i.event, i.location, i.duplicate_of
                             FROM items i JOIN data_sources d ON d.id = i.data_source_id
                            WHERE i.user_id = $1 AND i.deleted_at IS NULL
                              AND d.status <> 'disconnected'";
    match window {
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(COLUMNS))
                .bind(user_id)
                .fetch_all(&mut **tx)
                .await
        }
        Some((from, to)) => {
            // Two index scans (by time; event mails by category), not one scan of the user.
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} AND i.occurred_at >= $2 AND i.occurred_at < $3
                 UNION ALL
                 {COLUMNS} AND i.category IN ('TRAVEL_FLIGHT', 'TRAVEL_HOTEL', 'EVENT_TICKET', 'BOOKING')
                   AND i.is_event AND NOT (i.occurred_at >= $2 AND i.occurred_at < $3)"
            )))
            .bind(user_id)
            .bind(from)
            .bind(to)
            .fetch_all(&mut **tx)
            .await
        }
    }
}

/// An entry to store.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub id: Uuid,
    pub entry_type: &'static str,
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub place_name: Option<String>,
    pub place_lat: Option<f64>,
    pub place_lon: Option<f64>,
    pub confidence: f32,
    pub rule: &'static str,
    pub items: Vec<(Uuid, &'static str)>,
}

/// Replaces the user's entries — all of them, or (with a window) those starting in it and the
/// dirty ones — by `entries`, and records the build (`seq`, home). Returns (deleted, inserted).
pub async fn replace(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    entries: &[NewEntry],
    seq: i64,
    home: Option<(f64, f64)>,
) -> sqlx::Result<(u64, u64)> {
    let deleted = match window {
        None => {
            sqlx::query("DELETE FROM timeline_entries WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?
        }
        Some((from, to)) => {
            sqlx::query(
                "DELETE FROM timeline_entries WHERE user_id = $1
                    AND ((start_at >= $2 AND start_at < $3) OR dirty)",
            )
            .bind(user_id)
            .bind(from)
            .bind(to)
            .execute(&mut **tx)
            .await?
        }
    }
    .rows_affected();
    let ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
    let types: Vec<&str> = entries.iter().map(|e| e.entry_type).collect();
    let titles: Vec<&str> = entries.iter().map(|e| e.title.as_str()).collect();
    let starts: Vec<DateTime<Utc>> = entries.iter().map(|e| e.start).collect();
    let ends: Vec<DateTime<Utc>> = entries.iter().map(|e| e.end).collect();
    let names: Vec<Option<&str>> = entries.iter().map(|e| e.place_name.as_deref()).collect();
    let lats: Vec<Option<f64>> = entries.iter().map(|e| e.place_lat).collect();
    let lons: Vec<Option<f64>> = entries.iter().map(|e| e.place_lon).collect();
    let confidences: Vec<f32> = entries.iter().map(|e| e.confidence).collect();
    let rules: Vec<&str> = entries.iter().map(|e| e.rule).collect();
    // An entry id already present outside the window (kept) is not written twice.
    let inserted = sqlx::query(
        "INSERT INTO timeline_entries (id, user_id, type, title, start_at, end_at, place_name,
                                       place_lat, place_lon, confidence, rule)
         SELECT x.id, $1, x.type, x.title, x.start_at, x.end_at, x.place_name, x.place_lat,
                x.place_lon, x.confidence, x.rule
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                       $7::text[], $8::float8[], $9::float8[], $10::real[], $11::text[])
             AS x(id, type, title, start_at, end_at, place_name, place_lat, place_lon,
                  confidence, rule)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(user_id)
    .bind(&ids)
    .bind(&types)
    .bind(&titles)
    .bind(&starts)
    .bind(&ends)
    .bind(&names)
    .bind(&lats)
    .bind(&lons)
    .bind(&confidences)
    .bind(&rules)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let mut entry_ids = Vec::new();
    let mut item_ids = Vec::new();
    let mut roles = Vec::new();
    for e in entries {
        for (item, role) in &e.items {
            entry_ids.push(e.id);
            item_ids.push(*item);
            roles.push(*role);
        }
    }
    sqlx::query(
        "INSERT INTO timeline_entry_items (entry_id, item_id, role)
         SELECT x.entry_id, x.item_id, x.role
           FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS x(entry_id, item_id, role)
          WHERE EXISTS (SELECT 1 FROM items i WHERE i.id = x.item_id)
         ON CONFLICT DO NOTHING",
    )
    .bind(&entry_ids)
    .bind(&item_ids)
    .bind(&roles)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO timeline_state (user_id, built_seq, home_lat, home_lon, built_at)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (user_id) DO UPDATE
            SET built_seq = EXCLUDED.built_seq, home_lat = EXCLUDED.home_lat,
                home_lon = EXCLUDED.home_lon, built_at = now()",
    )
    .bind(user_id)
    .bind(seq)
    .bind(home.map(|h| h.0))
    .bind(home.map(|h| h.1))
    .execute(&mut **tx)
    .await?;
    Ok((deleted, inserted))
}

/// An entry as the API shows it (its items separately: [`entry_items`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub entry_type: String,
    pub title: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub place_name: Option<String>,
    pub place_lat: Option<f64>,
    pub place_lon: Option<f64>,
    pub confidence: f32,
    pub rule: String,
}

/// Filters of the timeline listing; `after` is the keyset position (start, id) to continue
/// after, newest first.
#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    pub entry_type: Option<String>,
    /// Entries ending at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Entries starting before this.
    pub until: Option<DateTime<Utc>>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

const ENTRY_COLUMNS: &str = "SELECT e.id, e.type, e.title, e.start_at, e.end_at, e.place_name,
                                    e.place_lat, e.place_lon, e.confidence, e.rule
                               FROM timeline_entries e";

/// One page of the user's entries, newest first. Only the filters present become predicates
/// (as for items).
pub async fn list_for_user(
    pool: &PgPool,
    user_id: &str,
    f: &EntryFilter,
    limit: i64,
) -> sqlx::Result<Vec<EntryRow>> {
    let mut q = sqlx::QueryBuilder::<Postgres>::new(ENTRY_COLUMNS);
    q.push(" WHERE e.user_id = ").push_bind(user_id.to_string());
    if let Some(t) = &f.entry_type {
        q.push(" AND e.type = ").push_bind(t.clone());
    }
    if let Some(s) = f.since {
        q.push(" AND e.end_at >= ").push_bind(s);
    }
    if let Some(u) = f.until {
        q.push(" AND e.start_at < ").push_bind(u);
    }
    if let Some((at, id)) = f.after {
        q.push(" AND (e.start_at, e.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY e.start_at DESC, e.id DESC LIMIT ")
        .push_bind(limit);
    q.build_query_as().fetch_all(pinned(pool)).await
}

/// One of the user's entries.
pub async fn get_for_user(
    pool: &PgPool,
    user_id: &str,
    id: Uuid,
) -> sqlx::Result<Option<EntryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ENTRY_COLUMNS} WHERE e.user_id = $1 AND e.id = $2"
    )))
    .bind(user_id)
    .bind(id)
    .fetch_optional(pinned(pool))
    .await
}

/// The live items of these entries (not deleted, from sources not disconnected), as
/// (entry, item, role), by entry then item.
pub async fn entry_items(
    pool: &PgPool,
    entries: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Uuid, String)>> {
    sqlx::query_as(
        "SELECT ei.entry_id, ei.item_id, ei.role
           FROM timeline_entry_items ei
           JOIN items i ON i.id = ei.item_id
           JOIN data_sources d ON d.id = i.data_source_id
          WHERE ei.entry_id = ANY($1) AND i.deleted_at IS NULL AND d.status <> 'disconnected'
          ORDER BY ei.entry_id, ei.item_id",
    )
    .bind(entries)
    .fetch_all(pinned(pool))
    .await
}
