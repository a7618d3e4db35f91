//! The changes feed, `GET /api/v1/items/changes`: the caller's items written or deleted after
//! a cursor, in commit order, deletions as tombstones `{"id", "deleted": true}`. A client that
//! applies the changes in order (an item replaces its copy, a tombstone removes it) holds
//! exactly what `GET /api/v1/items` shows, whatever syncs store meanwhile: positions are
//! per-user change numbers taken at commit (`db::changes`), not timestamps.

use base64::Engine;
use chrono::Utc;
use poem::web::Data;
use poem_openapi::{param::Query, payload::Json, Object, OpenApi, Union};
use uuid::Uuid;

use super::{
    auth::User,
    error::ApiError,
    items::{bad, Item},
    AppState, Tags,
};
use crate::db::changes;

/// An item deleted (at the provider, by a disconnect or by a full sync's reconciliation).
#[derive(Object)]
struct Tombstone {
    id: Uuid,
    /// Always true.
    deleted: bool,
}

/// An item as it is now, or the tombstone of one deleted.
#[derive(Union)]
enum ItemChange {
    Item(Box<Item>),
    Deleted(Tombstone),
}

#[derive(Object)]
struct ChangePage {
    changes: Vec<ItemChange>,
    /// Pass as `cursor` to read on; the same cursor again when nothing changed since.
    next_cursor: String,
}

pub struct ChangesApi;

#[OpenApi(prefix_path = "/api/v1/items/changes", tag = "Tags::Items")]
impl ChangesApi {
    /// The caller's items written or deleted after `cursor` (absent or empty: from the
    /// beginning), oldest change first. `limit` ≤ 500 (default 100). An item changed twice
    /// appears once, at its latest change.
    #[oai(path = "/", method = "get")]
    async fn changes(
        &self,
        user: User,
        state: Data<&AppState>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<i64>>,
    ) -> poem::Result<Json<ChangePage>> {
        let limit = limit.0.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(bad("invalid_parameter", "limit must be within 1..=500"));
        }
        let after = match cursor.0.as_deref() {
            None | Some("") => changes::START,
            Some(c) => decode(c).ok_or_else(|| bad("invalid_cursor", "malformed cursor"))?,
        };
        let page = changes::after(&state.pool, &user.0.sub, after, limit)
            .await
            .map_err(ApiError::internal)?;
        let next = page.last().map_or(after, |c| c.position);
        let now = Utc::now();
        Ok(Json(ChangePage {
            changes: page
                .into_iter()
                .map(|c| match c.item {
                    Some(row) => ItemChange::Item(Box::new(Item::from_row(row, now))),
                    None => ItemChange::Deleted(Tombstone {
                        id: c.id,
                        deleted: true,
                    }),
                })
                .collect(),
            next_cursor: encode(next),
        }))
    }
}

fn encode((seq, id): (i64, Uuid)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("c{seq}|{id}"))
}

fn decode(c: &str) -> Option<(i64, Uuid)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (seq, id) = text.strip_prefix('c')?.split_once('|')?;
    Some((seq.parse().ok()?, id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let p = (42, Uuid::new_v4());
        assert_eq!(decode(&encode(p)), Some(p));
        assert_eq!(decode(&encode(changes::START)), Some(changes::START));
        for bad in ["", "!!", "YWJj", "YzF8bm90LWEtdXVpZA"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
