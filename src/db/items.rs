//! Writing items: one statement per page (a batched upsert), never a round trip per item.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::normalizer::NormalizedItem;

/// What one page did to the store.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageCounts {
    pub new: i32,
    pub updated: i32,
    /// New items whose content already existed in this user's data (`duplicate_of` set).
    pub duplicate: i32,
}

/// Upserts a page of items of one data source. An item seen before is updated in place only
/// when something changed; a new item whose content hash matches an earlier item of the same
/// user points at it through `duplicate_of`.
pub async fn upsert_page(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    data_source_id: Uuid,
    provider: &str,
    items: &[NormalizedItem],
) -> sqlx::Result<PageCounts> {
    if items.is_empty() {
        return Ok(PageCounts::default());
    }
    let rows: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": Uuid::new_v4(),
                "kind": i.kind.as_str(),
                "external_id": i.external_id,
                "occurred_at": i.occurred_at,
                "text": i.text,
                "category": i.category,
                "is_event": i.is_event,
                "event": i.event,
                "mentions": i.mentions,
                "hashtags": i.hashtags,
                "dates": i.dates,
                "location": i.location,
                "media_url": i.media_url,
                "permalink": i.permalink,
                "metrics": i.metrics,
                "content_hash": hex(&i.content_hash),
            })
        })
        .collect();
    let results: Vec<(bool, bool)> = sqlx::query_as(
        "WITH page AS (
             SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
                 id uuid, kind text, external_id text, occurred_at timestamptz, text text,
                 category text, is_event boolean, event jsonb, mentions jsonb, hashtags jsonb,
                 dates jsonb, location jsonb, media_url text, permalink text, metrics jsonb,
                 content_hash text))
         INSERT INTO items (id, data_source_id, user_id, provider, kind, external_id, occurred_at,
                            text, category, is_event, event, mentions, hashtags, dates, location,
                            media_url, permalink, metrics, content_hash, duplicate_of)
         SELECT p.id, $2, $3, $4, p.kind, p.external_id, p.occurred_at, p.text, p.category,
                p.is_event, p.event,
                ARRAY(SELECT jsonb_array_elements_text(p.mentions)),
                ARRAY(SELECT jsonb_array_elements_text(p.hashtags)),
                ARRAY(SELECT jsonb_array_elements_text(p.dates)::date),
                NULLIF(p.location, 'null'::jsonb), p.media_url, p.permalink,
                COALESCE(NULLIF(p.metrics, 'null'::jsonb), '{}'::jsonb),
                decode(p.content_hash, 'hex'),
                (SELECT i.id FROM items i
                  WHERE i.user_id = $3 AND i.content_hash = decode(p.content_hash, 'hex')
                    AND NOT (i.data_source_id = $2 AND i.external_id = p.external_id)
                  ORDER BY i.created_at, i.id LIMIT 1)
           FROM page p
         ON CONFLICT (data_source_id, external_id) DO UPDATE
            SET text = EXCLUDED.text, occurred_at = EXCLUDED.occurred_at,
                category = EXCLUDED.category, is_event = EXCLUDED.is_event,
                event = EXCLUDED.event, mentions = EXCLUDED.mentions,
                hashtags = EXCLUDED.hashtags, dates = EXCLUDED.dates,
                location = EXCLUDED.location, media_url = EXCLUDED.media_url,
                permalink = EXCLUDED.permalink, metrics = EXCLUDED.metrics,
                content_hash = EXCLUDED.content_hash, deleted_at = NULL, updated_at = now()
          WHERE items.content_hash IS DISTINCT FROM EXCLUDED.content_hash
             OR items.metrics IS DISTINCT FROM EXCLUDED.metrics
             OR items.location IS DISTINCT FROM EXCLUDED.location
             OR items.deleted_at IS NOT NULL
         RETURNING (xmax = 0) AS inserted, duplicate_of IS NOT NULL AS duplicate",
    )
    .bind(serde_json::Value::Array(rows))
    .bind(data_source_id)
    .bind(user_id)
    .bind(provider)
    .fetch_all(&mut **tx)
    .await?;
    let mut counts = PageCounts::default();
    for (inserted, duplicate) in results {
        if inserted {
            counts.new += 1;
            if duplicate {
                counts.duplicate += 1;
            }
        } else {
            counts.updated += 1;
        }
    }
    Ok(counts)
}

/// Marks items the provider reported deleted (kept, with `deleted_at`, so a biography can
/// say so; listing skips them). Unknown ids are ignored.
pub async fn mark_deleted(
    tx: &mut Transaction<'_, Postgres>,
    data_source_id: Uuid,
    external_ids: &[String],
) -> sqlx::Result<u64> {
    if external_ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE items SET deleted_at = now(), updated_at = now()
          WHERE data_source_id = $1 AND external_id = ANY($2) AND deleted_at IS NULL",
    )
    .bind(data_source_id)
    .bind(external_ids)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An item as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: Uuid,
    pub data_source_id: Uuid,
    pub provider: String,
    pub kind: String,
    pub external_id: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
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
}

/// Filters of the items listing; `after` is the keyset position (occurred_at, id) to continue
/// after, newest first.
#[derive(Debug, Default, Clone)]
pub struct ItemFilter {
    pub data_source_id: Option<Uuid>,
    pub provider: Option<String>,
    pub kind: Option<String>,
    pub category: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
}

/// One page of a user's items, newest first (deleted ones left out).
pub async fn list_for_user(
    pool: &sqlx::PgPool,
    user_id: &str,
    f: &ItemFilter,
    limit: i64,
) -> sqlx::Result<Vec<ItemRow>> {
    sqlx::query_as(
        "SELECT id, data_source_id, provider, kind, external_id, occurred_at, text, category,
                is_event, event, mentions, hashtags, dates, location, media_url, permalink,
                metrics, duplicate_of
           FROM items
          WHERE user_id = $1 AND deleted_at IS NULL
            AND ($2::uuid IS NULL OR data_source_id = $2)
            AND ($3::text IS NULL OR provider = $3)
            AND ($4::text IS NULL OR kind = $4)
            AND ($5::text IS NULL OR category = $5)
            AND ($6::timestamptz IS NULL OR occurred_at >= $6)
            AND ($7::timestamptz IS NULL OR occurred_at < $7)
            AND ($8::timestamptz IS NULL OR (occurred_at, id) < ($8, $9))
          ORDER BY occurred_at DESC, id DESC
          LIMIT $10",
    )
    .bind(user_id)
    .bind(f.data_source_id)
    .bind(&f.provider)
    .bind(&f.kind)
    .bind(&f.category)
    .bind(f.since)
    .bind(f.until)
    .bind(f.after.map(|a| a.0))
    .bind(f.after.map(|a| a.1))
    .bind(limit)
    .fetch_all(pool)
    .await
}
