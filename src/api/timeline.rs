//! The caller's timeline: trips, events and moments built from their items (`timeline`,
//! `workers::build_timeline`), newest first with keyset pagination, and one entry with its
//! items. Only live items are shown (not deleted, not from a disconnected source); an entry
//! with none left is not shown.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi,
};
use uuid::Uuid;

use super::{auth::User, error::ApiError, items::bad, keyset, AppState, Tags};
use crate::db::timeline::{self as db, EntryFilter, EntryRow};

/// Where an entry took place.
#[derive(Object)]
struct Place {
    name: String,
    lat: Option<f64>,
    lon: Option<f64>,
}

/// One of an entry's items and what it is to the entry.
#[derive(Object)]
struct EntryItem {
    id: Uuid,
    /// `reservation`, `photo`, `post` or `email`.
    role: String,
}

/// A trip, an event or a moment.
#[derive(Object)]
struct Entry {
    id: Uuid,
    /// `trip`, `event` or `moment`.
    #[oai(rename = "type")]
    entry_type: String,
    /// Made of place and venue names and fixed words, never of item text.
    title: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    place: Option<Place>,
    items: Vec<EntryItem>,
    /// 0–1 (two decimals): how sure the rule is.
    confidence: f64,
    /// The rule that formed it: `trip.reservations`, `event.ticket`, `event.restaurant`,
    /// `moment.located_day`.
    rule: String,
}

#[derive(Object)]
struct EntryPage {
    entries: Vec<Entry>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

pub struct TimelineApi;

#[OpenApi(prefix_path = "/api/v1/timeline", tag = "Tags::Timeline")]
impl TimelineApi {
    /// The caller's timeline entries, newest first: those ending at or after `since` and
    /// starting before `until`, of one `type` if given. `limit` ≤ 200 (default 50).
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        user: User,
        state: Data<&AppState>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
        #[oai(name = "type", validator(pattern = "^(trip|event|moment)$"))] entry_type: Query<
            Option<String>,
        >,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<EntryPage>> {
        let limit = limit.0.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(bad("invalid_parameter", "limit must be within 1..=200"));
        }
        if let Some(t) = entry_type.0.as_deref() {
            if crate::timeline::EntryType::parse(t).is_none() {
                return Err(bad(
                    "invalid_parameter",
                    "type must be trip, event or moment",
                ));
            }
        }
        let after = keyset::after(cursor.0.as_deref())?;
        let filter = EntryFilter {
            entry_type: entry_type.0,
            since: since.0,
            until: until.0,
            after,
        };
        let rows = db::list_for_user(&state.read_pool, &user.0.sub, &filter, limit + 1)
            .await
            .map_err(ApiError::internal)?;
        let (rows, next_cursor) = keyset::page(rows, limit, |r| (r.start_at, r.id));
        let entries = with_items(&state, rows).await?;
        Ok(Json(EntryPage {
            entries,
            next_cursor,
        }))
    }

    /// One of the caller's entries with its items (another user's id answers 404, like a
    /// missing one).
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> poem::Result<Json<Entry>> {
        let row = db::get_for_user(&state.read_pool, &user.0.sub, id.0)
            .await
            .map_err(ApiError::internal)?
            .ok_or(ApiError::Missing(
                "not_found",
                "no such timeline entry".into(),
            ))?;
        with_items(&state, vec![row])
            .await?
            .pop()
            .map(Json)
            .ok_or_else(|| ApiError::Missing("not_found", "no such timeline entry".into()).into())
    }
}

/// The entries with their live items; entries left without any are dropped.
async fn with_items(state: &AppState, rows: Vec<EntryRow>) -> Result<Vec<Entry>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items: HashMap<Uuid, Vec<EntryItem>> = HashMap::new();
    for (entry, id, role) in db::entry_items(&state.read_pool, &ids)
        .await
        .map_err(ApiError::internal)?
    {
        items.entry(entry).or_default().push(EntryItem { id, role });
    }
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let items = items.remove(&r.id)?;
            Some(Entry {
                id: r.id,
                entry_type: r.entry_type,
                title: r.title,
                start: r.start_at,
                end: r.end_at,
                place: r.place_name.map(|name| Place {
                    name,
                    lat: r.place_lat,
                    lon: r.place_lon,
                }),
                items,
                confidence: (f64::from(r.confidence) * 100.0).round() / 100.0,
                rule: r.rule,
            })
        })
        .collect())
}
