//! The caller's normalized items: filters and keyset pagination (newest first).

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{param::Query, payload::Json, Object, OpenApi};
use uuid::Uuid;

use super::{auth::User, error::ApiError, keyset, AppState, Tags};
use crate::db::items::{self, ItemFilter};

/// A normalized item (text sanitized).
#[derive(Object)]
pub(super) struct Item {
    id: Uuid,
    data_source_id: Uuid,
    provider: String,
    kind: String,
    external_id: String,
    occurred_at: DateTime<Utc>,
    text: String,
    category: Option<String>,
    is_event: bool,
    event: Option<serde_json::Value>,
    mentions: Vec<String>,
    hashtags: Vec<String>,
    dates: Vec<NaiveDate>,
    location: Option<serde_json::Value>,
    /// The item's photo or video. Signed CDN links (Instagram, Facebook) expire: never served
    /// once expired (null then), fresh after each sync.
    media_url: Option<String>,
    /// When `media_url` stops working, when the link says (Meta's `oe=`); null: unknown.
    media_url_expires_at: Option<DateTime<Utc>>,
    permalink: Option<String>,
    metrics: serde_json::Value,
    duplicate_of: Option<Uuid>,
}

#[derive(Object)]
struct ItemPage {
    items: Vec<Item>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

pub struct ItemsApi;

#[OpenApi(prefix_path = "/api/v1/items", tag = "Tags::Items")]
impl ItemsApi {
    /// The caller's items, newest first. `limit` ≤ 500 (default 50).
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        user: User,
        state: Data<&AppState>,
        data_source_id: Query<Option<Uuid>>,
        #[oai(validator(pattern = "^(instagram|twitter|google|facebook|linkedin|microsoft)$"))]
        provider: Query<Option<String>>,
        #[oai(validator(pattern = "^(post|media|email)$"))] kind: Query<Option<String>>,
        #[oai(validator(
            pattern = "^(TRAVEL_FLIGHT|TRAVEL_HOTEL|EVENT_TICKET|BOOKING|PROFESSIONAL|PERSONAL|OTHER)$"
        ))]
        category: Query<Option<String>>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<i64>>,
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<ItemPage>> {
        let limit = limit.0.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(bad("invalid_parameter", "limit must be within 1..=500"));
        }
        if let Some(p) = provider.0.as_deref() {
            if crate::domain::ProviderId::parse(p).is_none() {
                return Err(bad("invalid_parameter", "unknown provider"));
            }
        }
        if let Some(k) = kind.0.as_deref() {
            if !["post", "media", "email"].contains(&k) {
                return Err(bad(
                    "invalid_parameter",
                    "kind must be post, media or email",
                ));
            }
        }
        if let Some(c) = category.0.as_deref() {
            if !lifesync_normalizer::Category::ALL
                .iter()
                .any(|k| k.as_str() == c)
            {
                return Err(bad("invalid_parameter", "unknown category"));
            }
        }
        let after = keyset::after(cursor.0.as_deref())?;
        let filter = ItemFilter {
            data_source_id: data_source_id.0,
            provider: provider.0,
            kind: kind.0,
            category: category.0,
            since: since.0,
            until: until.0,
            after,
        };
        let rows = items::list_for_user(&state.read_pool, &user.0.sub, &filter, limit + 1)
            .await
            .map_err(ApiError::internal)?;
        let (rows, next_cursor) = keyset::page(rows, limit, |r| (r.occurred_at, r.id));
        let now = Utc::now();
        Ok(Json(ItemPage {
            items: rows.into_iter().map(|r| Item::from_row(r, now)).collect(),
            next_cursor,
        }))
    }
}

impl Item {
    /// An item as the API shows it at `now` (an expired media link is not served).
    pub(super) fn from_row(r: items::ItemRow, now: DateTime<Utc>) -> Self {
        let (media_url, media_url_expires_at) = crate::providers::media::serve(r.media_url, now);
        Item {
            id: r.id,
            data_source_id: r.data_source_id,
            provider: r.provider,
            kind: r.kind,
            external_id: r.external_id,
            occurred_at: r.occurred_at,
            text: r.text,
            category: r.category,
            is_event: r.is_event,
            event: r.event,
            mentions: r.mentions,
            hashtags: r.hashtags,
            dates: r.dates,
            location: r.location,
            media_url,
            media_url_expires_at,
            permalink: r.permalink,
            metrics: r.metrics,
            duplicate_of: r.duplicate_of,
        }
    }
}

pub(super) fn bad(code: &'static str, message: &str) -> poem::Error {
    ApiError::BadRequest(code, message.to_string()).into()
}
