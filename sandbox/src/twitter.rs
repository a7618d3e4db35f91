//! Twitter (X API v2) stand-in: `GET /2/users/me` and `GET /2/users/:id/tweets` with the real
//! shapes (string ids, `.000Z` timestamps, `entities`, `geo` + `includes.places` only with the
//! expansion, `{"meta":{"result_count":0}}` when empty), `max_results` 5–100 enforced,
//! `since_id` exclusive, `pagination_token`, `x-rate-limit-*` on every reply and the v2 429
//! problem body; with `Faults::quota = "UsageCapExceeded"`, the app's monthly usage cap (429
//! `UsageCapExceeded` problem, `period: Monthly`, no reset header) on every data request.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Path, Query},
    Request, Response, Route,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    faults::{truncated, DataFault},
    fnv, oauth, preamble, Provider, SandboxState,
};

/// What the sandbox's shared parts need of X (Twitter): its name, endpoints, OAuth flavor, 401,
/// fault replies and routes (listed in [`crate::provider::SPECS`]).
pub const SPEC: crate::provider::ProviderSpec = crate::provider::ProviderSpec {
    provider: Provider::Twitter,
    name: "twitter",
    auth_path: "/i/oauth2/authorize",
    token_path: "/2/oauth2/token",
    scopes: None,
    flavor: oauth::Flavor {
        pkce: oauth::PkceRule::Required,
        client_auth: oauth::AuthRule::Basic,
        code_lifetime: std::time::Duration::from_secs(30),
        access_ttl_secs: 7200,
        refresh: oauth::RefreshRule::SingleUse("offline.access"),
        errors: oauth::ErrorStyle::Twitter,
        default_account: "1001",
        error_reason: false,
        redirect_fragment: "",
        exchange_grant: false,
        reply: oauth::TokenReply::Rfc {
            token_type: "bearer",
        },
        revoke_auth: oauth::RevokeAuth::Basic,
        revoke_grant: false,
        revoke_body: Some(r#"{"revoked":true}"#),
    },
    token_in_query: false,
    token_on_arrival: true,
    unauthorized: || {
        problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
            "about:blank",
        )
    },
    fault_reply: |_, _, fault| fault_reply(fault),
    quota_reply,
    routes,
    control_routes: None,
};

/// Tweets per account in a fresh data set.
pub const DEFAULT_TWEETS: usize = 230;
const LIMIT_PER_WINDOW: u32 = 900;

#[derive(Debug, Clone)]
struct Tweet {
    id: u64,
    text: String,
    created_at: DateTime<Utc>,
    hashtags: Vec<String>,
    mentions: Vec<String>,
    place: Option<usize>,
    likes: u32,
}

const PLACES: [(&str, &str, &str, f64, f64); 3] = [
    (
        "01a9a39529b27f36",
        "Manhattan, NY",
        "Manhattan",
        -73.99,
        40.73,
    ),
    (
        "3df4f427b5a60fea",
        "Lisboa, Portugal",
        "Lisboa",
        -9.14,
        38.72,
    ),
    (
        "5a110d312052166f",
        "San Francisco, CA",
        "San Francisco",
        -122.42,
        37.77,
    ),
];

const TEXTS: [&str; 6] = [
    "Landed in {city}! #travel with @{friend}",
    "Coffee and code this morning ☕ #rustlang",
    "Finished the marathon in 4h02 🏃 #running",
    "Reading about durable job queues, thanks @{friend} #distributed",
    "Café com os amigos em {city} #férias",
    "Sunset over the bay 🌅 #photography",
];

/// The per-account data sets (deterministic from the seed) plus tweets added at run time.
pub struct TwitterData {
    seed: u64,
    accounts: Mutex<HashMap<String, Vec<Tweet>>>,
    /// Requests per (account, endpoint, 15-minute window): limits are per endpoint, as at X.
    usage: Mutex<HashMap<(String, &'static str, u64), u32>>,
}

impl TwitterData {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Mutex::new(HashMap::new()),
            usage: Mutex::new(HashMap::new()),
        }
    }

    fn generate(&self, account: &str, count: usize) -> Vec<Tweet> {
        let mix = fnv(account) ^ self.seed;
        let base_id = 1_700_000_000_000_000_000u64 + (mix % 1_000_000) * 1_000;
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        (0..count)
            .map(|i| {
                let k = (mix as usize).wrapping_add(i);
                let place = (k % 7 == 0).then_some(k % PLACES.len());
                let city = place.map_or("Porto", |p| PLACES[p].2);
                let text = TEXTS[k % TEXTS.len()]
                    .replace("{city}", city)
                    .replace("{friend}", &format!("friend{}", k % 5));
                Tweet {
                    id: base_id + (i as u64 + 1) * 7_919_000_003,
                    hashtags: words(&text, '#'),
                    mentions: words(&text, '@'),
                    text,
                    created_at: start + Duration::hours(3 * i as i64),
                    place,
                    likes: (k % 50) as u32,
                }
            })
            .collect()
    }

    fn with_account<R>(&self, account: &str, f: impl FnOnce(&mut Vec<Tweet>) -> R) -> R {
        let mut accounts = self.accounts.lock().expect("accounts");
        let tweets = accounts
            .entry(account.to_string())
            .or_insert_with(|| self.generate(account, DEFAULT_TWEETS));
        f(tweets)
    }

    /// The ids of an account's tweets (what a full sync must end with).
    pub fn ids(&self, account: &str) -> Vec<String> {
        self.with_account(account, |tweets| {
            tweets.iter().map(|t| t.id.to_string()).collect()
        })
    }

    /// Adds `count` newer tweets to an account; returns their ids.
    pub fn add_tweets(&self, account: &str, count: usize) -> Vec<String> {
        self.with_account(account, |tweets| {
            let last = tweets.last().cloned().expect("accounts have tweets");
            (1..=count)
                .map(|i| {
                    let t = Tweet {
                        id: last.id + i as u64 * 7_919_000_003,
                        text: format!("New post number {i} #update"),
                        created_at: last.created_at + Duration::hours(i as i64),
                        hashtags: vec!["update".into()],
                        mentions: vec![],
                        place: None,
                        likes: 0,
                    };
                    tweets.push(t.clone());
                    t.id.to_string()
                })
                .collect()
        })
    }

    /// Deletes `count` of an account's tweets, oldest first (X reports no deletion: they are
    /// simply gone from the timeline); returns their ids.
    pub fn delete_tweets(&self, account: &str, count: usize) -> Vec<String> {
        self.with_account(account, |tweets| {
            let n = count.min(tweets.len());
            tweets.drain(..n).map(|t| t.id.to_string()).collect()
        })
    }

    /// Changes the like counts of `count` of an account's tweets, newest first (their
    /// `public_metrics` change, nothing else); returns their ids.
    pub fn like_tweets(&self, account: &str, count: usize) -> Vec<String> {
        self.with_account(account, |tweets| {
            tweets
                .iter_mut()
                .rev()
                .take(count)
                .map(|t| {
                    t.likes += 100;
                    t.id.to_string()
                })
                .collect()
        })
    }

    /// Counts a request against the account's 15-minute window.
    fn spend(&self, account: &str, endpoint: &'static str, limit: u32) -> RateWindow {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let window = now / 900;
        let mut usage = self.usage.lock().expect("usage");
        let used = usage
            .entry((account.to_string(), endpoint, window))
            .or_insert(0);
        *used += 1;
        RateWindow {
            limit,
            remaining: limit.saturating_sub(*used),
            reset: (window + 1) * 900,
            exceeded: *used > limit,
        }
    }
}

/// One account's rate-limit window after a request.
struct RateWindow {
    limit: u32,
    remaining: u32,
    reset: u64,
    exceeded: bool,
}

fn words(text: &str, sigil: char) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix(sigil))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_string()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

pub(crate) fn problem(status: StatusCode, title: &str, detail: &str, kind: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/problem+json")
        .body(
            json!({ "title": title, "detail": detail, "type": kind, "status": status.as_u16() })
                .to_string(),
        )
}

fn json_reply(body: Value, rate: RateWindow) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .header("x-rate-limit-limit", rate.limit)
        .header("x-rate-limit-remaining", rate.remaining)
        .header("x-rate-limit-reset", rate.reset)
        .body(body.to_string())
}

/// X's quota reply for `Faults::quota` (None: not an X quota kind): the app's monthly read
/// cap, the real body, no reset header.
pub(crate) fn quota_reply(kind: &str) -> Option<Response> {
    (kind == "UsageCapExceeded").then(|| {
        Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .content_type("application/problem+json")
            .body(
                json!({ "title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
                        "type": "https://api.twitter.com/2/problems/usage-capped",
                        "period": "Monthly", "scope": "Product" })
                .to_string(),
            )
    })
}

/// A 5xx or throttling fault X's way: the v2 problem body, and for a 429 the
/// `x-rate-limit-remaining: 0` and `x-rate-limit-reset` headers.
pub(crate) fn fault_reply(fault: DataFault) -> Response {
    match fault {
        DataFault::Throttled { reset_secs } => {
            let mut r = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "Too Many Requests",
                "about:blank",
            );
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                + reset_secs;
            let h = r.headers_mut();
            h.insert("x-rate-limit-remaining", 0.into());
            h.insert("x-rate-limit-reset", reset.into());
            r
        }
        DataFault::Unavailable | DataFault::Malformed => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "Service Unavailable",
            "about:blank",
        ),
    }
}

/// The preamble, then the endpoint's 15-minute rate window per account (the `x-rate-limit-*`
/// of every reply). Err is the reply to send; Ok: (account, window, malformed).
async fn admit(
    state: &SandboxState,
    req: &Request,
    endpoint: &'static str,
) -> Result<(String, RateWindow, bool), Response> {
    let admitted =
        preamble::admit(state, Provider::Twitter, req, endpoint == "users/tweets").await?;
    let malformed = admitted.settle(state)?;
    let limit = state.rate_limit().unwrap_or(LIMIT_PER_WINDOW);
    let rate = state.twitter.spend(&admitted.account, endpoint, limit);
    if rate.exceeded {
        let mut r = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Too Many Requests",
            "about:blank",
        );
        let h = r.headers_mut();
        h.insert("x-rate-limit-limit", rate.limit.into());
        h.insert("x-rate-limit-remaining", 0.into());
        h.insert("x-rate-limit-reset", rate.reset.into());
        return Err(r);
    }
    Ok((admitted.account, rate, malformed))
}

#[derive(Deserialize)]
struct MeQuery {
    #[serde(rename = "user.fields")]
    user_fields: Option<String>,
}

/// `GET /2/users/me`: `id`, `name`, `username`, and of the optional `user.fields`
/// `public_metrics` (with the account's `tweet_count`) and `most_recent_tweet_id` (absent for an
/// account without posts), as X answers them.
#[handler]
async fn me(state: Data<&Arc<SandboxState>>, req: &Request, Query(q): Query<MeQuery>) -> Response {
    let (account, rate, _) = match admit(&state, req, "users/me").await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut user = json!({
        "id": account,
        "name": format!("Sandbox {account}"),
        "username": format!("sbx_{account}"),
    });
    let fields = q.user_fields.unwrap_or_default();
    let wants = |f: &str| fields.split(',').any(|x| x.trim() == f);
    let (count, newest) = state.twitter.with_account(&account, |tweets| {
        (tweets.len(), tweets.iter().map(|t| t.id).max())
    });
    if wants("public_metrics") {
        user["public_metrics"] = json!({
            "followers_count": 120, "following_count": 80, "tweet_count": count,
            "listed_count": 1, "like_count": 300, "media_count": 0,
        });
    }
    if let (true, Some(id)) = (wants("most_recent_tweet_id"), newest) {
        user["most_recent_tweet_id"] = json!(id.to_string());
    }
    json_reply(json!({ "data": user }), rate)
}

#[derive(Deserialize)]
struct TimelineQuery {
    max_results: Option<String>,
    pagination_token: Option<String>,
    since_id: Option<String>,
    expansions: Option<String>,
}

#[handler]
async fn timeline(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    Path(user_id): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> Response {
    let (account, rate, malformed) = match admit(&state, req, "users/tweets").await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if account != user_id {
        return problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "You are not authorized to see this user's posts",
            "https://api.twitter.com/2/problems/not-authorized-for-resource",
        );
    }
    let max = match q.max_results.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (5..=100).contains(&n) => n,
        Some(_) => {
            let v = q.max_results.unwrap_or_default();
            return Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .content_type("application/json")
                .body(json!({
                    "errors": [{ "parameters": { "max_results": [v] },
                                 "message": format!("The `max_results` query parameter value [{v}] is not between 5 and 100") }],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request" }).to_string());
        }
    };
    let since: u64 = q
        .since_id
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let offset: usize = match q.pagination_token.as_deref() {
        None => 0,
        Some(t) => match t
            .strip_prefix("pt")
            .and_then(|h| usize::from_str_radix(h, 36).ok())
        {
            Some(o) => o,
            None => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Invalid Request",
                    "One or more parameters to your request was invalid.",
                    "https://api.twitter.com/2/problems/invalid-request",
                )
            }
        },
    };
    // Tweets are kept in ascending id order: newest first is a reverse walk, no copy of the rest.
    let (page, matching): (Vec<Tweet>, usize) = state.twitter.with_account(&account, |t| {
        let matching = t.len() - t.partition_point(|t| t.id <= since);
        let page = t
            .iter()
            .rev()
            .take(matching)
            .skip(offset)
            .take(max)
            .cloned()
            .collect();
        (page, matching)
    });
    let page: Vec<&Tweet> = page.iter().collect();
    if page.is_empty() {
        return json_reply(json!({ "meta": { "result_count": 0 } }), rate);
    }
    let with_places = q
        .expansions
        .as_deref()
        .is_some_and(|e| e.contains("geo.place_id"));
    let data: Vec<Value> = page.iter().map(|t| tweet_json(t)).collect();
    let mut body = json!({
        "data": data,
        "meta": {
            "result_count": page.len(),
            "newest_id": page.first().unwrap().id.to_string(),
            "oldest_id": page.last().unwrap().id.to_string(),
        }
    });
    if offset + max < matching {
        body["meta"]["next_token"] = json!(format!("pt{}", radix36(offset + max)));
    }
    if with_places {
        let mut places: Vec<usize> = page.iter().filter_map(|t| t.place).collect();
        places.sort();
        places.dedup();
        if !places.is_empty() {
            body["includes"] = json!({ "places": places.iter().map(|&p| json!({
                "id": PLACES[p].0, "full_name": PLACES[p].1, "name": PLACES[p].2,
                "country_code": "XX", "place_type": "city",
                "geo": { "type": "Feature", "bbox": [PLACES[p].3 - 0.1, PLACES[p].4 - 0.1, PLACES[p].3 + 0.1, PLACES[p].4 + 0.1], "properties": {} }
            })).collect::<Vec<_>>() });
        }
    }
    let mut reply = json_reply(body.clone(), rate);
    if malformed {
        reply.set_body(truncated(&body.to_string()));
    }
    reply
}

fn tweet_json(t: &Tweet) -> Value {
    let id = t.id.to_string();
    let mut v = json!({
        "id": id,
        "text": t.text,
        "edit_history_tweet_ids": [id],
        "created_at": t.created_at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        "public_metrics": { "retweet_count": 0, "reply_count": 0, "like_count": t.likes,
                            "quote_count": 0, "bookmark_count": 0, "impression_count": t.likes * 37 },
    });
    let mut entities = serde_json::Map::new();
    if !t.hashtags.is_empty() {
        entities.insert(
            "hashtags".into(),
            json!(t
                .hashtags
                .iter()
                .map(|h| json!({ "tag": h }))
                .collect::<Vec<_>>()),
        );
    }
    if !t.mentions.is_empty() {
        entities.insert(
            "mentions".into(),
            json!(t
                .mentions
                .iter()
                .map(|m| json!({ "username": m }))
                .collect::<Vec<_>>()),
        );
    }
    if !entities.is_empty() {
        v["entities"] = Value::Object(entities);
    }
    if let Some(p) = t.place {
        v["geo"] = json!({ "place_id": PLACES[p].0 });
    }
    v
}

fn radix36(mut n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut s = Vec::new();
    while n > 0 {
        s.push(DIGITS[n % 36]);
        n /= 36;
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

pub fn routes() -> Route {
    Route::new()
        .at("/i/oauth2/authorize", poem::get(oauth::authorize))
        .at("/2/oauth2/token", poem::post(oauth::token))
        .at("/2/oauth2/revoke", poem::post(oauth::revoke))
        .at("/2/users/me", poem::get(me))
        .at("/2/users/:id/tweets", poem::get(timeline))
}
