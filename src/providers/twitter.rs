//! Twitter (X API v2) client: profile and user timeline, newest first, with `since_id`
//! incremental sync and `pagination_token` paging (see `../shared/reference/providers.md` §2).
//!
//! A full run walks the whole timeline (X offers no id-only listing, no change feed and no
//! conditional request: a post's body comes with its listing) and ends with a reconciliation:
//! posts no longer listed are marked deleted — all of them when the walk listed fewer than the
//! timeline's cap of [`TIMELINE_CAP`] posts, else only those from the oldest listed post on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use reqwest::{header::HeaderMap, StatusCode};
use serde::Deserialize;
use url::Url;

use lifesync_jobs::payloads::SyncMode;
use serde_json::{json, Value};

use super::{
    ItemKind, Location, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem, Reconcile,
    Session,
};

/// The provider: the user's timeline, newest first. Page state
/// `{"pagination_token", "newest_id"}` (the newest id of the run's first page, which becomes the
/// next incremental sync's `since_id`); cursor `{"newest_id"}`.
pub struct Twitter;

impl Provider for Twitter {
    const ID: ProviderId = ProviderId::Twitter;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = MAX_RESULTS;

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let client = TwitterClient::new(s.http.clone(), Some(&s.app.api_base));
        let text = |v: Option<&Value>, k: &str| {
            v.and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let since_id = match req.mode {
            SyncMode::Incremental => text(req.cursor, "newest_id"),
            SyncMode::Full => None,
        };
        let pagination_token = text(req.page, "pagination_token");
        let run_newest = text(req.page, "newest_id");
        let page = client
            .timeline(
                s.token,
                s.account_id,
                since_id.as_deref(),
                pagination_token.as_deref(),
                s.page_size,
            )
            .await?;
        let newest = run_newest.or(page.newest_id);
        // A full run counts what it listed and the oldest post it saw: the timeline holds only
        // the 3,200 most recent posts, so older stored posts are not gone when unlisted.
        let listed = req
            .page
            .and_then(|p| p.get("listed"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + page.items.len() as u64;
        let oldest = page.items.iter().map(|i| i.occurred_at).min().or_else(|| {
            text(req.page, "oldest")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
        });
        let (next, cursor, reconcile) = match page.next_token {
            Some(t) => (
                Some(
                    json!({ "pagination_token": t, "newest_id": newest, "listed": listed,
                             "oldest": oldest.map(|o| o.to_rfc3339()) }),
                ),
                None,
                None,
            ),
            None => (
                None,
                newest.map(|n| json!({ "newest_id": n })),
                (req.mode == SyncMode::Full).then_some(match oldest {
                    Some(o) if listed >= TIMELINE_CAP => Reconcile::Since(o),
                    _ => Reconcile::All,
                }),
            ),
        };
        Ok(Page {
            items: page.items,
            next,
            cursor,
            reconcile,
            ..Page::default()
        })
    }
}

/// The most recent posts the user timeline returns (X API v2).
pub const TIMELINE_CAP: u64 = 3200;

pub const DEFAULT_API_BASE: &str = "https://api.x.com";
/// The timeline's page-size bounds.
pub const MAX_RESULTS: std::ops::RangeInclusive<u32> = 5..=100;

/// The connected account.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub id: String,
    pub name: Option<String>,
    pub username: Option<String>,
}

/// One timeline page.
#[derive(Debug)]
pub struct TimelinePage {
    pub items: Vec<RawItem>,
    pub next_token: Option<String>,
    /// The newest id on this page (None when the page is empty).
    pub newest_id: Option<String>,
}

#[derive(Clone)]
pub struct TwitterClient {
    http: reqwest::Client,
    base: Url,
}

impl TwitterClient {
    /// `base` may carry a path prefix (a sandbox's `/twitter`); the documented paths follow it.
    pub fn new(http: reqwest::Client, base: Option<&Url>) -> Self {
        let base = base
            .cloned()
            .unwrap_or_else(|| Url::parse(DEFAULT_API_BASE).expect("static url"));
        Self { http, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    pub async fn profile(&self, token: &str) -> Result<Profile, ProviderError> {
        let resp = self
            .http
            .get(self.url("/2/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(transport_error)?;
        let body: Envelope<Profile> = read(resp).await?;
        body.data
            .ok_or_else(|| ProviderError::Permanent("users/me without data".into()))
    }

    /// One page of the user's timeline, newest first.
    pub async fn timeline(
        &self,
        token: &str,
        user_id: &str,
        since_id: Option<&str>,
        pagination_token: Option<&str>,
        max_results: u32,
    ) -> Result<TimelinePage, ProviderError> {
        let max = max_results.clamp(*MAX_RESULTS.start(), *MAX_RESULTS.end());
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
        let resp = self
            .http
            .get(self.url(&format!("/2/users/{user_id}/tweets")))
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .map_err(transport_error)?;
        let body: Timeline = read(resp).await?;
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
}

impl TwitterClient {
    /// Revokes an access token (`POST /2/oauth2/revoke`, Basic client authentication).
    pub async fn revoke(
        &self,
        token: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(), ProviderError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let resp = self
            .http
            .post(self.url("/2/oauth2/revoke"))
            .basic_auth(client_id, Some(client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        read::<serde_json::Value>(resp).await.map(|_| ())
    }
}

/// Decodes a reply, classifying failures by status and Twitter's rate-limit headers.
async fn read<T: for<'de> Deserialize<'de>>(resp: reqwest::Response) -> Result<T, ProviderError> {
    let status = resp.status();
    crate::metrics::provider_request("twitter", Some(status.as_u16()));
    if status.is_success() {
        return Ok(resp.json().await?);
    }
    let retry_after = reset_delay(resp.headers());
    let explicit_retry = super::http::retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let detail: String = body.chars().take(300).collect();
    if (status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::FORBIDDEN)
        && usage_capped(&body)
    {
        // The app's monthly read cap: nothing works until the period resets.
        let now = Utc::now();
        let resets_at = explicit_retry
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map_or_else(|| super::reset::next_month_utc(now), |d| now + d);
        super::http::throttled(ProviderId::Twitter, None);
        return Err(ProviderError::UsageCapped { resets_at, detail });
    }
    Err(match status {
        StatusCode::TOO_MANY_REQUESTS => super::http::throttled(ProviderId::Twitter, retry_after),
        StatusCode::UNAUTHORIZED => ProviderError::Unauthorized(detail),
        StatusCode::FORBIDDEN => ProviderError::Forbidden(detail),
        StatusCode::NOT_FOUND => ProviderError::NotFound(detail),
        s if s.is_server_error() => ProviderError::Transient(format!("{s}: {detail}")),
        s => ProviderError::Permanent(format!("{s}: {detail}")),
    })
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

/// A request that got no reply (counted as status `error`).
fn transport_error(e: reqwest::Error) -> ProviderError {
    crate::metrics::provider_request("twitter", None);
    e.into()
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
