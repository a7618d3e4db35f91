//! `duplicate_of`: an item's link to the earliest item of the same user, from **another** data
//! source, with the same link key (`lifesync_normalizer::link`: the same canonical content,
//! posts and media as one family, emails as another) whose `occurred_at` is at most
//! `SYNC_DUPLICATE_WINDOW_HOURS` before it. Items without a link key (too little real content)
//! never link; identical text on one source never links; deleted items are never a target and
//! point nowhere.
//!
//! Links are recomputed, not accumulated: every transaction that writes or deletes items calls
//! [`relink`] for the rows it touched, which recomputes every item of the affected link keys
//! and every item that pointed at a touched row. So an edit that changes an item's content, a
//! deletion of its target or a target that arrives later (an older post synced after a newer
//! cross-post) all move the links to where the rule puts them.
//!
//! Only what a touched row can change is recomputed, in two steps: the touched rows and the
//! rows that pointed at them get their target afresh; then the later items of the same key
//! within the window after a touched row, on another source, take it as their target when it
//! is earlier than theirs. Cost follows the rows touched and their cross-posts, not the size of
//! a group of equal texts.
//!
//! **Plans.** Each lookup names the columns of one index and asks for that index's order
//! (`items_by_link_key` ends with `occurred_at, id`), so PostgreSQL picks the same plan with or
//! without statistics — a first sync fills the table faster than autovacuum analyzes it.
//!
//! **Order and concurrency.** A page transaction takes a transaction-scoped advisory lock per
//! user ([`lock_user`]) before it writes its rows and relinks after them: two runs of one user
//! storing at once serialize there (never waiting for each other's rows while holding it), and
//! the second sees the first's committed rows, whichever order they commit in — so a cross-post
//! stored concurrently on two sources is linked.

use std::{collections::HashSet, time::Duration};

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Serializes the item writes of one user's transactions (see the module doc). Taken before
/// a page's rows are written, so two transactions never wait for each other's rows while
/// holding it.
pub async fn lock_user(tx: &mut Transaction<'_, Postgres>, user_id: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('lifesync:items-link:' || $1, 0))")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Recomputes `duplicate_of` around `touched` rows (written, changed or deleted in this
/// transaction) of `user_id`; returns how many of `inserted` now link to an earlier item.
pub async fn relink(
    tx: &mut Transaction<'_, Postgres>,
    user_id: &str,
    touched: &[Uuid],
    inserted: &[Uuid],
    window: Duration,
) -> sqlx::Result<i32> {
    if touched.is_empty() {
        return Ok(0);
    }
    lock_user(tx, user_id).await?;
    let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    // 1. The touched rows and the rows that pointed at them: computed afresh. Each half is a
    // lookup by a key of its own (the primary key; `items_by_duplicate_of`, one lookup per
    // touched row behind `OFFSET 0`, which the planner cannot flatten into a join) and names
    // no other column: with `user_id` beside it, or as one join, a planner without statistics
    // (a table filled since its last ANALYZE, as in a first sync) chose a user index or a
    // sequential scan and read every item on every page. Both sets belong to `user_id`:
    // touched rows are the caller's, and links never cross users. Only the rows whose link
    // moves are returned, and written by [`set_links`].
    let moved: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "WITH touched AS (SELECT DISTINCT t.id FROM unnest($2::uuid[]) AS t(id)),
         members AS (
             SELECT x.id, x.data_source_id, x.link_key, x.occurred_at, x.deleted_at,
                    x.duplicate_of
               FROM touched t
              CROSS JOIN LATERAL (SELECT r.id, r.data_source_id, r.link_key, r.occurred_at,
                                         r.deleted_at, r.duplicate_of
                                    FROM items r WHERE r.id = t.id OFFSET 0) x
             UNION
             SELECT x.id, x.data_source_id, x.link_key, x.occurred_at, x.deleted_at,
                    x.duplicate_of
               FROM touched t
              CROSS JOIN LATERAL (SELECT r.id, r.data_source_id, r.link_key, r.occurred_at,
                                         r.deleted_at, r.duplicate_of
                                    FROM items r WHERE r.duplicate_of = t.id OFFSET 0) x
         ),
         target AS (
             SELECT m.id, m.duplicate_of AS old,
                    CASE WHEN m.deleted_at IS NULL AND m.link_key IS NOT NULL THEN
                        (SELECT y.id FROM items y
                          WHERE y.user_id = $1 AND y.link_key = m.link_key
                            AND y.deleted_at IS NULL
                            AND y.data_source_id <> m.data_source_id
                            AND (y.occurred_at, y.id) < (m.occurred_at, m.id)
                            AND y.occurred_at >= m.occurred_at - $3::bigint * interval '1 second'
                          ORDER BY y.occurred_at, y.id
                          LIMIT 1)
                    END AS new
               FROM members m
         )
         SELECT id, new FROM target WHERE old IS DISTINCT FROM new",
    )
    .bind(user_id)
    .bind(touched)
    .bind(window_secs)
    .fetch_all(&mut **tx)
    .await?;
    set_links(tx, &moved).await?;
    // 2. Later items of the same content on other sources, within the window after a touched
    // row, whose target is later than it (or none): the touched row takes over. Touched rows
    // first, then one `items_by_link_key` range per touched row (`OFFSET 0` again): as a
    // plain join, a planner without statistics given a page group's 1,000 ids walked every
    // item of the user and tested each against the ids.
    let taken: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "WITH z AS MATERIALIZED (
             SELECT z.id, z.data_source_id, z.link_key, z.occurred_at
               FROM unnest($2::uuid[]) AS t(id)
              CROSS JOIN LATERAL (SELECT i.id, i.data_source_id, i.link_key, i.occurred_at
                                    FROM items i
                                   WHERE i.id = t.id AND i.link_key IS NOT NULL
                                     AND i.deleted_at IS NULL
                                  OFFSET 0) z
         ),
         takeover AS (
             SELECT DISTINCT ON (x.id) x.id, x.duplicate_of AS old, z.id AS target,
                    z.occurred_at AS target_at
               FROM z
              CROSS JOIN LATERAL (
                    SELECT x.id, x.duplicate_of FROM items x
                     WHERE x.user_id = $1 AND x.link_key = z.link_key
                       AND x.occurred_at BETWEEN z.occurred_at
                                             AND z.occurred_at + $3::bigint * interval '1 second'
                       AND x.data_source_id <> z.data_source_id
                       AND (z.occurred_at, z.id) < (x.occurred_at, x.id)
                       AND x.deleted_at IS NULL
                    OFFSET 0) x
              ORDER BY x.id, z.occurred_at, z.id
         )
         SELECT t.id, t.target FROM takeover t
          WHERE t.old IS NULL
             OR (t.target_at, t.target) < (SELECT c.occurred_at, c.id FROM items c
                                            WHERE c.id = t.old)",
    )
    .bind(user_id)
    .bind(touched)
    .bind(window_secs)
    .fetch_all(&mut **tx)
    .await?;
    set_links(tx, &taken).await?;
    // An inserted row starts without a link: it links now if the last write above gave it one
    // (step 2 only ever sets a target).
    let taken: HashSet<Uuid> = taken.into_iter().map(|(id, _)| id).collect();
    let set: HashSet<Uuid> = moved
        .into_iter()
        .filter_map(|(id, new)| new.map(|_| id))
        .chain(taken)
        .collect();
    Ok(inserted.iter().filter(|id| set.contains(id)).count() as i32)
}

/// Writes `duplicate_of` of the rows given, in one statement found by the primary key whatever
/// the table's statistics (`id = ANY`, each row's target picked from the array beside it).
async fn set_links(
    tx: &mut Transaction<'_, Postgres>,
    links: &[(Uuid, Option<Uuid>)],
) -> sqlx::Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let (ids, targets): (Vec<Uuid>, Vec<Option<Uuid>>) = links.iter().copied().unzip();
    sqlx::query(
        "UPDATE items SET duplicate_of = ($2::uuid[])[array_position($1::uuid[], id)],
                updated_at = now()
          WHERE id = ANY($1)",
    )
    .bind(&ids)
    .bind(&targets)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes every item of a data source and relinks the user's other items that pointed at
/// them (to the next earliest item, if any). Returns the number of items deleted.
pub async fn delete_source_items(
    tx: &mut Transaction<'_, Postgres>,
    data_source_id: Uuid,
    window: Duration,
) -> sqlx::Result<u64> {
    let Some(user_id): Option<String> =
        sqlx::query_scalar("SELECT user_id FROM data_sources WHERE id = $1")
            .bind(data_source_id)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(0);
    };
    lock_user(tx, &user_id).await?;
    let referrers: Vec<Uuid> = sqlx::query_scalar(
        "SELECT r.id FROM items r JOIN items t ON r.duplicate_of = t.id
          WHERE t.data_source_id = $1 AND r.data_source_id <> $1",
    )
    .bind(data_source_id)
    .fetch_all(&mut **tx)
    .await?;
    let deleted = sqlx::query("DELETE FROM items WHERE data_source_id = $1")
        .bind(data_source_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    relink(tx, &user_id, &referrers, &[], window).await?;
    Ok(deleted)
}
