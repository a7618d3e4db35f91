//! The provider sandbox: a loopback stand-in for the providers' APIs with their real wire
//! shapes, deterministic data from a seed, and switchable faults. One file per provider, each
//! with the same inner shape (data set, handlers, routes); sandbox-only control endpoints live
//! under `/_sandbox/` and never exist at a real provider.
//!
//! Providers: Instagram (`/instagram`), Twitter (`/twitter`), Google (`/google`), Facebook
//! (`/facebook`), LinkedIn (`/linkedin`), Microsoft (`/microsoft`). OAuth for all six is one
//! engine with a flavor per provider (`oauth.rs`); each provider file serves its profile and
//! data endpoints under the provider's documented paths. [`provider_config`] gives the
//! `{P}_AUTH_URL` / `{P}_TOKEN_URL` / `{P}_API_BASE_URL` that point a client at the sandbox.

// Helpers return the reply to send as their error: one per request, never hot.
#![allow(clippy::result_large_err)]

pub mod facebook;
pub mod feed_control;
pub mod google;
pub mod instagram;
pub mod linkedin;
pub mod microsoft;
pub mod oauth;
pub mod tls;
pub mod twitter;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{http::StatusCode, Endpoint, EndpointExt, Request, Response, Route};
use secrecy::SecretString;
use serde_json::json;

use crate::{config::ProviderConfig, providers::ProviderId};

/// Faults the sandbox injects, switchable at run time through `POST /_sandbox/faults`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Faults {
    /// Delay before every data reply (ms).
    #[serde(default)]
    pub slow_ms: u64,
    /// While set, every data reply waits (after `slow_ms`) until it is cleared: a worker held
    /// mid-request at the provider for as long as a test needs.
    #[serde(default)]
    pub hold_data: bool,
    /// Requests allowed per 15-minute window per account before 429 (None: the provider's).
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Every n-th data request fails with a 503 (0: never).
    #[serde(default)]
    pub fail_every: u32,
    /// This fraction of data requests fails with a 5xx (0.0–1.0; deterministic per seed).
    #[serde(default)]
    pub fail_ratio: f64,
    /// Every n-th data request is throttled the provider's way, with a reset 1 s ahead.
    #[serde(default)]
    pub throttle_every: u32,
    /// The next n data pages are malformed (a reply cut in the middle of its JSON).
    #[serde(default)]
    pub malformed_pages: u32,
    /// While set, incremental cursors are answered as expired (Gmail history 404, Graph 410).
    #[serde(default)]
    pub expire_cursors: bool,
    /// The next n successful code exchanges redeem the code, then answer 503: the ambiguous
    /// failure after which a client must not loop.
    #[serde(default)]
    pub token_fail_after_redeem: u32,
    /// Delay before every token endpoint reply (ms), after the grant was decided; the value
    /// at a request's arrival applies to it.
    #[serde(default)]
    pub token_slow_ms: u64,
    /// While set, every data request of the named provider gets its quota reply: Gmail
    /// `userRateLimitExceeded`, `rateLimitExceeded` or `dailyLimitExceeded` (403, `usageLimits`)
    /// or `rateLimitExceeded429` (429 `RESOURCE_EXHAUSTED`); X `UsageCapExceeded` (429, the
    /// app's monthly cap).
    #[serde(default)]
    pub quota: Option<String>,
    /// While set, every revocation endpoint (`/revoke`, Meta's `DELETE /me/permissions`)
    /// answers 503 in its provider's shape: a provider outage during an erase or disconnect.
    #[serde(default)]
    pub revoke_unavailable: bool,
}

/// A fault injected into one data request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFault {
    /// A 5xx.
    Unavailable,
    /// The provider's throttling reply, resetting this many seconds ahead.
    Throttled { reset_secs: u64 },
    /// A page whose JSON is cut off.
    Malformed,
}

/// `scheme://host[:port]` as the client reached this sandbox (the Host header under HTTP/1.1,
/// the `:authority` under HTTP/2): where absolute next links point.
pub(crate) fn origin(req: &Request) -> String {
    let host = req
        .original_uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(String::from)
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    format!("{}://{host}", req.scheme())
}

/// How long a signed CDN link lives at Meta's CDN in the sandbox: a link is re-signed every
/// day (sandbox clock) and expires [`CDN_LINK_DAYS`] days after its day began.
pub const CDN_LINK_DAYS: i64 = 3;

/// A Meta CDN link signed at `now_ms` (sandbox clock): `oh=` changes every day and `oe=` (the
/// expiry, unix seconds in hex, as at Meta) lies [`CDN_LINK_DAYS`] days after that day began.
pub fn signed_cdn(url_without_query: &str, query: &str, now_ms: i64) -> String {
    let day = now_ms.div_euclid(86_400_000);
    let expiry = (day + CDN_LINK_DAYS) * 86_400;
    let sig = url_without_query
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64 ^ day as u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    format!("{url_without_query}?{query}&oh=00_{sig:016x}&oe={expiry:X}")
}

/// Cuts a JSON body in the middle (the malformed-page fault).
pub fn truncated(body: &str) -> String {
    body.chars().take(body.chars().count() / 2).collect()
}

/// An access token the sandbox issued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub provider: ProviderId,
    pub account: String,
    pub access_token: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

/// A revocation the sandbox carried out (sandbox-only log: tests check what was revoked).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revocation {
    pub provider: String,
    pub account: String,
    /// `access_token`, `refresh_token`, or `grant` (every token of the account: Google's
    /// revoke, Meta's `DELETE /me/permissions`).
    pub token_type: String,
}

/// Shared state of one sandbox.
pub struct SandboxState {
    pub seed: u64,
    pub faults: Mutex<Faults>,
    /// access token → what it grants.
    tokens: Mutex<HashMap<String, TokenInfo>>,
    /// Every data request, as `provider path?query`, for tests that check what was fetched.
    pub requests: Mutex<Vec<String>>,
    /// Every revocation carried out, in order.
    pub revocations: Mutex<Vec<Revocation>>,
    /// Seconds added to the wall clock (`/_sandbox/clock`): expiry without waiting.
    clock_offset_ms: std::sync::atomic::AtomicI64,
    /// Every request that reached a provider's routes (OAuth, profile and data), per provider,
    /// in [`ProviderId::ALL`] order: what a provider would bill or count against its limits.
    hits: [std::sync::atomic::AtomicU64; 6],
    pub twitter: twitter::TwitterData,
    pub instagram: instagram::InstagramData,
    pub google: google::GoogleData,
    pub facebook: facebook::FacebookData,
    pub linkedin: linkedin::LinkedinData,
    pub microsoft: microsoft::MicrosoftData,
    pub oauth: oauth::OAuthServer,
}

impl SandboxState {
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Self {
            seed,
            faults: Mutex::new(Faults::default()),
            tokens: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            revocations: Mutex::new(Vec::new()),
            clock_offset_ms: Default::default(),
            hits: Default::default(),
            twitter: twitter::TwitterData::new(seed),
            instagram: instagram::InstagramData::new(seed),
            google: google::GoogleData::new(seed),
            facebook: facebook::FacebookData::new(seed),
            linkedin: linkedin::LinkedinData::new(seed),
            microsoft: microsoft::MicrosoftData::new(seed),
            oauth: oauth::OAuthServer::default(),
        })
    }

    /// The sandbox's time (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        wall + self
            .clock_offset_ms
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn advance_clock(&self, by: Duration) {
        self.clock_offset_ms
            .fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::SeqCst);
    }

    /// Requests that reached provider `p`'s routes since the sandbox started.
    pub fn hits(&self, p: ProviderId) -> u64 {
        self.hits[provider_index(p)].load(std::sync::atomic::Ordering::SeqCst)
    }

    fn hit(&self, p: ProviderId) {
        self.hits[provider_index(p)].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Issues a Twitter access token for an account (tests and the dev demo).
    pub fn issue_token(&self, account_id: &str) -> String {
        self.issue_token_for(ProviderId::Twitter, account_id, 7200)
    }

    /// Issues an access token valid `ttl_secs` on the sandbox clock.
    pub fn issue_token_for(&self, provider: ProviderId, account: &str, ttl_secs: i64) -> String {
        let token = format!("{}-at-{:032x}", provider.as_str(), rand::random::<u128>());
        let now = self.now_ms();
        self.tokens.lock().expect("tokens").insert(
            token.clone(),
            TokenInfo {
                provider,
                account: account.to_string(),
                access_token: token.clone(),
                issued_ms: now,
                expires_ms: now + ttl_secs * 1000,
            },
        );
        token
    }

    /// What a valid (issued by this provider, unexpired, unrevoked) token grants.
    pub fn token_info(&self, provider: ProviderId, token: &str) -> Option<TokenInfo> {
        let info = self.tokens.lock().expect("tokens").get(token).cloned()?;
        (info.provider == provider && info.expires_ms > self.now_ms()).then_some(info)
    }

    /// The Twitter account of a valid token.
    pub fn account_of(&self, token: &str) -> Option<String> {
        self.token_info(ProviderId::Twitter, token)
            .map(|i| i.account)
    }

    /// Every access token issued, for tests that compare what lifesync stored.
    pub fn issued_tokens(&self) -> Vec<TokenInfo> {
        self.tokens
            .lock()
            .expect("tokens")
            .values()
            .cloned()
            .collect()
    }

    /// Revokes one access or refresh token of `provider` and logs it; the account it belonged
    /// to, None when it was unknown (or already revoked).
    pub fn revoke_token(&self, provider: ProviderId, token: &str) -> Option<String> {
        let access = {
            let mut tokens = self.tokens.lock().expect("tokens");
            match tokens.get(token) {
                Some(i) if i.provider == provider => tokens.remove(token).map(|i| i.account),
                _ => None,
            }
        };
        let (account, token_type) = match access {
            Some(a) => (a, "access_token"),
            None => (self.oauth.revoke_refresh(provider, token)?, "refresh_token"),
        };
        self.log_revocation(provider, &account, token_type);
        Some(account)
    }

    /// Revokes the whole grant behind `token` (every access and refresh token of its account
    /// at `provider`), as Google's revoke and Meta's `DELETE /me/permissions` do; the account,
    /// None when the token was unknown.
    pub fn revoke_grant(&self, provider: ProviderId, token: &str) -> Option<String> {
        let account = self
            .token_info(provider, token)
            .map(|i| i.account)
            .or_else(|| self.oauth.refresh_account(provider, token))?;
        self.tokens
            .lock()
            .expect("tokens")
            .retain(|_, i| !(i.provider == provider && i.account == account));
        self.oauth.revoke_account(provider, &account);
        self.log_revocation(provider, &account, "grant");
        Some(account)
    }

    fn log_revocation(&self, provider: ProviderId, account: &str, token_type: &str) {
        self.revocations
            .lock()
            .expect("revocations")
            .push(Revocation {
                provider: provider.as_str().to_string(),
                account: account.to_string(),
                token_type: token_type.to_string(),
            });
    }

    /// Whether revocation endpoints are down (`Faults::revoke_unavailable`).
    pub fn revoke_unavailable(&self) -> bool {
        self.faults.lock().expect("faults").revoke_unavailable
    }

    /// The account behind a request's bearer token (or Meta's `access_token` query parameter),
    /// or the provider's own 401 reply.
    pub fn authenticate(&self, provider: ProviderId, req: &Request) -> Result<String, Response> {
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(String::from);
        let query_token = || {
            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
        };
        let token = match provider {
            ProviderId::Instagram | ProviderId::Facebook => bearer.or_else(query_token),
            _ => bearer,
        };
        token
            .and_then(|t| self.token_info(provider, &t))
            .map(|i| i.account)
            .ok_or_else(|| unauthorized(provider))
    }

    /// Consumes one `token_fail_after_redeem` fault, if any is left.
    pub(crate) fn take_token_fault(&self) -> bool {
        let mut f = self.faults.lock().expect("faults");
        if f.token_fail_after_redeem > 0 {
            f.token_fail_after_redeem -= 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn record(&self, what: String) -> usize {
        let mut r = self.requests.lock().expect("requests");
        r.push(what);
        r.len()
    }

    /// Records a data request, applies the slow-reply fault and says which fault (if any) this
    /// request gets. Every provider's data handlers call it first and render the fault in
    /// their provider's shape.
    /// `page` says whether this request returns a page of items (only those get malformed).
    pub async fn before_reply(&self, what: String, page: bool) -> Option<DataFault> {
        let n = self.record(what);
        let f = self.faults.lock().expect("faults").clone();
        if f.slow_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.slow_ms)).await;
        }
        while self.faults.lock().expect("faults").hold_data {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if f.fail_every > 0 && n.is_multiple_of(f.fail_every as usize) {
            return Some(DataFault::Unavailable);
        }
        if f.fail_ratio > 0.0 {
            // A deterministic coin per (seed, request number).
            let h = (self.seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_mul(0xBF58_476D_1CE4_E5B9);
            if ((h >> 11) as f64 / (1u64 << 53) as f64) < f.fail_ratio {
                return Some(DataFault::Unavailable);
            }
        }
        if f.throttle_every > 0 && n.is_multiple_of(f.throttle_every as usize) {
            return Some(DataFault::Throttled { reset_secs: 1 });
        }
        if page && f.malformed_pages > 0 {
            self.faults.lock().expect("faults").malformed_pages -= 1;
            return Some(DataFault::Malformed);
        }
        None
    }

    /// The quota fault in force (`Faults::quota`), if any.
    pub fn quota_fault(&self) -> Option<String> {
        self.faults.lock().expect("faults").quota.clone()
    }

    /// Whether incremental cursors are to be answered as expired.
    pub fn cursors_expired(&self) -> bool {
        self.faults.lock().expect("faults").expire_cursors
    }
}

/// A provider's reply to a missing, expired or revoked access token.
pub fn unauthorized(provider: ProviderId) -> Response {
    let (status, body) = match provider {
        ProviderId::Instagram | ProviderId::Facebook => {
            return graph_token_error();
        }
        ProviderId::Twitter => (
            401,
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        ),
        ProviderId::Google => (
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "status": "UNAUTHENTICATED"}}),
        ),
        ProviderId::Linkedin => (
            401,
            json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}),
        ),
        ProviderId::Microsoft => (
            401,
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid.", "innerError": {"date": "2026-11-24T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000"}}}),
        ),
    };
    Response::builder()
        .status(StatusCode::from_u16(status).expect("static status"))
        .content_type("application/json")
        .body(body.to_string())
}

/// Meta's invalid-token reply (Graph error 190, HTTP 400).
pub fn graph_token_error() -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .header(
            "www-authenticate",
            r#"OAuth "Facebook Platform" "invalid_token" "Error validating access token""#,
        )
        .body(
            json!({"error": {"message": "Error validating access token: Session has expired.",
                "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbCdEfGhIjK"}})
            .to_string(),
        )
}

/// The client configuration that points provider `p` at a sandbox served at `base`.
pub fn provider_config(p: ProviderId, base: &url::Url, redirect_uri: url::Url) -> ProviderConfig {
    let (auth, token) = match p {
        ProviderId::Instagram => (
            "/instagram/oauth/authorize",
            "/instagram/oauth/access_token",
        ),
        ProviderId::Twitter => ("/twitter/i/oauth2/authorize", "/twitter/2/oauth2/token"),
        ProviderId::Google => ("/google/o/oauth2/v2/auth", "/google/token"),
        ProviderId::Facebook => (
            "/facebook/v18.0/dialog/oauth",
            "/facebook/v18.0/oauth/access_token",
        ),
        ProviderId::Linkedin => (
            "/linkedin/oauth/v2/authorization",
            "/linkedin/oauth/v2/accessToken",
        ),
        ProviderId::Microsoft => (
            "/microsoft/common/oauth2/v2.0/authorize",
            "/microsoft/common/oauth2/v2.0/token",
        ),
    };
    let at = |path: &str| crate::providers::app::join(base, path);
    ProviderConfig {
        client_id: format!("lifesync-{}", p.as_str()),
        client_secret: SecretString::from(format!("sandbox-secret-{}", p.as_str())),
        redirect_uri,
        auth_url: Some(at(auth)),
        token_url: Some(at(token)),
        api_base_url: Some(at(&format!("/{}", p.as_str()))),
        token_auth: None,
        app_rate_limit: None,
        account_rate_limit: None,
        // The sandbox's LinkedIn app is approved for the member posts scope.
        scopes: (p == ProviderId::Linkedin).then(|| {
            [
                "openid",
                "profile",
                "email",
                crate::providers::linkedin::POSTS_SCOPE,
            ]
            .map(String::from)
            .to_vec()
        }),
        api_version: None,
        excluded_folders: None,
    }
}

fn provider_index(p: ProviderId) -> usize {
    ProviderId::ALL
        .iter()
        .position(|q| *q == p)
        .expect("a known provider")
}

/// A provider's routes, each request counted in [`SandboxState::hits`].
fn counted(p: ProviderId, routes: Route, state: &Arc<SandboxState>) -> impl poem::Endpoint {
    let state = state.clone();
    routes.data(p).around(move |ep, req| {
        let state = state.clone();
        async move {
            state.hit(p);
            ep.call(req).await
        }
    })
}

/// The sandbox's routes.
pub fn app(state: Arc<SandboxState>) -> impl poem::Endpoint {
    Route::new()
        .nest(
            "/instagram",
            counted(ProviderId::Instagram, instagram::routes(), &state),
        )
        .nest(
            "/twitter",
            counted(ProviderId::Twitter, twitter::routes(), &state),
        )
        .nest(
            "/google",
            counted(ProviderId::Google, google::routes(), &state),
        )
        .nest(
            "/facebook",
            counted(ProviderId::Facebook, facebook::routes(), &state),
        )
        .nest(
            "/linkedin",
            counted(ProviderId::Linkedin, linkedin::routes(), &state),
        )
        .nest(
            "/microsoft",
            counted(ProviderId::Microsoft, microsoft::routes(), &state),
        )
        .nest("/_sandbox/instagram", instagram::control_routes())
        .nest("/_sandbox/google", google::control_routes())
        .nest("/_sandbox/facebook", facebook::control_routes())
        .nest("/_sandbox/linkedin", linkedin::control_routes())
        .nest("/_sandbox/microsoft", microsoft::control_routes())
        .nest("/_sandbox", control::routes())
        .data(state)
}

/// Serves the sandbox on `addr` until `shutdown`; `on_bound` learns the address.
pub async fn serve(
    addr: &str,
    state: Arc<SandboxState>,
    on_bound: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(addr, state, None, on_bound, shutdown).await
}

/// [`serve`], over HTTPS with `tls`'s certificate when given.
pub async fn serve_with(
    addr: &str,
    state: Arc<SandboxState>,
    tls: Option<&tls::ServerCert>,
    on_bound: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let tls = tls.map(|t| crate::http::ServerTls {
        cert_pem: &t.cert_pem,
        key_pem: &t.key_pem,
    });
    crate::http::serve_with(
        addr,
        tls,
        app(state),
        on_bound,
        shutdown,
        Duration::from_secs(5),
    )
    .await
}

mod control {
    //! Sandbox-only control: issue tokens, add data, set faults, read the request and
    //! revocation logs.
    use std::sync::Arc;

    use poem::{
        handler, post,
        web::{Data, Json, Path},
        Route,
    };
    use serde::Deserialize;
    use serde_json::{json, Value};

    use super::{Faults, SandboxState};
    use crate::providers::ProviderId;

    #[derive(Deserialize)]
    struct TokenRequest {
        account_id: String,
        #[serde(default)]
        provider: Option<String>,
        #[serde(default)]
        ttl_secs: Option<i64>,
    }

    #[handler]
    fn issue(state: Data<&Arc<SandboxState>>, body: Json<TokenRequest>) -> Json<Value> {
        let p = body
            .provider
            .as_deref()
            .and_then(ProviderId::parse)
            .unwrap_or(ProviderId::Twitter);
        let token = state.issue_token_for(p, &body.account_id, body.ttl_secs.unwrap_or(7200));
        Json(json!({ "access_token": token, "token_type": "bearer" }))
    }

    /// Every access token issued so far (sandbox-only: tests compare them with what was stored).
    #[handler]
    fn issued(state: Data<&Arc<SandboxState>>) -> Json<Vec<super::TokenInfo>> {
        Json(state.issued_tokens())
    }

    #[derive(Deserialize)]
    struct Advance {
        advance_secs: u64,
    }

    /// Refresh tokens still valid (sandbox-only).
    #[handler]
    fn refresh_tokens(state: Data<&Arc<SandboxState>>) -> Json<Vec<String>> {
        Json(state.oauth.refresh_tokens())
    }

    /// Moves the sandbox clock forward (codes and tokens expire).
    #[handler]
    fn clock(state: Data<&Arc<SandboxState>>, body: Json<Advance>) -> Json<Value> {
        state.advance_clock(std::time::Duration::from_secs(body.advance_secs));
        Json(json!({ "now_ms": state.now_ms() }))
    }

    #[derive(Deserialize)]
    struct AddTweets {
        count: usize,
    }

    #[handler]
    fn add_tweets(
        state: Data<&Arc<SandboxState>>,
        Path(account): Path<String>,
        body: Json<AddTweets>,
    ) -> Json<Value> {
        let ids = state.twitter.add_tweets(&account, body.count);
        Json(json!({ "ids": ids }))
    }

    #[handler]
    fn delete_tweets(
        state: Data<&Arc<SandboxState>>,
        Path(account): Path<String>,
        body: Json<AddTweets>,
    ) -> Json<Value> {
        Json(json!({ "ids": state.twitter.delete_tweets(&account, body.count) }))
    }

    #[handler]
    fn like_tweets(
        state: Data<&Arc<SandboxState>>,
        Path(account): Path<String>,
        body: Json<AddTweets>,
    ) -> Json<Value> {
        Json(json!({ "ids": state.twitter.like_tweets(&account, body.count) }))
    }

    #[handler]
    fn set_faults(state: Data<&Arc<SandboxState>>, body: Json<Faults>) -> Json<Faults> {
        *state.faults.lock().expect("faults") = body.0.clone();
        body
    }

    #[handler]
    fn requests(state: Data<&Arc<SandboxState>>) -> Json<Vec<String>> {
        Json(state.requests.lock().expect("requests").clone())
    }

    /// Every revocation carried out (sandbox-only: tests check who was revoked).
    #[handler]
    fn revocations(state: Data<&Arc<SandboxState>>) -> Json<Vec<super::Revocation>> {
        Json(state.revocations.lock().expect("revocations").clone())
    }

    pub fn routes() -> Route {
        Route::new()
            .at("/tokens", post(issue).get(issued))
            .at("/clock", post(clock))
            .at("/refresh-tokens", poem::get(refresh_tokens))
            .at("/twitter/accounts/:id/tweets", post(add_tweets))
            .at("/twitter/accounts/:id/deletions", post(delete_tweets))
            .at("/twitter/accounts/:id/likes", post(like_tweets))
            .at("/faults", post(set_faults))
            .at("/requests", poem::get(requests))
            .at("/revocations", poem::get(revocations))
    }
}
