//! Writing items: one statement per page (a batched upsert), never a round trip per item.
//! `duplicate_of` is not set here but by [`super::duplicates`], in the same transaction.

use super::pinned::pinned;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::domain::NormalizedItem;

/// What one page did to the store.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageCounts {
    pub new: i32,
    pub updated: i32,
    /// New items that are a cross-post of an earlier item (`duplicate_of` set).
    pub duplicate: i32,
}

/// The rows one page wrote.
#[derive(Debug, Default)]
pub struct PageWrite {
    /// `new` and `updated`; `duplicate` is counted by [`super::duplicates::relink`].
    pub counts: PageCounts,
    /// Every row inserted or changed.
    pub written: Vec<Uuid>,
    /// The rows inserted.
    pub inserted: Vec<Uuid>,
}

/// Upserts a page of items of one data source. An item seen before is updated in place only
/// when something changed (content, link key, time, metrics, event, location, or its media
/// URL: signed CDN URLs are re-issued by the provider and the stored one expires).
pub async fn upsert_page(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    data_source_id: Uuid,
    provider: &str,
    items: &[NormalizedItem],
) -> sqlx::Result<PageWrite> {
    if items.is_empty() {
        return Ok(PageWrite::default());
    }
    // One typed array per column (`unnest`), not a JSON document per page. Multi-valued
    // fields (mentions, hashtags, dates) travel as one string per item joined by U+001F, a
    // control character that never occurs in a handle, a tag or a date.
    const SEP: char = '\u{1f}';
    let join = |v: &[String]| v.join(&SEP.to_string());
    let ids: Vec<Uuid> = items.iter().map(|_| Uuid::new_v4()).collect();
    let kinds: Vec<&str> = items.iter().map(|i| i.kind.as_str()).collect();
    let external_ids: Vec<&str> = items.iter().map(|i| i.external_id.as_str()).collect();
    let occurred: Vec<chrono::DateTime<chrono::Utc>> =
        items.iter().map(|i| i.occurred_at).collect();
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let categories: Vec<Option<&str>> = items.iter().map(|i| i.category).collect();
    let is_event: Vec<bool> = items.iter().map(|i| i.is_event).collect();
    let events: Vec<Option<serde_json::Value>> = items.iter().map(|i| i.event.clone()).collect();
    let mentions: Vec<String> = items.iter().map(|i| join(&i.mentions)).collect();
    let hashtags: Vec<String> = items.iter().map(|i| join(&i.hashtags)).collect();
    let dates: Vec<String> = items
        .iter()
        .map(|i| {
            i.dates
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(&SEP.to_string())
        })
        .collect();
    let locations: Vec<Option<serde_json::Value>> = items
        .iter()
        .map(|i| {
            i.location
                .as_ref()
                .and_then(|l| serde_json::to_value(l).ok())
        })
        .collect();
    let media: Vec<Option<&str>> = items.iter().map(|i| i.media_url.as_deref()).collect();
    let permalinks: Vec<Option<&str>> = items.iter().map(|i| i.permalink.as_deref()).collect();
    let metrics: Vec<serde_json::Value> = items
        .iter()
        .map(|i| match &i.metrics {
            serde_json::Value::Null => serde_json::json!({}),
            m => m.clone(),
        })
        .collect();
    let hashes: Vec<Vec<u8>> = items.iter().map(|i| i.content_hash.to_vec()).collect();
    let link_keys: Vec<Option<Vec<u8>>> = items
        .iter()
        .map(|i| i.link_key.map(|k| k.to_vec()))
        .collect();
    let results: Vec<(Uuid, bool)> = sqlx::query_as(
        "WITH page AS (
             SELECT * FROM unnest($4::uuid[], $5::text[], $6::text[], $7::timestamptz[],
                                  $8::text[], $9::text[], $10::bool[], $11::jsonb[], $12::text[],
                                  $13::text[], $14::text[], $15::jsonb[], $16::text[], $17::text[],
                                  $18::jsonb[], $19::bytea[], $20::bytea[])
                 AS x(id, kind, external_id, occurred_at, text, category, is_event, event,
                      mentions, hashtags, dates, location, media_url, permalink, metrics,
                      content_hash, link_key))
         INSERT INTO items (id, data_source_id, user_id, provider, kind, external_id, occurred_at,
                            text, category, is_event, event, mentions, hashtags, dates, location,
                            media_url, permalink, metrics, content_hash, link_key)
         SELECT p.id, $1, $2, $3, p.kind, p.external_id, p.occurred_at, p.text, p.category,
                p.is_event, p.event,
                string_to_array(p.mentions, E'\\x1f'),
                string_to_array(p.hashtags, E'\\x1f'),
                string_to_array(p.dates, E'\\x1f')::date[],
                p.location, p.media_url, p.permalink, p.metrics,
                p.content_hash, p.link_key
           FROM page p
         ON CONFLICT (data_source_id, external_id) DO UPDATE
            SET text = EXCLUDED.text, occurred_at = EXCLUDED.occurred_at,
                category = EXCLUDED.category, is_event = EXCLUDED.is_event,
                event = EXCLUDED.event, mentions = EXCLUDED.mentions,
                hashtags = EXCLUDED.hashtags, dates = EXCLUDED.dates,
                location = EXCLUDED.location, media_url = EXCLUDED.media_url,
                permalink = EXCLUDED.permalink, metrics = EXCLUDED.metrics,
                content_hash = EXCLUDED.content_hash, link_key = EXCLUDED.link_key,
                deleted_at = NULL, updated_at = now()
          WHERE items.content_hash IS DISTINCT FROM EXCLUDED.content_hash
             OR items.link_key IS DISTINCT FROM EXCLUDED.link_key
             OR items.occurred_at IS DISTINCT FROM EXCLUDED.occurred_at
             OR items.metrics IS DISTINCT FROM EXCLUDED.metrics
             OR items.event IS DISTINCT FROM EXCLUDED.event
             OR items.location IS DISTINCT FROM EXCLUDED.location
             OR items.media_url IS DISTINCT FROM EXCLUDED.media_url
             OR items.deleted_at IS NOT NULL
         RETURNING id, (xmax = 0) AS inserted",
    )
    .bind(data_source_id)
    .bind(user_id)
    .bind(provider)
    .bind(&ids)
    .bind(&kinds)
    .bind(&external_ids)
    .bind(&occurred)
    .bind(&texts)
    .bind(&categories)
    .bind(&is_event)
    .bind(&events)
    .bind(&mentions)
    .bind(&hashtags)
    .bind(&dates)
    .bind(&locations)
    .bind(&media)
    .bind(&permalinks)
    .bind(&metrics)
    .bind(&hashes)
    .bind(&link_keys)
    .fetch_all(&mut **tx)
    .await?;
    let mut page = PageWrite::default();
    for (id, inserted) in results {
        page.written.push(id);
        if inserted {
            page.counts.new += 1;
            page.inserted.push(id);
        } else {
            page.counts.updated += 1;
        }
    }
    Ok(page)
}

/// Marks items the provider reported deleted (kept, with `deleted_at`, so a biography can
/// say so; listing skips them). Unknown ids are ignored. Returns the ids marked.
pub async fn mark_deleted(
    tx: &mut Transaction<'_, Postgres>,
    data_source_id: Uuid,
    external_ids: &[String],
) -> sqlx::Result<Vec<Uuid>> {
    if external_ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "UPDATE items SET deleted_at = now(), updated_at = now()
          WHERE data_source_id = $1 AND external_id = ANY($2) AND deleted_at IS NULL
          RETURNING id",
    )
    .bind(data_source_id)
    .bind(external_ids)
    .fetch_all(&mut **tx)
    .await
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
///
/// Only the filters present become predicates (no catch-all `($n IS NULL OR …)`): a generic
/// plan of a catch-all query cannot know which filters are set, and stops using the
/// per-source, per-kind and per-category indexes; this way every shape of the query has its
/// own statement, planned for the filters it has.
pub async fn list_for_user(
    pool: &sqlx::PgPool,
    user_id: &str,
    f: &ItemFilter,
    limit: i64,
) -> sqlx::Result<Vec<ItemRow>> {
    list_query("", user_id, f, limit)
        .build_query_as()
        .fetch_all(pinned(pool))
        .await
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of [`list_for_user`]'s query, one plan line per row (for
/// `lifesync bench scale` and BENCHMARKS.md).
pub async fn explain_list_for_user(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    f: &ItemFilter,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    list_query("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ", user_id, f, limit)
        .build_query_scalar()
        .fetch_all(conn)
        .await
}

fn list_query(
    prefix: &str,
    user_id: &str,
    f: &ItemFilter,
    limit: i64,
) -> sqlx::QueryBuilder<Postgres> {
    let mut q = sqlx::QueryBuilder::new(format!(
        "{prefix}SELECT id, data_source_id, provider, kind, external_id, occurred_at, text,
                category, is_event, event, mentions, hashtags, dates, location, media_url,
                permalink, metrics, duplicate_of
           FROM items
          WHERE deleted_at IS NULL AND user_id = "
    ));
    q.push_bind(user_id.to_string());
    if let Some(id) = f.data_source_id {
        q.push(" AND data_source_id = ").push_bind(id);
    }
    if let Some(provider) = &f.provider {
        q.push(" AND provider = ").push_bind(provider.clone());
    }
    if let Some(kind) = &f.kind {
        q.push(" AND kind = ").push_bind(kind.clone());
    }
    if let Some(category) = &f.category {
        q.push(" AND category = ").push_bind(category.clone());
    }
    if let Some(since) = f.since {
        q.push(" AND occurred_at >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        q.push(" AND occurred_at < ").push_bind(until);
    }
    if let Some((at, id)) = f.after {
        q.push(" AND (occurred_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY occurred_at DESC, id DESC LIMIT ")
        .push_bind(limit);
    q
}
