//! The changes feed's reads (`GET /api/v1/items/changes`): a user's items written or deleted
//! after a position, in commit order. Every write to an item stamps it with its transaction's
//! per-user change number and every deleted row leaves a tombstone (the triggers of migration
//! `20261207100000_item_changes`); a position is (change number, item id).

use sqlx::PgPool;
use uuid::Uuid;

use super::items::ItemRow;

/// One change: the item as it is now, or None when it is deleted (soft or for good).
pub struct Change {
    pub position: (i64, Uuid),
    pub id: Uuid,
    pub item: Option<ItemRow>,
}

/// The feed's start: before every change (items stored before the feed existed are number 0).
pub const START: (i64, Uuid) = (-1, Uuid::nil());

/// Up to `limit` changes of `user_id` after `after`, oldest first, read in one snapshot.
pub async fn after(
    pool: &PgPool,
    user_id: &str,
    after: (i64, Uuid),
    limit: i64,
) -> sqlx::Result<Vec<Change>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    // An item's row shows its latest change; a tombstone, a row deleted for good; an item
    // marked deleted is a deletion at its latest change.
    let positions: Vec<(i64, Uuid, bool)> = sqlx::query_as(
        "SELECT c.change_seq, c.id, i.id IS NOT NULL
           FROM ((SELECT change_seq, id FROM items
                   WHERE user_id = $1 AND (change_seq, id) > ($2, $3)
                   ORDER BY change_seq, id LIMIT $4)
                 UNION ALL
                 (SELECT change_seq, item_id FROM item_tombstones
                   WHERE user_id = $1 AND (change_seq, item_id) > ($2, $3)
                   ORDER BY change_seq, item_id LIMIT $4)) AS c (change_seq, id)
           LEFT JOIN items i
             ON i.id = c.id AND i.change_seq = c.change_seq AND i.deleted_at IS NULL
          ORDER BY c.change_seq, c.id
          LIMIT $4",
    )
    .bind(user_id)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let live: Vec<Uuid> = positions.iter().filter(|p| p.2).map(|p| p.1).collect();
    let mut rows: std::collections::HashMap<Uuid, ItemRow> = sqlx::query_as::<_, ItemRow>(
        "SELECT id, data_source_id, provider, kind, external_id, occurred_at, text, category,
                is_event, event, mentions, hashtags, dates, location, media_url, permalink,
                metrics, duplicate_of
           FROM items WHERE user_id = $1 AND id = ANY($2)",
    )
    .bind(user_id)
    .bind(&live)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.id, r))
    .collect();
    tx.commit().await?;
    Ok(positions
        .into_iter()
        .map(|(seq, id, _)| Change {
            position: (seq, id),
            id,
            item: rows.remove(&id),
        })
        .collect())
}
