//! Facebook client (Graph API v18.0, `providers.md` §4): the user's own posts, newest first,
//! from `GET /v18.0/me/posts?fields=…&limit=N` (kind `post`, `place` → location), following the
//! time-based `paging.next` (`until` + `__paging_token`) until it is absent.
//!
//! - Page state: `{"next": "<paging.next without access_token>", "newest": <cursor>|null}`;
//!   the next URL is stored without its token and sent with the token as a bearer header.
//! - Cursor: `{"created_time": <unix seconds>, "id": "…"}`, the newest post seen. An
//!   incremental run asks `since=<created_time>` (inclusive at Graph) and drops the cursor's
//!   own post.
//! - Edits (`updated_time` moves, `created_time` does not) and fresh signed picture URLs are
//!   picked up by full runs, which upsert in place. Graph reports no deletions: a full run
//!   walks every post and ends with a reconciliation ([`Reconcile::All`]) — posts no longer
//!   listed are marked deleted.
//! - Without `user_posts` Graph answers error 10/200: `Forbidden`, the source's status `error`.

use chrono::{DateTime, Utc};
use lifesync_jobs::payloads::SyncMode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    http::{get_json, meta_next, stored_next},
    instagram::parse_meta_time,
    ItemKind, Location, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem, Reconcile,
    Session,
};

/// The post fields a sync reads (`caption`, `link`, `type`… are gone since v3.3).
pub const FIELDS: &str = "id,message,story,created_time,updated_time,permalink_url,status_type,\
full_picture,place,attachments{media_type,type,url,title,description,media,subattachments}";

pub struct Facebook;

impl Provider for Facebook {
    const ID: ProviderId = ProviderId::Facebook;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=100;

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let base = &s.app.api_base;
        let since = match req.mode {
            SyncMode::Incremental => req.cursor.and_then(Mark::from_json),
            SyncMode::Full => None,
        };
        let next = req.page.and_then(|p| p.get("next")).and_then(Value::as_str);
        let url = match next {
            Some(n) => stored_next(base, n)?,
            None => {
                let mut u = s.app.api_url("/v18.0/me/posts");
                u.query_pairs_mut()
                    .append_pair("fields", FIELDS)
                    .append_pair("limit", &s.page_size.to_string());
                if let Some(m) = &since {
                    u.query_pairs_mut()
                        .append_pair("since", &m.at.timestamp().to_string());
                }
                u
            }
        };
        let body: PostList = get_json(Self::ID, s.http.get(url).bearer_auth(s.token)).await?;
        let mut run_newest = req
            .page
            .and_then(|p| p.get("newest"))
            .and_then(Mark::from_json);
        let mut items = Vec::with_capacity(body.data.len());
        let mut reached_cursor = false;
        for p in body.data {
            let at = parse_meta_time(&p.created_time).ok_or_else(|| {
                ProviderError::Permanent(format!(
                    "malformed reply: post {} has no valid created_time",
                    p.id
                ))
            })?;
            if run_newest.is_none() {
                run_newest = Some(Mark {
                    at,
                    id: p.id.clone(),
                });
            }
            // `since` is inclusive: the cursor's own post is known, and so is everything
            // after it (newest first), whatever the next link says.
            if since.as_ref().is_some_and(|m| p.id == m.id || at < m.at) {
                reached_cursor = true;
                break;
            }
            items.push(p.into_item(at));
        }
        let newest = run_newest.map(|m| m.to_json());
        Ok(match body.paging.next.filter(|_| !reached_cursor) {
            Some(n) => Page {
                items,
                deleted: Vec::new(),
                next: Some(json!({ "next": meta_next(base, &n)?, "newest": newest })),
                cursor: None,
                ..Page::default()
            },
            None => Page {
                items,
                deleted: Vec::new(),
                next: None,
                cursor: newest,
                reconcile: (req.mode == SyncMode::Full).then_some(Reconcile::All),
                ..Page::default()
            },
        })
    }
}

/// A post's creation time (whole seconds, as `since` takes them) and id.
struct Mark {
    at: DateTime<Utc>,
    id: String,
}

impl Mark {
    fn from_json(v: &Value) -> Option<Self> {
        let at = DateTime::from_timestamp(v.get("created_time")?.as_i64()?, 0)?;
        let id = v.get("id")?.as_str()?.to_string();
        Some(Self { at, id })
    }

    fn to_json(&self) -> Value {
        json!({ "created_time": self.at.timestamp(), "id": self.id })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostList {
    data: Vec<Post>,
    paging: Paging,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Paging {
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Post {
    id: String,
    message: Option<String>,
    story: Option<String>,
    created_time: String,
    permalink_url: Option<String>,
    status_type: Option<String>,
    full_picture: Option<String>,
    place: Option<Place>,
    attachments: Option<Attachments>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Place {
    name: Option<String>,
    location: Option<PlaceLocation>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PlaceLocation {
    latitude: Option<f64>,
    longitude: Option<f64>,
    city: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Attachments {
    data: Vec<Attachment>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Attachment {
    media_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    media: Option<AttachmentMedia>,
    subattachments: Option<Attachments>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AttachmentMedia {
    image: Option<Image>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Image {
    src: Option<String>,
}

impl Post {
    fn into_item(self, occurred_at: DateTime<Utc>) -> RawItem {
        let location = self.place.and_then(|p| {
            let (lat, lon, city) = p
                .location
                .map_or((None, None, None), |l| (l.latitude, l.longitude, l.city));
            let name = p.name.or(city);
            (name.is_some() || lat.is_some()).then_some(Location { name, lat, lon })
        });
        let attachments = self.attachments.map(|a| a.data).unwrap_or_default();
        let media_url = self.full_picture.or_else(|| {
            attachments
                .iter()
                .find_map(|a| a.media.as_ref()?.image.as_ref()?.src.clone())
        });
        let mut metrics = json!({ "status_type": self.status_type });
        if !attachments.is_empty() {
            metrics["attachments"] = attachments
                .iter()
                .map(|a| {
                    json!({
                        "type": a.kind,
                        "media_type": a.media_type,
                        "subattachments": a.subattachments.as_ref().map_or(0, |s| s.data.len()),
                    })
                })
                .collect();
        }
        RawItem {
            external_id: self.id,
            kind: ItemKind::Post,
            occurred_at,
            text: self.message.or(self.story).unwrap_or_default(),
            hashtags: Vec::new(),
            mentions: Vec::new(),
            location,
            media_url,
            permalink: self.permalink_url,
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
    fn places_become_locations_and_stories_text() {
        let p: Post = serde_json::from_str(
            r#"{"id":"1_2","story":"Jane updated her profile picture.","created_time":"2023-11-02T18:25:43+0000",
                "place":{"id":"1","name":"Santa Monica Pier","location":{"latitude":34.0092,"longitude":-118.4976}},
                "attachments":{"data":[{"type":"photo","media":{"image":{"src":"https://cdn/p.jpg"}}}]}}"#,
        )
        .unwrap();
        let at = parse_meta_time(&p.created_time).unwrap();
        let item = p.into_item(at);
        assert_eq!(item.text, "Jane updated her profile picture.");
        let l = item.location.unwrap();
        assert_eq!(
            (l.name.as_deref(), l.lat, l.lon),
            (Some("Santa Monica Pier"), Some(34.0092), Some(-118.4976))
        );
        assert_eq!(item.media_url.as_deref(), Some("https://cdn/p.jpg"));
    }
}
