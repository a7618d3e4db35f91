//! Instagram client (Instagram API with Instagram Login): the account's
//! media, newest first, from `GET /me/media?fields=…&limit=N` (kind `media`), following
//! `paging.next` until it is absent (the walk: `walk`; Graph paging and times: `meta`); the
//! profile from `GET /me?fields=user_id,username,…`.
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
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    app::ProviderApp,
    http::get_json,
    meta::{self, IdValue},
    walk::{self, Capped, TimeMark},
    AccountProfile, ItemKind, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem,
    Session,
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

    async fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccountProfile, ProviderError> {
        #[derive(Deserialize)]
        struct Me {
            user_id: Option<IdValue>,
            id: Option<IdValue>,
            username: Option<String>,
        }
        let me: Me = get_json(
            Self::ID,
            http.get(app.api_url("/me"))
                .query(&[("fields", "user_id,username,name,account_type")])
                .bearer_auth(token),
        )
        .await?;
        let id = me
            .user_id
            .or(me.id)
            .ok_or_else(|| ProviderError::Permanent("profile without an id".into()))?;
        Ok(AccountProfile {
            account_id: id.0,
            account_name: me.username,
            content_version: None,
        })
    }

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let base = &s.app.api_base;
        let url = meta::page_url(base, req.page, || {
            let mut u = s.app.api_url("/me/media");
            u.query_pairs_mut()
                .append_pair("fields", FIELDS)
                .append_pair("limit", &s.page_size.to_string());
            u
        })?;
        let body: meta::List<Media> =
            get_json(Self::ID, s.http.get(url).bearer_auth(s.token)).await?;
        let stop = walk::stop_at(req.mode, req.cursor, mark_from_json);
        let run_newest = req
            .page
            .and_then(|p| p.get("newest"))
            .and_then(mark_from_json);
        let walked = walk::walk(body.data, stop.as_ref(), run_newest, |m| {
            Ok(TimeMark {
                at: meta::entry_time(&m.timestamp, "media", &m.id, "timestamp")?,
                id: m.id.clone(),
            })
        })?;
        let items: Vec<RawItem> = walked
            .kept
            .into_iter()
            .map(|(m, at)| m.into_item(at.at))
            .collect();
        let next = match body.paging.next {
            Some(n) if !walked.reached => Some(meta::next_to_store(base, &n)?),
            _ => None,
        };
        let newest = walked.newest.as_ref().map(mark_to_json);
        let capped = Capped::after(req.page, &items);
        let next = next.map(|n| capped.into_state(json!({ "next": n, "newest": newest })));
        Ok(walk::page(
            req.mode,
            items,
            next,
            newest,
            capped.reconcile(MEDIA_CAP),
        ))
    }
}

/// The cursor's and page state's form of a position: `{"timestamp": "…+0000", "id": "…"}`.
fn mark_from_json(v: &Value) -> Option<TimeMark> {
    let at = meta::parse_time(v.get("timestamp")?.as_str()?)?;
    let id = v.get("id")?.as_str()?.to_string();
    Some(TimeMark { at, id })
}

fn mark_to_json(m: &TimeMark) -> Value {
    json!({ "timestamp": m.at.format("%Y-%m-%dT%H:%M:%S%z").to_string(), "id": m.id })
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
    fn carousels_keep_child_types_and_take_the_first_child_url() {
        let m: Media = serde_json::from_str(
            r#"{"id":"1","media_type":"CAROUSEL_ALBUM","timestamp":"2024-03-09T14:22:31+0000","unknown":1,
                "children":{"data":[{"id":"2","media_type":"IMAGE","media_url":"https://cdn/2.jpg"},
                                    {"id":"3","media_type":"VIDEO","thumbnail_url":"https://cdn/3.jpg"}]}}"#,
        )
        .unwrap();
        let at = meta::parse_time(&m.timestamp).unwrap();
        let item = m.into_item(at);
        assert_eq!(item.media_url.as_deref(), Some("https://cdn/2.jpg"));
        assert_eq!(item.metrics["children"][1]["media_type"], "VIDEO");
        assert_eq!(item.text, "");
    }
}
