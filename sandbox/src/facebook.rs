//! Facebook Graph stand-in: OAuth dialog `/{version}/dialog/oauth`, the GET token endpoint
//! `/{version}/oauth/access_token` (code exchange with the secret in the query, and
//! `grant_type=fb_exchange_token` for long-lived tokens; no refresh tokens), `/{version}/me`
//! and `DELETE /{version}/me/permissions` (revocation). Any version path is accepted.
//!
//! Posts: `GET /{version}/me/posts` (and `/{version}/{user-id}/posts`, where `paging.next`
//! points; unversioned too), newest first by `created_time`, with the real shape: `+0000`
//! timestamps, `place{name, location{…}}`, `attachments{data[…]}` (albums with
//! `subattachments`), `story` for posts without a message; default fields without `fields`;
//! the v3.3-deprecated post fields → error 12, unknown fields → error 100; time-based paging
//! (`since`/`until` unix seconds, `paging.next` with the access token, `until` and
//! `__paging_token`, absent on the last page); `limit` clamped to 100. An account whose id
//! starts with `restricted` has not granted `user_posts` (error 10). Faults render the Graph
//! way: 503 code 2, throttling as HTTP 400 code 4 with `X-App-Usage`; every reply carries
//! `X-App-Usage` (percent of the app's hourly budget).
//!
//! The data set per (seed, account): [`DEFAULT_POSTS`] posts with messages in several scripts,
//! PII, hashtags, geotagged places, photos, albums, videos and shared links;
//! [`FacebookData`] adds, edits and deletes posts between syncs.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use poem::{handler, web::Data, Request, Response, Route};
use serde_json::{json, Value};

use crate::{
    fnv,
    meta::{admit_own_edge, fields, graph_error, own_base, request_token},
    oauth,
    preamble::{json_reply, query},
    Provider, SandboxState,
};

/// The demo account's app-scoped id.
pub const ACCOUNT: &str = "10223456789012345";

/// What the sandbox's shared parts need of Facebook: its name, endpoints, OAuth flavor, 401,
/// fault replies and routes (listed in [`crate::provider::SPECS`]).
pub const SPEC: crate::provider::ProviderSpec = crate::provider::ProviderSpec {
    provider: Provider::Facebook,
    name: "facebook",
    auth_path: "/v18.0/dialog/oauth",
    token_path: "/v18.0/oauth/access_token",
    scopes: None,
    flavor: oauth::Flavor {
        pkce: oauth::PkceRule::Ignored,
        client_auth: oauth::AuthRule::Query,
        code_lifetime: std::time::Duration::from_secs(600),
        access_ttl_secs: 5_183_944,
        refresh: oauth::RefreshRule::None,
        errors: oauth::ErrorStyle::Graph,
        default_account: ACCOUNT,
        error_reason: true,
        redirect_fragment: "",
        exchange_grant: true,
        reply: oauth::TokenReply::Rfc {
            token_type: "Bearer",
        },
        revoke_auth: oauth::RevokeAuth::Anyone,
        revoke_grant: false,
        revoke_body: Some("{}"),
    },
    token_in_query: true,
    token_on_arrival: false,
    unauthorized: crate::meta::graph_token_error,
    fault_reply: |_, _, fault| crate::meta::fault_reply(fault, None),
    quota_reply: |_| None,
    routes,
    control_routes: Some(control_routes),
};

crate::feed_control::editable_feed!(FacebookData);

#[handler]
fn me(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(Provider::Facebook, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    Response::builder()
        .content_type("application/json")
        .body(json!({"id": account, "name": "Jane Doe"}).to_string())
}

/// `DELETE /me/permissions`: the app loses every permission of the user, so every token of
/// the account stops working. With the `revoke_unavailable` fault: Graph's transient error.
#[handler]
fn delete_permissions(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    if let Err(r) = state.authenticate(Provider::Facebook, req) {
        return r;
    }
    let token = request_token(req);
    state.record("facebook revoke".into());
    if state.revoke_unavailable() {
        return crate::meta::fault_reply(crate::DataFault::Unavailable, None);
    }
    state.revoke_grant(Provider::Facebook, &token);
    Response::builder()
        .content_type("application/json")
        .body(json!({"success": true}).to_string())
}

pub fn routes() -> Route {
    Route::new()
        .at("/:version/dialog/oauth", poem::get(oauth::authorize))
        .at(
            "/:version/oauth/access_token",
            poem::get(oauth::token).post(oauth::token),
        )
        .at("/:version/me", poem::get(me))
        .at("/me", poem::get(me))
        .at("/:version/me/permissions", poem::delete(delete_permissions))
        .at("/me/posts", poem::get(posts_list))
        .at("/:version/:node/posts", poem::get(posts_list))
}

/// Posts per account in a fresh data set.
pub const DEFAULT_POSTS: usize = 120;
const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone)]
struct Post {
    /// The part after `{user-id}_`.
    n: u64,
    message: Option<String>,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    place: Option<usize>,
    /// 0 text, 1 photo, 2 album, 3 video, 4 shared link, 5 profile-picture story.
    shape: usize,
}

/// (id, name, city, country, latitude, longitude, street, zip)
type PlaceRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    &'static str,
    &'static str,
);
const PLACES: [PlaceRow; 4] = [
    (
        "110829968958813",
        "Santa Monica Pier",
        "Santa Monica",
        "United States",
        34.0092,
        -118.4976,
        "200 Santa Monica Pier",
        "90401",
    ),
    (
        "104048449631599",
        "Torre de Belém",
        "Lisboa",
        "Portugal",
        38.6916,
        -9.2160,
        "Av. Brasília",
        "1400-038",
    ),
    (
        "108016195884385",
        "東京タワー Tokyo Tower",
        "Tokyo",
        "Japan",
        35.6586,
        139.7454,
        "4-2-8 Shibakoen",
        "105-0011",
    ),
    (
        "112085338807430",
        "Café de Flore",
        "Paris",
        "France",
        48.8540,
        2.3325,
        "172 Bd Saint-Germain",
        "75006",
    ),
];

const MESSAGES: [&str; 6] = [
    "Sunset at the pier with Ana and Bruno 🌅 #sunset #goldenhour",
    "Fête de la musique à Paris, quelle soirée ! 🎶 #music",
    "新しいカメラを買った！週末は撮影に行きます #photography",
    "Selling my old bike, text me at +44 20 7946 0{nn} or mail jane.doe{nn}@example.org #forsale",
    "Proud of the team today 💪 thanks @Bruno Costa #work",
    "Read this, it changed how I think about sleep 😴 #health",
];

/// Facebook's data set: per account, deterministic from the seed, plus changes made at run
/// time through the methods below or the control routes.
pub struct FacebookData {
    pub seed: u64,
    accounts: Mutex<HashMap<String, Vec<Post>>>,
}

impl FacebookData {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn generate(&self, account: &str, count: usize) -> Vec<Post> {
        let mix = fnv(account) ^ self.seed.rotate_left(7);
        let base = 10_229_000_000_000_000u64 + (mix % 1_000_000) * 10_000;
        let start = Utc.with_ymd_and_hms(2024, 9, 1, 7, 0, 0).unwrap()
            + Duration::seconds((mix % 7200) as i64);
        (0..count)
            .map(|i| {
                let k = (mix as usize % 1000).wrapping_add(i);
                let created = start + Duration::minutes(11 * 60 * i as i64 + 13 * (k % 5) as i64);
                post(base + (i as u64 + 1) * 7_919, k, i, created)
            })
            .collect()
    }

    fn with_account<R>(&self, account: &str, f: impl FnOnce(&mut Vec<Post>) -> R) -> R {
        let mut accounts = self.accounts.lock().expect("accounts");
        let posts = accounts
            .entry(account.to_string())
            .or_insert_with(|| self.generate(account, DEFAULT_POSTS));
        f(posts)
    }

    fn id(account: &str, p: &Post) -> String {
        format!("{account}_{}", p.n)
    }

    /// The ids (`{user-id}_{post-id}`) of an account's live posts.
    pub fn ids(&self, account: &str) -> Vec<String> {
        self.with_account(account, |all| {
            all.iter().map(|p| Self::id(account, p)).collect()
        })
    }

    /// Publishes `n` newer posts; returns their ids.
    pub fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let (last_n, last_at) = all
                .iter()
                .map(|p| (p.n, p.created))
                .max_by_key(|(n, at)| (*at, *n))
                .unwrap_or((10_229_000_000_000_000, Utc::now()));
            let len = all.len();
            (1..=n)
                .map(|i| {
                    let p = post(
                        last_n + i as u64 * 7_919,
                        len + i,
                        len + i,
                        last_at + Duration::minutes(50 * i as i64),
                    );
                    all.push(p.clone());
                    Self::id(account, &p)
                })
                .collect()
        })
    }

    /// Edits the messages of `n` older posts (`updated_time` moves); returns their ids.
    pub fn edit(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let len = all.len();
            (0..n.min(len))
                .map(|j| {
                    let p = &mut all[(3 + j * 13) % len];
                    p.message = Some(match p.message.take() {
                        Some(m) => format!("{m} (edit: typo fixed ✏️)"),
                        None => "New profile picture, taken in Québec 📷".into(),
                    });
                    p.updated = Utc::now();
                    Self::id(account, p)
                })
                .collect()
        })
    }

    /// Deletes `n` posts from the middle of the list; returns their ids.
    pub fn delete(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let at = all.len() / 2;
            let n = n.min(all.len() - at);
            all.drain(at..at + n)
                .map(|p| Self::id(account, &p))
                .collect()
        })
    }

    /// Posts newest first with `since <= created <= until`, after the paging token's post.
    fn page(
        &self,
        account: &str,
        since: Option<i64>,
        until: Option<i64>,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> (Vec<Post>, bool) {
        self.with_account(account, |all| {
            let mut sorted: Vec<&Post> = all
                .iter()
                .filter(|p| {
                    let t = p.created.timestamp();
                    since.is_none_or(|s| t >= s)
                        && until.is_none_or(|u| t <= u)
                        && after.is_none_or(|a| (t, p.n) < a)
                })
                .collect();
            sorted.sort_by_key(|p| std::cmp::Reverse((p.created.timestamp(), p.n)));
            let more = sorted.len() > limit;
            (sorted.into_iter().take(limit).cloned().collect(), more)
        })
    }
}

fn post(n: u64, k: usize, i: usize, created: DateTime<Utc>) -> Post {
    let shape = match k % 10 {
        1 | 6 => 1,
        3 => 2,
        5 => 3,
        8 => 4,
        9 if k.is_multiple_of(3) => 5,
        _ => 0,
    };
    let message = (shape != 5).then(|| {
        let m = MESSAGES[k % MESSAGES.len()].replace("{nn}", &format!("{:02}", k % 100));
        format!("{m} · #{}", i + 1)
    });
    Post {
        n,
        message,
        created,
        updated: created + Duration::minutes((k % 9) as i64),
        place: (k % 4 == 2).then_some((k / 4) % PLACES.len()),
        shape,
    }
}

const POST_FIELDS: [&str; 16] = [
    "id",
    "message",
    "story",
    "created_time",
    "updated_time",
    "permalink_url",
    "status_type",
    "full_picture",
    "place",
    "attachments",
    "from",
    "privacy",
    "is_hidden",
    "is_published",
    "shares",
    "icon",
];
const DEPRECATED: [&str; 7] = [
    "caption",
    "description",
    "link",
    "name",
    "object_id",
    "source",
    "type",
];

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// A signed CDN link (re-signed daily, expiring: [`crate::meta::signed_cdn`]).
fn picture(account: &str, n: u64, now_ms: i64) -> String {
    crate::meta::signed_cdn(
        &format!("https://scontent.xx.fbcdn.net/v/t39.30808-6/{account}_{n}_n.jpg"),
        "_nc_cat=1",
        now_ms,
    )
}

fn post_json(account: &str, p: &Post, wanted: &[(String, Option<String>)], now_ms: i64) -> Value {
    let mut v = serde_json::Map::new();
    let id = format!("{account}_{}", p.n);
    for (f, _) in wanted {
        let value = match f.as_str() {
            "id" => json!(id),
            "message" => match &p.message {
                Some(m) => json!(m),
                None => continue,
            },
            "story" if p.shape == 5 => json!("Jane Doe updated her profile picture."),
            "story" if p.shape == 4 => json!("Jane Doe shared a link."),
            "created_time" => json!(time(p.created)),
            "updated_time" => json!(time(p.updated)),
            "permalink_url" => json!(format!("https://www.facebook.com/{account}/posts/{}", p.n)),
            "status_type" => json!(match p.shape {
                1 | 2 | 5 => "added_photos",
                3 => "added_video",
                4 => "shared_story",
                _ => "mobile_status_update",
            }),
            "full_picture" if matches!(p.shape, 1 | 2 | 3 | 5) => {
                json!(picture(account, p.n, now_ms))
            }
            "place" => match p.place {
                Some(i) => {
                    let (pid, name, city, country, lat, lon, street, zip) = PLACES[i];
                    json!({ "id": pid, "name": name, "location": { "city": city, "country": country,
                            "latitude": lat, "longitude": lon, "street": street, "zip": zip } })
                }
                None => continue,
            },
            "attachments" => {
                let image = json!({ "image": { "height": 720, "src": picture(account, p.n, now_ms), "width": 960 } });
                let url = format!("https://www.facebook.com/photo.php?fbid={}", p.n);
                let a = match p.shape {
                    1 | 5 => {
                        json!({ "media_type": "photo", "type": "photo", "url": url, "media": image })
                    }
                    2 => {
                        json!({ "media_type": "album", "type": "album", "url": url, "title": "Summer 2025",
                        "media": image, "subattachments": { "data": (1..=3).map(|j| json!({
                            "media_type": "photo", "type": "photo", "url": format!("{url}&i={j}"),
                            "media": { "image": { "height": 720, "src": picture(account, p.n * 10 + j, now_ms), "width": 960 } } })).collect::<Vec<_>>() } })
                    }
                    3 => json!({ "media_type": "video", "type": "video_inline",
                        "url": format!("https://www.facebook.com/{account}/videos/{}/", p.n),
                        "media": { "image": { "height": 405, "src": picture(account, p.n, now_ms), "width": 720 },
                                   "source": format!("https://video.xx.fbcdn.net/v/{}.mp4", p.n) } }),
                    4 => json!({ "media_type": "link", "type": "share",
                        "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fsleep",
                        "title": "Why we sleep", "description": "A long read about sleep." }),
                    _ => continue,
                };
                json!({ "data": [a] })
            }
            "from" => json!({ "name": "Jane Doe", "id": account }),
            "privacy" => {
                json!({ "value": "ALL_FRIENDS", "description": "Your friends", "friends": "", "allow": "", "deny": "" })
            }
            "is_hidden" => json!(false),
            "is_published" => json!(true),
            "icon" => json!("https://static.xx.fbcdn.net/rsrc.php/v3/yz/r/sandbox.png"),
            _ => continue,
        };
        v.insert(f.clone(), value);
    }
    Value::Object(v)
}

fn encode_token(p: &Post) -> String {
    format!("enc_Ad{:x}x{:x}", p.created.timestamp(), p.n)
}

fn decode_token(t: &str) -> Option<(i64, u64)> {
    let (a, b) = t.strip_prefix("enc_Ad")?.split_once('x')?;
    Some((
        i64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    ))
}

/// `GET /{version}/me/posts` and `GET /{version}/{user-id}/posts`.
#[handler]
async fn posts_list(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, malformed) = match admit_own_edge(&state, Provider::Facebook, req, "/posts").await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    if account.starts_with("restricted") {
        return graph_error(
            400,
            10,
            "(#10) This endpoint requires the 'user_posts' permission.",
            false,
        );
    }
    let q = query(req);
    let spec = q
        .get("fields")
        .map_or("id,message,story,created_time", String::as_str);
    let wanted = fields(spec);
    if wanted.iter().any(|(f, _)| DEPRECATED.contains(&f.as_str())) {
        return graph_error(400, 12, "(#12) deprecate_post_aggregated_fields_for_attachement is deprecated for versions v3.3 and higher", false);
    }
    if let Some((f, _)) = wanted
        .iter()
        .find(|(f, _)| !POST_FIELDS.contains(&f.as_str()))
    {
        return graph_error(
            400,
            100,
            &format!("(#100) Tried accessing nonexisting field ({f}) on node type (Post)"),
            false,
        );
    }
    let int = |k: &str| -> Result<Option<i64>, Response> {
        match q.get(k) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                graph_error(
                    400,
                    100,
                    &format!("(#100) The parameter {k} must be a unix timestamp or integer"),
                    false,
                )
            }),
        }
    };
    let (since, until, limit) = match (int("since"), int("until"), int("limit")) {
        (Ok(s), Ok(u), Ok(l)) => (s, u, l.map_or(25, |l| (l.max(1) as usize).min(MAX_LIMIT))),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let after = match q.get("__paging_token") {
        None => None,
        Some(t) => match decode_token(t) {
            Some(a) => Some(a),
            None => return graph_error(400, 100, "(#100) Invalid paging token", false),
        },
    };
    let (page, more) = state.facebook.page(&account, since, until, after, limit);
    let now_ms = state.now_ms();
    let data: Vec<Value> = page
        .iter()
        .map(|p| post_json(&account, p, &wanted, now_ms))
        .collect();
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let link = |extra: &[(&str, String)]| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("fields", spec)
                .append_pair("limit", &limit.to_string())
                .append_pair("access_token", &request_token(req));
            for (k, v) in extra {
                s.append_pair(k, v);
            }
            format!("{}/v18.0/{account}/posts?{}", own_base(req), s.finish())
        };
        body["paging"] = json!({
            "previous": link(&[("since", first.created.timestamp().to_string()),
                               ("__paging_token", encode_token(first)), ("__previous", "1".into())]),
        });
        if more {
            let mut extra = vec![
                ("until", last.created.timestamp().to_string()),
                ("__paging_token", encode_token(last)),
            ];
            if let Some(s) = since {
                extra.push(("since", s.to_string()));
            }
            body["paging"]["next"] = json!(link(&extra));
        }
    }
    let mut reply = json_reply(&body, malformed);
    // Platform rate limits: the app's usage of its hourly budget, in percent.
    let calls = state.requests.lock().expect("requests").len() as u64;
    let percent = (calls * 100 / 20_000).min(99);
    if let Ok(v) =
        json!({ "call_count": percent, "total_cputime": percent / 2, "total_time": percent / 2 })
            .to_string()
            .parse()
    {
        reply.headers_mut().insert("x-app-usage", v);
    }
    reply
}

/// Sandbox-only control routes under `/_sandbox/facebook`: `POST /accounts/:id/posts`
/// `{"count"}` adds posts, `…/edits` edits messages, `…/deletions` deletes posts (each answers
/// `{"ids": [...]}`); `GET /accounts/:id/posts` lists the live ids.
pub fn control_routes() -> Route {
    crate::feed_control::routes("posts", crate::feed_control::Feed(|s| &s.facebook))
}
