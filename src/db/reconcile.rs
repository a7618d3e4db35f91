//! Reconciliation of a sync run with what the provider has (`sync_run_seen`): each stored page
//! records the external ids the provider showed (listed, or fetched) and those it reported gone
//! from one part of the account (an Outlook folder); the run's last page, in its own
//! transaction, marks deleted
//! - the items reported gone that the run saw nowhere else (a move between synced folders is not
//!   a deletion), and
//! - when the provider says its listing was complete ([`Reconcile`]), every item of the source
//!   (within the listing's time window) that the run did not see.
//!
//! Only the last page of a run that succeeds gets there: a failed, partial or cancelled run
//! never marks anything deleted, and its rows are dropped by the source's next finished run.

use std::collections::HashSet;

use super::pinned::pinned;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::domain::Reconcile;

/// What one page showed of the provider's side, besides its items' bodies.
#[derive(Debug, Default, Clone)]
pub struct PageSeen {
    /// External ids at the provider: the page's items and the ids listed without a body.
    pub present: Vec<String>,
    /// External ids reported gone from one folder (deleted unless present elsewhere).
    pub removed: Vec<String>,
}

impl PageSeen {
    /// What a provider page showed: its items' ids, the ids it listed without a body, and
    /// those it reported gone from one folder.
    pub fn of<'a>(
        items: impl IntoIterator<Item = &'a str>,
        listed: &[String],
        removed: &[String],
    ) -> Self {
        let mut present: Vec<String> = items.into_iter().map(String::from).collect();
        present.extend(listed.iter().cloned());
        Self {
            present,
            removed: removed.to_vec(),
        }
    }
}

/// Records a page's ids in its transaction.
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    run: Uuid,
    data_source_id: Uuid,
    seen: &PageSeen,
) -> sqlx::Result<()> {
    for (present, ids) in [(true, &seen.present), (false, &seen.removed)] {
        if ids.is_empty() {
            continue;
        }
        sqlx::query(
            "INSERT INTO sync_run_seen (sync_run_id, data_source_id, present, external_ids)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(run)
        .bind(data_source_id)
        .bind(present)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The run's end, in its last page's transaction (after [`record`] of that page): marks what
/// the provider no longer has deleted (see the module docs) and drops the source's seen rows.
/// Returns how many items were marked.
pub async fn finish(
    tx: &mut Transaction<'_, Postgres>,
    run: Uuid,
    data_source_id: Uuid,
    reconcile: Option<Reconcile>,
) -> sqlx::Result<u64> {
    let gone = sqlx::query(
        "WITH present AS (SELECT DISTINCT unnest(external_ids) AS id FROM sync_run_seen
                           WHERE sync_run_id = $2 AND present),
              removed AS (SELECT DISTINCT unnest(external_ids) AS id FROM sync_run_seen
                           WHERE sync_run_id = $2 AND NOT present)
         UPDATE items SET deleted_at = now(), updated_at = now()
          WHERE data_source_id = $1 AND deleted_at IS NULL
            AND external_id IN (SELECT id FROM removed)
            AND external_id NOT IN (SELECT id FROM present)",
    )
    .bind(data_source_id)
    .bind(run)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let unseen = match reconcile {
        None => 0,
        Some(scope) => {
            let since: Option<DateTime<Utc>> = match scope {
                Reconcile::All => None,
                Reconcile::Since(t) => Some(t),
            };
            sqlx::query(
                "WITH present AS (SELECT DISTINCT unnest(external_ids) AS id FROM sync_run_seen
                                   WHERE sync_run_id = $2 AND present)
                 UPDATE items SET deleted_at = now(), updated_at = now()
                  WHERE data_source_id = $1 AND deleted_at IS NULL
                    AND ($3::timestamptz IS NULL OR occurred_at >= $3)
                    AND external_id NOT IN (SELECT id FROM present)",
            )
            .bind(data_source_id)
            .bind(run)
            .bind(since)
            .execute(&mut **tx)
            .await?
            .rows_affected()
        }
    };
    sqlx::query("DELETE FROM sync_run_seen WHERE data_source_id = $1")
        .bind(data_source_id)
        .execute(&mut **tx)
        .await?;
    Ok(gone + unseen)
}

/// The external ids of the source's live items: what a provider that lists ids before it
/// fetches bodies (Gmail) need not fetch again.
pub async fn known_ids(pool: &sqlx::PgPool, data_source_id: Uuid) -> sqlx::Result<HashSet<String>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM items WHERE data_source_id = $1 AND deleted_at IS NULL",
    )
    .bind(data_source_id)
    .fetch_all(pinned(pool))
    .await?;
    Ok(ids.into_iter().collect())
}
