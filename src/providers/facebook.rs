//! Facebook client (Graph API v18.0): the user's own posts, newest first,
//! from `GET /v18.0/me/posts?fields=…&limit=N` (kind `post`, `place` → location), following the
//! time-based `paging.next` (`until` + `__paging_token`) until it is absent (the walk: `walk`;
//! Graph paging and times: `meta`); the profile from `GET /v18.0/me?fields=id,name`.
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
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    app::ProviderApp,
    http::get_json,
    meta::{self, IdValue},
    walk::{self, TimeMark},
    AccountProfile, ItemKind, Location, Page, PageRequest, Provider, ProviderError, ProviderId,
    RawItem, Reconcile, Session,
};

/// The post fields a sync reads (`caption`, `link`, `type`… are gone since v3.3).
pub const FIELDS: &str = "id,message,story,created_time,updated_time,permalink_url,status_type,\
full_picture,place,attachments{media_type,type,url,title,description,media,subattachments}";

pub struct Facebook;

impl Provider for Facebook {
    const ID: ProviderId = ProviderId::Facebook;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=100;

    async fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccountProfile, ProviderError> {
        #[derive(Deserialize)]
        struct Me {
            id: IdValue,
            name: Option<String>,
        }
        let me: Me = get_json(
            Self::ID,
            http.get(app.api_url("/v18.0/me"))
                .query(&[("fields", "id,name")])
                .bearer_auth(token),
        )
        .await?;
        Ok(AccountProfile {
            account_id: me.id.0,
            account_name: me.name,
            content_version: None,
        })
    }

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let base = &s.app.api_base;
        let since = walk::stop_at(req.mode, req.cursor, mark_from_json);
        let url = meta::page_url(base, req.page, || {
            let mut u = s.app.api_url("/v18.0/me/posts");
            u.query_pairs_mut()
                .append_pair("fields", FIELDS)
                .append_pair("limit", &s.page_size.to_string());
            if let Some(m) = &since {
                u.query_pairs_mut()
                    .append_pair("since", &m.at.timestamp().to_string());
            }
            u
        })?;
        let body: meta::List<Post> =
            get_json(Self::ID, s.http.get(url).bearer_auth(s.token)).await?;
        let run_newest = req
            .page
            .and_then(|p| p.get("newest"))
            .and_then(mark_from_json);
        // `since` is inclusive: the cursor's own post is known, and so is everything after it
        // (newest first), whatever the next link says.
        let walked = walk::walk(body.data, since.as_ref(), run_newest, |p| {
            Ok(TimeMark {
                at: meta::entry_time(&p.created_time, "post", &p.id, "created_time")?,
                id: p.id.clone(),
            })
        })?;
        let items = walked
            .kept
            .into_iter()
            .map(|(p, at)| p.into_item(at.at))
            .collect();
        let newest = walked.newest.as_ref().map(mark_to_json);
        let next = match body.paging.next.filter(|_| !walked.reached) {
            Some(n) => Some(json!({ "next": meta::next_to_store(base, &n)?, "newest": newest })),
            None => None,
        };
        Ok(walk::page(req.mode, items, next, newest, Reconcile::All))
    }
}

/// The cursor's and page state's form of a position: `{"created_time": <unix seconds>, "id"}`
/// (whole seconds, as `since` takes them).
fn mark_from_json(v: &Value) -> Option<TimeMark> {
    let at = DateTime::from_timestamp(v.get("created_time")?.as_i64()?, 0)?;
    let id = v.get("id")?.as_str()?.to_string();
    Some(TimeMark { at, id })
}

fn mark_to_json(m: &TimeMark) -> Value {
    json!({ "created_time": m.at.timestamp(), "id": m.id })
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
        let at = meta::parse_time(&p.created_time).unwrap();
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
