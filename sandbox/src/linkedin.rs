//! LinkedIn stand-in: OAuth at `/oauth/v2/authorization`, `/oauth/v2/accessToken` (no PKCE,
//! 60-day tokens, comma-separated `scope`, no refresh token) and `/oauth/v2/revoke`; the OIDC
//! `/v2/userinfo` (no version headers needed).
//!
//! Posts: `GET /rest/posts?author=urn:li:person:{sub}&q=author&count=&start=&sortBy=` with the
//! real rules: `LinkedIn-Version: YYYYMM` required (missing, unknown or older than
//! [`VERSION_WINDOW_MONTHS`] → 426 `NONEXISTENT_VERSION`), `X-Restli-Protocol-Version: 2.0.0`
//! required (400), `count` ≤ 100 (400), another author → 403; a member whose id starts with
//! `restricted` has no `r_member_social` → 403 `ACCESS_DENIED`. Replies: `elements` with
//! `urn:li:share:`/`urn:li:ugcPost:` ids, "little text" `commentary`, epoch-ms
//! `createdAt`/`publishedAt`/`lastModifiedAt`, `content` variants; offset paging with a
//! relative `next` href. Faults: 503, throttling as 429 without headers (LinkedIn sends none).
//! Over the member's daily budget ([`DEFAULT_DAILY_CALLS`], or the `rate_limit` fault) the
//! 429 names a `DAY` limit, which resets at 00:00 UTC.
//!
//! The data set per (seed, account): [`DEFAULT_POSTS`] posts with hashtags, mentions, PII and
//! several scripts; [`LinkedinData`] adds, edits (moving `lastModifiedAt`) and deletes posts.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{Datelike, TimeZone, Utc};
use poem::{handler, http::StatusCode, web::Data, Request, Response, Route};
use serde_json::{json, Value};

use crate::{
    faults::{truncated, DataFault},
    fnv, oauth,
    preamble::{admit, query},
    Provider, SandboxState,
};

/// The demo member id (`sub`).
pub const ACCOUNT: &str = "782bbtaQ";

/// What the sandbox's shared parts need of LinkedIn: its name, endpoints, OAuth flavor, 401,
/// fault replies and routes (listed in [`crate::provider::SPECS`]).
pub const SPEC: crate::provider::ProviderSpec = crate::provider::ProviderSpec {
    provider: Provider::Linkedin,
    name: "linkedin",
    auth_path: "/oauth/v2/authorization",
    token_path: "/oauth/v2/accessToken",
    scopes: Some(&["openid", "profile", "email", POSTS_SCOPE]),
    flavor: oauth::Flavor {
        pkce: oauth::PkceRule::Ignored,
        client_auth: oauth::AuthRule::BasicOrPost,
        code_lifetime: std::time::Duration::from_secs(1800),
        access_ttl_secs: 5_183_999,
        refresh: oauth::RefreshRule::None,
        errors: oauth::ErrorStyle::LinkedIn,
        default_account: ACCOUNT,
        error_reason: false,
        redirect_fragment: "",
        exchange_grant: false,
        reply: oauth::TokenReply::CommaScope,
        revoke_auth: oauth::RevokeAuth::BasicOrPost,
        revoke_grant: false,
        revoke_body: None,
    },
    token_in_query: false,
    token_on_arrival: false,
    unauthorized,
    fault_reply: |_, _, fault| fault_reply(fault),
    quota_reply: |_| None,
    routes,
    control_routes: Some(control_routes),
};

/// LinkedIn's restricted scope for a member's posts, which LinkedIn grants only to approved
/// apps (the sandbox's app is approved, and its client configuration asks for it).
pub const POSTS_SCOPE: &str = "r_member_social";

/// LinkedIn's reply to a missing, expired or revoked access token.
fn unauthorized() -> Response {
    crate::preamble::json_401(
        &json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}),
    )
}

crate::feed_control::editable_feed!(LinkedinData);

#[handler]
fn userinfo(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(Provider::Linkedin, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    Response::builder().content_type("application/json").body(
        json!({"sub": account, "email_verified": true, "name": "John Doe",
               "locale": {"country": "US", "language": "en"}, "given_name": "John",
               "family_name": "Doe", "email": "doe@email.com"})
        .to_string(),
    )
}

pub fn routes() -> Route {
    Route::new()
        .at("/oauth/v2/authorization", poem::get(oauth::authorize))
        .at("/oauth/v2/accessToken", poem::post(oauth::token))
        .at("/oauth/v2/revoke", poem::post(oauth::revoke))
        .at("/v2/userinfo", poem::get(userinfo))
        .at("/rest/posts", poem::get(posts_list))
}

/// Posts per account in a fresh data set.
pub const DEFAULT_POSTS: usize = 120;
/// Calls per member and UTC day before 429 (the `rate_limit` fault overrides it).
pub const DEFAULT_DAILY_CALLS: u32 = 10_000;
/// How many months a `LinkedIn-Version` stays active.
pub const VERSION_WINDOW_MONTHS: i64 = 12;

#[derive(Debug, Clone)]
struct Post {
    n: u64,
    ugc: bool,
    commentary: String,
    created_ms: i64,
    modified_ms: i64,
    edited: bool,
    content: usize,
}

const COMMENTARIES: [&str; 6] = [
    r"Excited to share our trip report from Kraków with @[Ana Silva](urn:li:person:ana123) {hashtag|\#|travel}",
    r"Wir suchen Verstärkung! Bewerbungen an jobs{nn}@example.de oder +49 30 1234 56{nn} {hashtag|\#|hiring}",
    r"深圳的创新生态令人印象深刻 🚀 {hashtag|\#|innovation}",
    r"Five lessons from shipping a Rust service \(with durable queues\) {hashtag|\#|rustlang} {hashtag|\#|backend}",
    r"Thanks @[Bruno Costa](urn:li:person:bru456) for the great talk in São Paulo! 🎤 {hashtag|\#|conference}",
    r"Ten years at the company today. Grateful for every colleague 🙏",
];

/// LinkedIn's data set: per account, deterministic from the seed, plus changes made at run
/// time through the methods below or the control routes.
pub struct LinkedinData {
    pub seed: u64,
    accounts: Mutex<HashMap<String, Vec<Post>>>,
    /// Calls per (account, UTC day): LinkedIn's daily limits reset at 00:00 UTC.
    usage: Mutex<HashMap<(String, i64), u32>>,
}

impl LinkedinData {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Mutex::new(HashMap::new()),
            usage: Mutex::new(HashMap::new()),
        }
    }

    fn generate(&self, account: &str, count: usize) -> Vec<Post> {
        let mix = fnv(account) ^ self.seed.rotate_left(13);
        let base = 7_170_000_000_000_000_000u64 + (mix % 1_000_000) * 1_000_000;
        let start = Utc
            .with_ymd_and_hms(2024, 6, 3, 9, 0, 0)
            .unwrap()
            .timestamp_millis()
            + (mix % 3_600_000) as i64;
        (0..count)
            .map(|i| {
                let k = (mix as usize % 1000).wrapping_add(i);
                let created = start + (i as i64) * 13 * 3_600_000 + (k % 7) as i64 * 60_000;
                post(base + (i as u64 + 1) * 104_729, k, i, created)
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

    /// Counts a call against the account's UTC day; true once over `limit`.
    fn over_daily_limit(&self, account: &str, now_ms: i64, limit: u32) -> bool {
        let day = now_ms.div_euclid(86_400_000);
        let mut usage = self.usage.lock().expect("usage");
        let used = usage.entry((account.to_string(), day)).or_insert(0);
        *used += 1;
        *used > limit
    }

    /// The URNs of an account's live posts.
    pub fn ids(&self, account: &str) -> Vec<String> {
        self.with_account(account, |all| all.iter().map(urn).collect())
    }

    /// Publishes `n` newer posts; returns their URNs.
    pub fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let last_n = all
                .iter()
                .map(|p| p.n)
                .max()
                .unwrap_or(7_170_000_000_000_000_000);
            let latest = all.iter().map(|p| p.modified_ms).max().unwrap_or(0);
            let now = Utc::now().timestamp_millis().max(latest + 1);
            let len = all.len();
            (1..=n)
                .map(|i| {
                    let p = post(
                        last_n + i as u64 * 104_729,
                        len + i,
                        len + i,
                        now + i as i64,
                    );
                    all.push(p.clone());
                    urn(&p)
                })
                .collect()
        })
    }

    /// Edits the commentary of `n` older posts (`lastModifiedAt` moves); returns their URNs.
    pub fn edit(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let len = all.len();
            let latest = all.iter().map(|p| p.modified_ms).max().unwrap_or(0);
            let now = Utc::now().timestamp_millis().max(latest + 1);
            (0..n.min(len))
                .map(|j| {
                    let p = &mut all[(4 + j * 17) % len];
                    p.commentary.push_str(" — update: slides are online 📎");
                    p.edited = true;
                    p.modified_ms = now + j as i64;
                    urn(p)
                })
                .collect()
        })
    }

    /// Deletes `n` posts from the middle of the list; returns their URNs.
    pub fn delete(&self, account: &str, n: usize) -> Vec<String> {
        self.with_account(account, |all| {
            let at = all.len() / 2;
            let n = n.min(all.len() - at);
            all.drain(at..at + n).map(|p| urn(&p)).collect()
        })
    }
}

fn post(n: u64, k: usize, i: usize, created_ms: i64) -> Post {
    let c = COMMENTARIES[k % COMMENTARIES.len()].replace("{nn}", &format!("{:02}", k % 100));
    Post {
        n,
        ugc: k % 5 == 2,
        commentary: format!("{c} · {}", i + 1),
        created_ms,
        modified_ms: created_ms + (k % 11) as i64 * 60_000,
        edited: false,
        content: k % 4,
    }
}

fn urn(p: &Post) -> String {
    format!("urn:li:{}:{}", if p.ugc { "ugcPost" } else { "share" }, p.n)
}

fn post_json(account: &str, p: &Post) -> Value {
    let mut v = json!({
        "id": urn(p),
        "author": format!("urn:li:person:{account}"),
        "commentary": p.commentary,
        "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": { "isEditedByAuthor": p.edited },
        "distribution": { "feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": [] },
        "isReshareDisabledByAuthor": false,
        "createdAt": p.created_ms,
        "publishedAt": p.created_ms,
        "lastModifiedAt": p.modified_ms,
    });
    match p.content {
        1 => {
            v["content"] = json!({ "media": { "id": format!("urn:li:image:C4D22AQF{:x}", p.n), "altText": "Harbor at dusk" } })
        }
        2 => {
            v["content"] = json!({ "article": { "source": "https://example.com/blog/durable-queues",
                "title": "Durable job queues in Rust", "thumbnail": format!("urn:li:image:C5612AQ{:x}", p.n) } })
        }
        3 => {
            v["content"] = json!({ "multiImage": { "images": [
                { "id": format!("urn:li:image:D4E10AQ{:x}", p.n), "altText": "Team photo" },
                { "id": format!("urn:li:image:D4E10AQ{:x}", p.n + 1), "altText": "Stage" } ] } })
        }
        _ => {}
    }
    v
}

fn restli_error(status: u16, code: &str, service_code: i64, message: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .content_type("application/json")
        .header("x-restli-protocol-version", "2.0.0")
        .body(json!({ "status": status, "serviceErrorCode": service_code, "code": code, "message": message }).to_string())
}

/// A 5xx or throttling fault LinkedIn's way: throttling is a 429 without rate-limit headers
/// and without Retry-After (LinkedIn sends none).
pub(crate) fn fault_reply(fault: DataFault) -> Response {
    match fault {
        DataFault::Throttled { .. } => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .content_type("application/json")
            .body(json!({ "status": 429, "message": "Too Many Requests" }).to_string()),
        DataFault::Unavailable | DataFault::Malformed => {
            restli_error(503, "SERVICE_UNAVAILABLE", 0, "Service Unavailable")
        }
    }
}

/// Whether a `LinkedIn-Version` (`YYYYMM`) is active at `now`: released, and no older than
/// [`VERSION_WINDOW_MONTHS`].
fn version_active(v: &str, now: chrono::DateTime<Utc>) -> bool {
    let (Ok(y), Ok(m)) = (
        v.get(..4).unwrap_or("").parse::<i64>(),
        v.get(4..6).unwrap_or("").parse::<i64>(),
    ) else {
        return false;
    };
    if v.len() != 6 || !(1..=12).contains(&m) {
        return false;
    }
    let age = (now.year() as i64 * 12 + now.month() as i64) - (y * 12 + m);
    (0..VERSION_WINDOW_MONTHS).contains(&age)
}

/// `GET /rest/posts?q=author`.
#[handler]
async fn posts_list(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let admitted = match admit(&state, Provider::Linkedin, req, true).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let malformed = match admitted.settle(&state) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let account = admitted.account;
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let version = header("linkedin-version").unwrap_or_default();
    let now = chrono::DateTime::from_timestamp_millis(state.now_ms()).unwrap_or_else(Utc::now);
    if !version_active(&version, now) {
        return restli_error(
            426,
            "NONEXISTENT_VERSION",
            0,
            &format!("Requested version {version} is not active"),
        );
    }
    if header("x-restli-protocol-version").as_deref() != Some("2.0.0") {
        return restli_error(
            400,
            "ILLEGAL_ARGUMENT",
            0,
            "Invalid query parameters passed to request: Rest.li protocol 2.0.0 required",
        );
    }
    let q = query(req);
    if q.get("q").map(String::as_str) != Some("author") {
        return restli_error(
            400,
            "ILLEGAL_ARGUMENT",
            0,
            "Invalid finder: q must be author",
        );
    }
    if q.get("author").map(String::as_str) != Some(format!("urn:li:person:{account}").as_str()) {
        return restli_error(403, "ACCESS_DENIED", 100, "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.20240101 for this author");
    }
    if account.starts_with("restricted") {
        return restli_error(
            403,
            "ACCESS_DENIED",
            100,
            "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.20240101",
        );
    }
    let limit = state.rate_limit().unwrap_or(DEFAULT_DAILY_CALLS);
    if state
        .linkedin
        .over_daily_limit(&account, state.now_ms(), limit)
    {
        // No headers, no Retry-After: the member's day resets at 00:00 UTC.
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .content_type("application/json")
            .body(json!({ "serviceErrorCode": 101, "status": 429,
                "message": "Resource level throttle MEMBER DAY limit for calls to this resource is reached." }).to_string());
    }
    let num = |k: &str, default: usize| q.get(k).map_or(Some(default), |v| v.parse::<usize>().ok());
    let (Some(count), Some(start)) = (num("count", 10), num("start", 0)) else {
        return restli_error(
            400,
            "ILLEGAL_ARGUMENT",
            0,
            "Invalid query parameters passed to request",
        );
    };
    if count == 0 || count > 100 {
        return restli_error(
            400,
            "ILLEGAL_ARGUMENT",
            0,
            &format!("count {count} must be between 1 and 100"),
        );
    }
    let sort = q
        .get("sortBy")
        .cloned()
        .unwrap_or_else(|| "LAST_MODIFIED".into());
    let (elements, total) = state.linkedin.with_account(&account, |all| {
        let mut sorted: Vec<&Post> = all.iter().collect();
        if sort == "CREATED" {
            sorted.sort_by_key(|p| std::cmp::Reverse((p.created_ms, p.n)));
        } else {
            sorted.sort_by_key(|p| std::cmp::Reverse((p.modified_ms, p.n)));
        }
        let page: Vec<Value> = sorted
            .iter()
            .skip(start)
            .take(count)
            .map(|p| post_json(&account, p))
            .collect();
        (page, all.len())
    });
    let mut links = Vec::new();
    if start + count < total {
        let href = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("author", &format!("urn:li:person:{account}"))
            .append_pair("count", &count.to_string())
            .append_pair("q", "author")
            .append_pair("sortBy", &sort)
            .append_pair("start", &(start + count).to_string())
            .finish();
        links.push(json!({ "type": "application/json", "rel": "next", "href": format!("/rest/posts?{href}") }));
    }
    let body = json!({
        "paging": { "start": start, "count": count, "total": total, "links": links },
        "elements": elements,
    })
    .to_string();
    Response::builder()
        .content_type("application/json")
        .header("x-restli-protocol-version", "2.0.0")
        .body(if malformed { truncated(&body) } else { body })
}

/// Sandbox-only control routes under `/_sandbox/linkedin`: `POST /accounts/:id/posts`
/// `{"count"}` adds posts, `…/edits` edits commentaries, `…/deletions` deletes posts (each
/// answers `{"ids": [...]}`); `GET /accounts/:id/posts` lists the live URNs.
pub fn control_routes() -> Route {
    crate::feed_control::routes("posts", crate::feed_control::Feed(|s| &s.linkedin))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn versions_are_active_for_a_year() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        assert!(super::version_active("202611", now));
        assert!(super::version_active("202512", now));
        assert!(!super::version_active("202511", now));
        assert!(!super::version_active("202612", now));
        assert!(!super::version_active("", now));
    }
}
