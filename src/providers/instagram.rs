//! Instagram client (Instagram API with Instagram Login, `providers.md` §1): the account's
//! media, newest first, from `GET /me/media?fields=…&limit=N` (kind `media`), following
//! `paging.next` until it is absent.
//!
//! - Page state: `{"next": "<paging.next without access_token>", "newest": <cursor>|null}`;
//!   the next URL is stored without its token (page state is not sealed) and sent with the
//!   token as a bearer header; `newest` is the newest media of the run's first page.
//! - Cursor: `{"timestamp": "2024-03-09T14:22:31+0000", "id": "…"}`, the newest media seen,
//!   stored on a run's last page. The media edge has no `since`: an incremental run pages
//!   newest-first and stops at the first media that is the cursor's or older.
//! - Edits (captions) and fresh signed media URLs are picked up by full runs, which upsert in
//!   place. Deleted media simply disappear from the edge (the API reports no deletions): a full
//!   run walks the whole edge and ends with a reconciliation — media no longer listed are
//!   marked deleted (from the oldest listed media on, when the walk reached the edge's cap of
//!   [`MEDIA_CAP`] media).
//! - Media has no location on this API (asking for `location` is error 100): `location` is None.

use chrono::{DateTime, Utc};
use lifesync_jobs::payloads::SyncMode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    http::{get_json, meta_next, stored_next},
    ItemKind, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem, Reconcile, Session,
};

/// The media fields a sync reads (`children` with the nested-field syntax, else ids only).
pub const FIELDS: &str = "id,caption,media_type,media_product_type,media_url,thumbnail_url,\
permalink,timestamp,username,like_count,comments_count,children{id,media_type,media_url,thumbnail_url}";

pub struct Instagram;

/// The most recent media the media edge returns.
pub const MEDIA_CAP: u64 = 10_000;

impl Provider for Instagram {
    const ID: ProviderId = ProviderId::Instagram;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=100;

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let base = &s.app.api_base;
        let stop = match req.mode {
            SyncMode::Incremental => req.cursor.and_then(Mark::from_json),
            SyncMode::Full => None,
        };
        let next = req.page.and_then(|p| p.get("next")).and_then(Value::as_str);
        let url = match next {
            Some(n) => stored_next(base, n)?,
            None => {
                let mut u = s.app.api_url("/me/media");
                u.query_pairs_mut()
                    .append_pair("fields", FIELDS)
                    .append_pair("limit", &s.page_size.to_string());
                u
            }
        };
        let body: MediaList = get_json(Self::ID, s.http.get(url).bearer_auth(s.token)).await?;
        let mut run_newest = req
            .page
            .and_then(|p| p.get("newest"))
            .and_then(Mark::from_json);
        let mut items = Vec::with_capacity(body.data.len());
        let mut reached_cursor = false;
        for m in body.data {
            let at = parse_time(&m.timestamp, &m.id)?;
            if run_newest.is_none() {
                run_newest = Some(Mark {
                    at,
                    id: m.id.clone(),
                });
            }
            if let Some(c) = &stop {
                if m.id == c.id || at < c.at {
                    reached_cursor = true;
                    break;
                }
            }
            items.push(m.into_item(at));
        }
        let next = match body.paging.next {
            Some(n) if !reached_cursor => Some(meta_next(base, &n)?),
            _ => None,
        };
        let newest = run_newest.map(|m| m.to_json());
        let listed = req
            .page
            .and_then(|p| p.get("listed"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + items.len() as u64;
        let oldest = items.iter().map(|i| i.occurred_at).min().or_else(|| {
            req.page
                .and_then(|p| p.get("oldest"))
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        });
        Ok(match next {
            Some(n) => Page {
                items,
                next: Some(json!({ "next": n, "newest": newest, "listed": listed,
                                   "oldest": oldest.map(|o| o.to_rfc3339()) })),
                ..Page::default()
            },
            None => Page {
                items,
                cursor: newest,
                reconcile: (req.mode == SyncMode::Full).then_some(match oldest {
                    Some(o) if listed >= MEDIA_CAP => Reconcile::Since(o),
                    _ => Reconcile::All,
                }),
                ..Page::default()
            },
        })
    }
}

/// A position in the newest-first media list: a media's time and id.
struct Mark {
    at: DateTime<Utc>,
    id: String,
}

impl Mark {
    fn from_json(v: &Value) -> Option<Self> {
        let at = parse_meta_time(v.get("timestamp")?.as_str()?)?;
        let id = v.get("id")?.as_str()?.to_string();
        Some(Self { at, id })
    }

    fn to_json(&self) -> Value {
        json!({ "timestamp": self.at.format("%Y-%m-%dT%H:%M:%S%z").to_string(), "id": self.id })
    }
}

/// Meta's `2024-03-09T14:22:31+0000` (offset without a colon, not RFC 3339).
pub fn parse_meta_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_time(s: &str, id: &str) -> Result<DateTime<Utc>, ProviderError> {
    parse_meta_time(s).ok_or_else(|| {
        ProviderError::Permanent(format!(
            "malformed reply: media {id} has no valid timestamp"
        ))
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MediaList {
    data: Vec<Media>,
    paging: Paging,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Paging {
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Media {
    id: String,
    caption: Option<String>,
    media_type: Option<String>,
    media_product_type: Option<String>,
    media_url: Option<String>,
    thumbnail_url: Option<String>,
    permalink: Option<String>,
    timestamp: String,
    like_count: Option<u64>,
    comments_count: Option<u64>,
    children: Option<Children>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Children {
    data: Vec<Child>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Child {
    id: String,
    media_type: Option<String>,
    media_url: Option<String>,
    thumbnail_url: Option<String>,
}

impl Media {
    fn into_item(self, occurred_at: DateTime<Utc>) -> RawItem {
        let children = self.children.map(|c| c.data).unwrap_or_default();
        // A carousel's own media_url is unreliable (cover or absent): its first child's. A
        // video with licensed audio has none: its thumbnail.
        let media_url = self.media_url.or(self.thumbnail_url).or_else(|| {
            children
                .first()
                .and_then(|c| c.media_url.clone().or(c.thumbnail_url.clone()))
        });
        let mut metrics = json!({
            "media_type": self.media_type,
            "media_product_type": self.media_product_type,
        });
        if let Some(n) = self.like_count {
            metrics["like_count"] = json!(n);
        }
        if let Some(n) = self.comments_count {
            metrics["comments_count"] = json!(n);
        }
        if !children.is_empty() {
            // Ids and types only: CDN URLs are signed and change, which is not an edit.
            metrics["children"] = children
                .iter()
                .map(|c| json!({ "id": c.id, "media_type": c.media_type }))
                .collect();
        }
        RawItem {
            external_id: self.id,
            kind: ItemKind::Media,
            occurred_at,
            text: self.caption.unwrap_or_default(),
            hashtags: Vec::new(),
            mentions: Vec::new(),
            location: None,
            media_url,
            permalink: self.permalink,
            metrics,
            subject: None,
            sender: None,
            html: None,
            mail: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_timestamps_without_a_colon_parse() {
        let t = parse_meta_time("2024-03-09T14:22:31+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-09T14:22:31+00:00");
        assert!(parse_meta_time("2024-03-09T14:22:31+0100").is_some());
        assert!(parse_meta_time("yesterday").is_none());
    }

    #[test]
    fn carousels_keep_child_types_and_take_the_first_child_url() {
        let m: Media = serde_json::from_str(
            r#"{"id":"1","media_type":"CAROUSEL_ALBUM","timestamp":"2024-03-09T14:22:31+0000","unknown":1,
                "children":{"data":[{"id":"2","media_type":"IMAGE","media_url":"https://cdn/2.jpg"},
                                    {"id":"3","media_type":"VIDEO","thumbnail_url":"https://cdn/3.jpg"}]}}"#,
        )
        .unwrap();
        let at = parse_meta_time(&m.timestamp).unwrap();
        let item = m.into_item(at);
        assert_eq!(item.media_url.as_deref(), Some("https://cdn/2.jpg"));
        assert_eq!(item.metrics["children"][1]["media_type"], "VIDEO");
        assert_eq!(item.text, "");
    }
}
