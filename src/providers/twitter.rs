//! Twitter (X API v2) client: the profile (`GET /2/users/me`; the account is shown as
//! `@handle`) and the user timeline, newest first, with `since_id` incremental sync and
//! `pagination_token` paging. X's errors are classified here: 429 with
//! `x-rate-limit-reset`, and the app's monthly usage cap (a 429 or 403 problem body) as
//! [`ProviderError::UsageCapped`].
//!
//! A full run walks the whole timeline (X offers no id-only listing, no change feed and no
//! conditional request: a post's body comes with its listing) and ends with a reconciliation:
//! posts no longer listed are marked deleted — all of them when the walk listed fewer than the
//! timeline's cap of [`TIMELINE_CAP`] posts, else only those from the oldest listed post on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    app::ProviderApp,
    http::{get_json_with, Reply},
    walk::{self, Capped},
    AccountProfile, ItemKind, Location, Page, PageRequest, Provider, ProviderError, ProviderId,
    RawItem, Session,
};

/// The provider: the user's timeline, newest first. Page state
/// `{"pagination_token", "newest_id", "listed", "oldest"}` (`newest_id`: the newest id of the
/// run's first page, which becomes the next incremental sync's `since_id`); cursor
/// `{"newest_id"}`.
pub struct Twitter;

impl Provider for Twitter {
    const ID: ProviderId = ProviderId::Twitter;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = MAX_RESULTS;

    async fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccountProfile, ProviderError> {
        #[derive(Deserialize)]
        struct Profile {
            id: String,
            name: Option<String>,
            username: Option<String>,
            public_metrics: Option<UserMetrics>,
            most_recent_tweet_id: Option<String>,
        }
        #[derive(Deserialize)]
        struct UserMetrics {
            tweet_count: Option<u64>,
        }
        let body: Envelope<Profile> = get_json_with(
            Self::ID,
            http.get(app.api_url("/2/users/me"))
                .query(&[("user.fields", "public_metrics,most_recent_tweet_id")])
                .bearer_auth(token),
            error,
        )
        .await?;
        let p = body
            .data
            .ok_or_else(|| ProviderError::Permanent("users/me without data".into()))?;
        // Ids only grow: a post that stays moves the newest id, a deletion lowers the count, so
        // both unchanged mean the same posts (an account with no posts has no newest id).
        let count = p.public_metrics.and_then(|m| m.tweet_count);
        let content_version = match (count, p.most_recent_tweet_id) {
            (Some(n), Some(newest)) => Some(format!("{n}:{newest}")),
            (Some(0), None) => Some("0:".into()),
            _ => None,
        };
        Ok(AccountProfile {
            account_id: p.id,
            account_name: p.username.or(p.name),
            content_version,
        })
    }

    /// X shows an account by its handle: `@jane`.
    fn display_name(name: String) -> String {
        format!("@{name}")
    }

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let text = |v: Option<&Value>, k: &str| {
            v.and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let since_id = walk::stop_at(req.mode, req.cursor, |c| text(Some(c), "newest_id"));
        let pagination_token = text(req.page, "pagination_token");
        let run_newest = text(req.page, "newest_id");
        let page = timeline(s, since_id.as_deref(), pagination_token.as_deref()).await?;
        let newest = run_newest.or(page.newest_id);
        // A full run counts what it listed and the oldest post it saw: the timeline holds only
        // the 3,200 most recent posts, so older stored posts are not gone when unlisted.
        let capped = Capped::after(req.page, &page.items);
        let next = page
            .next_token
            .map(|t| capped.into_state(json!({ "pagination_token": t, "newest_id": newest })));
        let cursor = newest.map(|n| json!({ "newest_id": n }));
        Ok(walk::page(
            req.mode,
            page.items,
            next,
            cursor,
            capped.reconcile(TIMELINE_CAP),
        ))
    }
}

/// The most recent posts the user timeline returns (X API v2).
pub const TIMELINE_CAP: u64 = 3200;

/// The timeline's page-size bounds.
pub const MAX_RESULTS: std::ops::RangeInclusive<u32> = 5..=100;

/// One timeline page.
struct TimelinePage {
    items: Vec<RawItem>,
    next_token: Option<String>,
    /// The newest id on this page (None when the page is empty).
    newest_id: Option<String>,
}

/// One page of the user's timeline, newest first (`since_id`: exclusive, X stops there).
async fn timeline(
    s: &Session<'_>,
    since_id: Option<&str>,
    pagination_token: Option<&str>,
) -> Result<TimelinePage, ProviderError> {
    let max = s.page_size.clamp(*MAX_RESULTS.start(), *MAX_RESULTS.end());
    let mut query: Vec<(&str, String)> = vec![
        ("max_results", max.to_string()),
        (
            "tweet.fields",
            "created_at,public_metrics,entities,geo".into(),
        ),
        ("expansions", "geo.place_id".into()),
        ("place.fields", "full_name,geo,id,name,place_type".into()),
    ];
    if let Some(s) = since_id {
        query.push(("since_id", s.to_string()));
    }
    if let Some(p) = pagination_token {
        query.push(("pagination_token", p.to_string()));
    }
    let request = s
        .http
        .get(s.app.api_url(&format!("/2/users/{}/tweets", s.account_id)))
        .bearer_auth(s.token)
        .query(&query);
    let body: Timeline = get_json_with(ProviderId::Twitter, request, error).await?;
    let places = body.includes.map(|i| i.places).unwrap_or_default();
    let items = body
        .data
        .into_iter()
        .map(|t| t.into_item(&places))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TimelinePage {
        items,
        next_token: body.meta.next_token,
        newest_id: body.meta.newest_id,
    })
}

/// The class of an X error reply: by status, Twitter's rate-limit headers and the usage cap.
fn error(r: &Reply) -> ProviderError {
    let retry_after = reset_delay(&r.headers);
    let explicit_retry = super::http::retry_after(&r.headers);
    let detail: String = r.body.chars().take(300).collect();
    if (r.status == 429 || r.status == 403) && usage_capped(&r.body) {
        // The app's monthly read cap: nothing works until the period resets.
        let now = Utc::now();
        let resets_at = explicit_retry
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map_or_else(|| super::reset::next_month_utc(now), |d| now + d);
        super::http::throttled(ProviderId::Twitter, None);
        return ProviderError::UsageCapped { resets_at, detail };
    }
    match r.status {
        429 => super::http::throttled(ProviderId::Twitter, retry_after),
        401 => ProviderError::Unauthorized(detail),
        403 => ProviderError::Forbidden(detail),
        404 => ProviderError::NotFound(detail),
        s => {
            let status =
                reqwest::StatusCode::from_u16(s).map_or_else(|_| s.to_string(), |c| c.to_string());
            if s >= 500 {
                ProviderError::Transient(format!("{status}: {detail}"))
            } else {
                ProviderError::Permanent(format!("{status}: {detail}"))
            }
        }
    }
}

/// Whether a problem-details body is X's usage cap (`UsageCapExceeded`, type
/// `…/2/problems/usage-capped` on either host).
fn usage_capped(body: &str) -> bool {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    v.get("title").and_then(Value::as_str) == Some("UsageCapExceeded")
        || v.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("/2/problems/usage-capped"))
}

/// Time until `x-rate-limit-reset` (epoch seconds), at least one second.
fn reset_delay(h: &HeaderMap) -> Option<Duration> {
    let reset: u64 = h.get("x-rate-limit-reset")?.to_str().ok()?.parse().ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now).max(1)))
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
}

#[derive(Deserialize)]
struct Timeline {
    #[serde(default)]
    data: Vec<Tweet>,
    includes: Option<Includes>,
    meta: Meta,
}

#[derive(Deserialize)]
struct Meta {
    newest_id: Option<String>,
    next_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct Includes {
    #[serde(default)]
    places: Vec<Place>,
}

#[derive(Deserialize)]
struct Place {
    id: String,
    full_name: Option<String>,
    geo: Option<PlaceGeo>,
}

#[derive(Deserialize)]
struct PlaceGeo {
    bbox: Option<[f64; 4]>,
}

#[derive(Deserialize)]
struct Tweet {
    id: String,
    #[serde(default)]
    text: String,
    created_at: Option<DateTime<Utc>>,
    public_metrics: Option<serde_json::Value>,
    entities: Option<Entities>,
    geo: Option<Geo>,
}

#[derive(Deserialize, Default)]
struct Entities {
    #[serde(default)]
    hashtags: Vec<Tag>,
    #[serde(default)]
    mentions: Vec<Mention>,
}

#[derive(Deserialize)]
struct Tag {
    tag: String,
}

#[derive(Deserialize)]
struct Mention {
    username: String,
}

#[derive(Deserialize)]
struct Geo {
    place_id: Option<String>,
    coordinates: Option<Point>,
}

#[derive(Deserialize)]
struct Point {
    /// GeoJSON order: [longitude, latitude].
    coordinates: [f64; 2],
}

impl Tweet {
    fn into_item(self, places: &[Place]) -> Result<RawItem, ProviderError> {
        let occurred_at = self.created_at.ok_or_else(|| {
            ProviderError::Permanent(format!("tweet {} without created_at", self.id))
        })?;
        let entities = self.entities.unwrap_or_default();
        let location = self.geo.and_then(|g| {
            let place = g
                .place_id
                .as_ref()
                .and_then(|id| places.iter().find(|p| &p.id == id));
            let (lon, lat) = match (&g.coordinates, place.and_then(|p| p.geo.as_ref()?.bbox)) {
                (Some(p), _) => (Some(p.coordinates[0]), Some(p.coordinates[1])),
                (None, Some(b)) => (Some((b[0] + b[2]) / 2.0), Some((b[1] + b[3]) / 2.0)),
                (None, None) => (None, None),
            };
            let name = place.and_then(|p| p.full_name.clone());
            (name.is_some() || lat.is_some()).then_some(Location { name, lat, lon })
        });
        Ok(RawItem {
            permalink: Some(format!("https://x.com/i/web/status/{}", self.id)),
            external_id: self.id,
            kind: ItemKind::Post,
            occurred_at,
            text: self.text,
            hashtags: entities.hashtags.into_iter().map(|t| t.tag).collect(),
            mentions: entities.mentions.into_iter().map(|m| m.username).collect(),
            location,
            media_url: None,
            metrics: self.public_metrics.unwrap_or(serde_json::Value::Null),
            subject: None,
            sender: None,
            html: None,
            mail: Default::default(),
        })
    }
}
