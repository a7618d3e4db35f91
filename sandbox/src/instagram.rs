//! Instagram (API with Instagram Login) stand-in: OAuth at `/oauth/authorize` and
//! `/oauth/access_token` (the flat reply with a numeric app-scoped `user_id`), the long-lived
//! exchange `/access_token?grant_type=ig_exchange_token`, `/refresh_access_token` (refused
//! for tokens younger than 24 h or expired, Graph error 190), and `/me`.
//!
//! Media: `GET /me/media` (and `/{version}/{ig-user-id}/media`, where `paging.next` points)
//! newest first, with the real shape: without `fields` ids only; `children` only with the
//! nested syntax `children{…}` (else ids only); `location` & co. → Graph error 100; `limit`
//! clamped to 100; cursor paging with `paging.cursors` and a `paging.next` that embeds the
//! access token, absent on the last page; `+0000` timestamps. Faults render the Graph way:
//! 503 code 2 `is_transient`, throttling as HTTP 403 code 80002 with
//! `X-Business-Use-Case-Usage` (`estimated_time_to_regain_access` in whole minutes). Every
//! media reply carries that header; over the hourly budget ([`DEFAULT_HOURLY_CALLS`], or the
//! `rate_limit` fault) the edge answers 80002 with the minutes left in the hour.
//!
//! The data set per (seed, account): [`DEFAULT_MEDIA`] media with captions in several scripts,
//! PII, hashtags and @mentions, carousels, reels, videos with licensed audio (no `media_url`)
//! and caption-less posts; [`InstagramData`] adds, edits and deletes media between syncs. The
//! Graph helpers it shares with Facebook live in [`crate::meta`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use poem::{handler, web::Data, Request, Response, Route};
use serde_json::{json, Value};

use crate::{
    fnv,
    meta::{admit_own_edge, fields, graph_error, graph_token_error, own_base, request_token},
    oauth,
    preamble::{json_reply, query},
    Provider, SandboxState,
};

/// The demo professional account (`user_id` from `/me`).
pub const ACCOUNT: &str = "17841405793187218";

/// What the sandbox's shared parts need of Instagram: its name, endpoints, OAuth flavor, 401,
/// fault replies and routes (listed in [`crate::provider::SPECS`]).
pub const SPEC: crate::provider::ProviderSpec = crate::provider::ProviderSpec {
    provider: Provider::Instagram,
    name: "instagram",
    auth_path: "/oauth/authorize",
    token_path: "/oauth/access_token",
    scopes: None,
    flavor: oauth::Flavor {
        pkce: oauth::PkceRule::Ignored,
        client_auth: oauth::AuthRule::BasicOrPost,
        code_lifetime: std::time::Duration::from_secs(3600),
        access_ttl_secs: 3600,
        refresh: oauth::RefreshRule::None,
        errors: oauth::ErrorStyle::Instagram,
        default_account: ACCOUNT,
        error_reason: true,
        redirect_fragment: "#_",
        exchange_grant: false,
        reply: oauth::TokenReply::Flat(|access, account| {
            format!(
                r#"{{"access_token":"{access}","user_id":{},"permissions":["instagram_business_basic"]}}"#,
                app_scoped_id(account)
            )
        }),
        revoke_auth: oauth::RevokeAuth::Anyone,
        revoke_grant: false,
        revoke_body: Some("{}"),
    },
    token_in_query: true,
    token_on_arrival: false,
    unauthorized: graph_token_error,
    fault_reply: |_, account, fault| crate::meta::fault_reply(fault, Some(account)),
    quota_reply: |_| None,
    routes,
    control_routes: Some(control_routes),
};

crate::feed_control::editable_feed!(InstagramData);

/// The app-scoped id of an account: a 17-digit number above 2^53, sent as a bare JSON number.
pub fn app_scoped_id(account: &str) -> u64 {
    let h = account.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    });
    27_000_000_000_000_000 + h % 1_000_000_000_000_000
}

/// `GET /access_token?grant_type=ig_exchange_token&client_secret&access_token`.
#[handler]
fn exchange(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let q = query(req);
    state.record("instagram token grant_type=ig_exchange_token".into());
    if q.get("grant_type").map(String::as_str) != Some("ig_exchange_token")
        || q.get("client_secret").is_none_or(|s| s.is_empty())
    {
        return oauth::oauth_error(
            oauth::ErrorStyle::Graph,
            poem::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unsupported grant_type or missing client_secret",
        );
    }
    match q
        .get("access_token")
        .and_then(|t| state.token_info(Provider::Instagram, t))
    {
        Some(info) => oauth::long_lived_reply(&state, Provider::Instagram, &info.account),
        None => graph_token_error(),
    }
}

/// `GET /refresh_access_token?grant_type=ig_refresh_token&access_token`.
#[handler]
fn refresh(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let q = query(req);
    state.record("instagram token grant_type=ig_refresh_token".into());
    let info = q
        .get("access_token")
        .and_then(|t| state.token_info(Provider::Instagram, t));
    match info {
        Some(i) if state.now_ms() - i.issued_ms >= 24 * 3600 * 1000 => {
            oauth::long_lived_reply(&state, Provider::Instagram, &i.account)
        }
        _ => graph_token_error(),
    }
}

#[handler]
fn me(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(Provider::Instagram, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = format!(
        r#"{{"user_id":"{account}","username":"jane.travels","name":"Jane","account_type":"BUSINESS","media_count":0,"id":"{}"}}"#,
        app_scoped_id(&account)
    );
    Response::builder()
        .content_type("application/json")
        .body(body)
}

pub fn routes() -> Route {
    Route::new()
        .at("/oauth/authorize", poem::get(oauth::authorize))
        .at("/oauth/access_token", poem::post(oauth::token))
        .at("/access_token", poem::get(exchange))
        .at("/refresh_access_token", poem::get(refresh))
        .at("/me", poem::get(me))
        .at("/:version/me", poem::get(me))
        .at("/me/media", poem::get(media_list))
        .at("/:version/:node/media", poem::get(media_list))
}

/// Media per account in a fresh data set.
pub const DEFAULT_MEDIA: usize = 120;
/// Calls per account and hour before Graph error 80002 (the `rate_limit` fault overrides it).
pub const DEFAULT_HOURLY_CALLS: u32 = 4800;
/// `limit`'s ceiling (larger values are clamped, as the real edge does).
const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone)]
struct Media {
    id: u64,
    caption: Option<String>,
    media_type: &'static str,
    product: &'static str,
    at: DateTime<Utc>,
    /// Carousel children: (id, media type).
    children: Vec<(u64, &'static str)>,
    /// A video with licensed audio: no `media_url`.
    licensed_audio: bool,
    likes: u32,
    comments: u32,
}

const CAPTIONS: [&str; 8] = [
    "Weekend in {city} with @{friend} #travel #weekend ☀️",
    "Café da manhã perfeito em São Paulo ☕ #brunch #café",
    "東京の夜景がきれい #tokyo #夜景 📸",
    "Prints available! Email {friend}@example.com or call +1 415 555 01{nn} #photography",
    "Sunrise run 🏃‍♀️ 10k done with @{friend} #running #reels",
    "Zürich → Genève by train 🚆 #switzerland #travel",
    "Asado en Ñandú, Buenos Aires 🥩 con @{friend} #argentina",
    "",
];
const CITIES: [&str; 4] = ["Lisbon", "Kraków", "Kyoto", "Montréal"];

/// Instagram's data set: per account, deterministic from the seed, plus changes made at run
/// time through the methods below or the control routes.
pub struct InstagramData {
    pub seed: u64,
    accounts: Mutex<HashMap<String, Vec<Media>>>,
    /// Calls per (account, hour): the Business Use Case budget behind the usage header.
    usage: Mutex<HashMap<(String, i64), u32>>,
}

impl InstagramData {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Mutex::new(HashMap::new()),
            usage: Mutex::new(HashMap::new()),
        }
    }

    fn generate(&self, account: &str, count: usize) -> Vec<Media> {
        let mix = fnv(account) ^ self.seed;
        let base = 17_850_000_000_000_000u64 + (mix % 10_000_000) * 100_000;
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 8, 0, 0).unwrap()
            + Duration::seconds((mix % 3600) as i64);
        (0..count)
            .map(|i| {
                let k = (mix as usize % 1000).wrapping_add(i);
                media(
                    base + (i as u64 + 1) * 9_973,
                    k,
                    i,
                    start + Duration::minutes(9 * 60 * i as i64 + 17 * (k % 7) as i64),
                )
            })
            .collect()
    }

    fn with_account<R>(&self, account: &str, f: impl FnOnce(&mut Vec<Media>) -> R) -> R {
        let mut accounts = self.accounts.lock().expect("accounts");
        let media = accounts
            .entry(account.to_string())
            .or_insert_with(|| self.generate(account, DEFAULT_MEDIA));
        f(media)
    }

    /// The ids of an account's live media (what a full sync must end with).
    pub fn ids(&self, account: &str) -> Vec<String> {
        self.with_account(account, |m| m.iter().map(|m| m.id.to_string()).collect())
    }

    /// Publishes `n` newer media; returns their ids.
    pub fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let (last_id, last_at) = all
                .iter()
                .map(|m| (m.id, m.at))
                .max()
                .unwrap_or((17_850_000_000_000_000, Utc::now()));
            (1..=n)
                .map(|i| {
                    let m = media(
                        last_id + i as u64 * 9_973,
                        all.len() + i,
                        all.len() + i,
                        last_at + Duration::minutes(45 * i as i64),
                    );
                    all.push(m.clone());
                    m.id.to_string()
                })
                .collect()
        })
    }

    /// Edits the captions of `n` older media (spread over the list); returns their ids.
    pub fn edit(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let len = all.len();
            (0..n.min(len))
                .map(|j| {
                    let m = &mut all[(2 + j * 11) % len];
                    m.caption = Some(match m.caption.take().filter(|c| !c.is_empty()) {
                        Some(c) => format!("{c} (edited ✏️)"),
                        None => "Forgot the caption: Porto, Ribeira 🌉 #porto".into(),
                    });
                    m.id.to_string()
                })
                .collect()
        })
    }

    /// Deletes `n` media from the middle of the list; returns their ids.
    pub fn delete(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let at = all.len() / 2;
            let n = n.min(all.len() - at);
            all.drain(at..at + n).map(|m| m.id.to_string()).collect()
        })
    }

    /// Counts a call against the account's hourly budget (`limit` calls): the percentage used
    /// and, once over budget, the whole minutes until the window ends.
    fn spend(&self, account: &str, now_ms: i64, limit: u32) -> (u32, Option<i64>) {
        let hour = now_ms.div_euclid(3_600_000);
        let mut usage = self.usage.lock().expect("usage");
        let used = usage.entry((account.to_string(), hour)).or_insert(0);
        *used += 1;
        let percent = (*used as u64 * 100 / limit.max(1) as u64).min(100) as u32;
        let regain = (*used > limit).then(|| {
            let left_ms = (hour + 1) * 3_600_000 - now_ms;
            (left_ms + 59_999) / 60_000
        });
        (percent, regain)
    }

    /// The account's media newest first, from after `cursor` (exclusive).
    fn page(&self, account: &str, after: Option<(i64, u64)>, limit: usize) -> (Vec<Media>, bool) {
        self.with_account(account, |all| {
            let mut sorted: Vec<&Media> = all
                .iter()
                .filter(|m| after.is_none_or(|a| (m.at.timestamp(), m.id) < a))
                .collect();
            sorted.sort_by_key(|m| std::cmp::Reverse((m.at.timestamp(), m.id)));
            let more = sorted.len() > limit;
            (sorted.into_iter().take(limit).cloned().collect(), more)
        })
    }
}

fn media(id: u64, k: usize, i: usize, at: DateTime<Utc>) -> Media {
    let template = CAPTIONS[k % CAPTIONS.len()];
    let caption = (!template.is_empty()).then(|| {
        let c = template
            .replace("{city}", CITIES[k % CITIES.len()])
            .replace("{friend}", &format!("friend.{}", k % 5))
            .replace("{nn}", &format!("{:02}", k % 100));
        format!("{c} · day {}", i + 1)
    });
    let (media_type, product, children) = match k % 6 {
        1 => (
            "CAROUSEL_ALBUM",
            "FEED",
            (0..2 + k % 3)
                .map(|j| {
                    (
                        id * 10 + j as u64 + 1,
                        if j % 2 == 0 { "IMAGE" } else { "VIDEO" },
                    )
                })
                .collect(),
        ),
        3 => ("VIDEO", "REELS", Vec::new()),
        5 if k % 4 == 1 => ("VIDEO", "FEED", Vec::new()),
        _ => ("IMAGE", "FEED", Vec::new()),
    };
    Media {
        id,
        caption,
        media_type,
        product,
        at,
        children,
        licensed_audio: media_type == "VIDEO" && k % 4 == 3,
        likes: (k * 37 % 500) as u32,
        comments: (k * 7 % 40) as u32,
    }
}

const MEDIA_FIELDS: [&str; 13] = [
    "id",
    "caption",
    "media_type",
    "media_product_type",
    "media_url",
    "thumbnail_url",
    "permalink",
    "timestamp",
    "username",
    "like_count",
    "comments_count",
    "shortcode",
    "is_comment_enabled",
];
const CHILD_FIELDS: [&str; 6] = [
    "id",
    "media_type",
    "media_url",
    "thumbnail_url",
    "timestamp",
    "username",
];

/// A signed CDN link (re-signed daily, expiring: [`crate::meta::signed_cdn`]).
fn cdn(id: u64, ext: &str, now_ms: i64) -> String {
    crate::meta::signed_cdn(
        &format!("https://scontent.cdninstagram.com/v/t51.29350-15/{id}_n.{ext}"),
        "stp=dst-jpg&_nc_ht=scontent.cdninstagram.com",
        now_ms,
    )
}

fn media_json(m: &Media, wanted: &[(String, Option<String>)], now_ms: i64) -> Value {
    let mut v = serde_json::Map::new();
    let video = m.media_type == "VIDEO";
    for (f, nested) in wanted {
        let value = match f.as_str() {
            "id" => json!(m.id.to_string()),
            "caption" => match &m.caption {
                Some(c) => json!(c),
                None => continue,
            },
            "media_type" => json!(m.media_type),
            "media_product_type" => json!(m.product),
            "media_url" if m.licensed_audio => continue,
            "media_url" if m.media_type == "CAROUSEL_ALBUM" => match m.children.first() {
                Some((c, _)) => json!(cdn(*c, "jpg", now_ms)),
                None => continue,
            },
            "media_url" => json!(cdn(m.id, if video { "mp4" } else { "jpg" }, now_ms)),
            "thumbnail_url" if video => json!(cdn(m.id, "jpg", now_ms)),
            "thumbnail_url" => continue,
            "permalink" => json!(format!(
                "https://www.instagram.com/{}/C{:x}/",
                if m.product == "REELS" { "reel" } else { "p" },
                m.id % 0xff_ffff_ffff
            )),
            "shortcode" => json!(format!("C{:x}", m.id % 0xff_ffff_ffff)),
            "timestamp" => json!(m.at.format("%Y-%m-%dT%H:%M:%S%z").to_string()),
            "username" => json!("jane.travels"),
            "like_count" => json!(m.likes),
            "comments_count" => json!(m.comments),
            "is_comment_enabled" => json!(true),
            "children" if m.children.is_empty() => continue,
            "children" => {
                let sub = nested.as_deref().map(fields).unwrap_or_default();
                let data: Vec<Value> = m
                    .children
                    .iter()
                    .map(|(id, t)| {
                        let mut c = serde_json::Map::new();
                        c.insert("id".into(), json!(id.to_string()));
                        for (f, _) in &sub {
                            let v = match f.as_str() {
                                "media_type" => json!(t),
                                "media_url" => {
                                    json!(cdn(
                                        *id,
                                        if *t == "VIDEO" { "mp4" } else { "jpg" },
                                        now_ms
                                    ))
                                }
                                "thumbnail_url" if *t == "VIDEO" => json!(cdn(*id, "jpg", now_ms)),
                                "timestamp" => {
                                    json!(m.at.format("%Y-%m-%dT%H:%M:%S%z").to_string())
                                }
                                "username" => json!("jane.travels"),
                                _ => continue,
                            };
                            c.insert(f.clone(), v);
                        }
                        Value::Object(c)
                    })
                    .collect();
                json!({ "data": data })
            }
            _ => continue,
        };
        v.insert(f.clone(), value);
    }
    Value::Object(v)
}

fn encode_cursor(m: &Media) -> String {
    format!("QVFI{:x}x{:x}", m.at.timestamp(), m.id)
}

fn decode_cursor(c: &str) -> Option<(i64, u64)> {
    let (t, id) = c.strip_prefix("QVFI")?.split_once('x')?;
    Some((
        i64::from_str_radix(t, 16).ok()?,
        u64::from_str_radix(id, 16).ok()?,
    ))
}

/// `GET /me/media` and `GET /{version}/{ig-user-id}/media`.
#[handler]
async fn media_list(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, malformed) =
        match admit_own_edge(&state, Provider::Instagram, req, "/media").await {
            Ok(a) => a,
            Err(r) => return r,
        };
    let q = query(req);
    let wanted = fields(q.get("fields").map_or("id", String::as_str));
    for (f, nested) in &wanted {
        let known = MEDIA_FIELDS.contains(&f.as_str()) || f == "children";
        let bad_child = nested.as_deref().map(fields).and_then(|sub| {
            sub.into_iter()
                .map(|(s, _)| s)
                .find(|s| !CHILD_FIELDS.contains(&s.as_str()))
        });
        if let Some(bad) = (!known).then(|| f.clone()).or(bad_child) {
            return graph_error(
                400,
                100,
                &format!("(#100) Tried accessing nonexisting field ({bad}) on node type (Media)"),
                false,
            );
        }
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 25,
        Some(Ok(n)) if n > 0 => n.min(MAX_LIMIT),
        Some(_) => {
            return graph_error(
                400,
                100,
                "(#100) The parameter limit must be a positive integer",
                false,
            )
        }
    };
    let after = match q.get("after") {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(c) => Some(c),
            None => return graph_error(400, 100, "(#100) Invalid cursor: after", false),
        },
    };
    let budget = state.rate_limit().unwrap_or(DEFAULT_HOURLY_CALLS);
    let (percent, regain) = state.instagram.spend(&account, state.now_ms(), budget);
    let usage = |eta: i64| {
        json!({ &account: [{ "type": "instagram", "call_count": percent, "total_cputime": percent / 4,
            "total_time": percent / 3, "estimated_time_to_regain_access": eta }] })
        .to_string()
    };
    if let Some(minutes) = regain {
        let mut r = graph_error(
            403,
            80002,
            "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
            true,
        );
        if let Ok(v) = usage(minutes).parse() {
            r.headers_mut().insert("x-business-use-case-usage", v);
        }
        return r;
    }
    let (page, more) = state.instagram.page(&account, after, limit);
    let now_ms = state.now_ms();
    let data: Vec<Value> = page
        .iter()
        .map(|m| media_json(m, &wanted, now_ms))
        .collect();
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        body["paging"] =
            json!({ "cursors": { "before": encode_cursor(first), "after": encode_cursor(last) } });
        if more {
            let next = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("access_token", &request_token(req))
                .append_pair("fields", q.get("fields").map_or("id", String::as_str))
                .append_pair("limit", &limit.to_string())
                .append_pair("after", &encode_cursor(last))
                .finish();
            body["paging"]["next"] =
                json!(format!("{}/v21.0/{account}/media?{next}", own_base(req)));
        }
    }
    let mut reply = json_reply(&body, malformed);
    if let Ok(v) = usage(0).parse() {
        reply.headers_mut().insert("x-business-use-case-usage", v);
    }
    reply
}

/// Sandbox-only control routes under `/_sandbox/instagram`: `POST /accounts/:id/media`
/// `{"count"}` adds media, `…/edits` edits captions, `…/deletions` deletes media (each answers
/// `{"ids": [...]}`); `GET /accounts/:id/media` lists the live ids.
pub fn control_routes() -> Route {
    crate::feed_control::routes("media", crate::feed_control::Feed(|s| &s.instagram))
}

#[cfg(test)]
mod tests {
    #[test]
    fn app_scoped_ids_exceed_2_pow_53() {
        let id = super::app_scoped_id(super::ACCOUNT);
        assert!(id > 1 << 53, "{id}");
        assert_eq!(id.to_string().len(), 17);
    }
}
