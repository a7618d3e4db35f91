//! Google (Gmail) stand-in: OAuth at `/o/oauth2/v2/auth`, `/token` (PKCE when a challenge was
//! sent, refresh tokens without rotation, `invalid_grant` bodies) and `/revoke`; Gmail's data
//! API under `/gmail/v1/users/me/`: `profile` (the mailbox's current `historyId`), `messages`
//! (newest first, `maxResults` default 100 clamped to 500, numeric `pageToken`, no `messages`
//! key when empty), `messages/{id}` (`format=minimal|metadata|full`, repeated
//! `metadataHeaders`, base64url bodies, `internalDate` epoch-millis string), `history`
//! (`startHistoryId`, repeated `historyTypes`, no `history` key when unchanged, 404 for an id
//! older than the history horizon or while cursors are expired) and the batch endpoint
//! `POST /batch/gmail/v1` (multipart/mixed, ≤ 100 parts, per-part status). Throttling is
//! Gmail's: `Faults::quota` answers the real 403 `usageLimits` bodies (`userRateLimitExceeded`,
//! `rateLimitExceeded`, `dailyLimitExceeded`) or 429 `RESOURCE_EXHAUSTED`; `throttle_every`
//! alternately 429 `rateLimitExceeded` (with `Retry-After`) and 403
//! `userRateLimitExceeded` (without), and per-user quota units (15,000 a minute, `getProfile` 1,
//! `messages.list`/`messages.get` 5 each, also inside a batch, `history.list` 2) answered
//! with 429 `rateLimitExceeded`; 5xx carry Google's `backendError` body.
//!
//! The mailboxes (corpus, changes, versions) and their control API are [`crate::mail`]'s,
//! shared with the Outlook stand-in; Gmail history ids derive from the mailbox version.

mod batch;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use base64::Engine;
use chrono::{DateTime, Utc};
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Path},
    Request, Response, Route,
};
use serde_json::{json, Value};

pub use crate::mail::{Email, DEFAULT_EMAILS};
use crate::{
    faults::DataFault,
    mail::{corpus::html_escape, MailData, MailKind},
    oauth,
    preamble::{self, all, first, json_reply, pairs},
    Provider, SandboxState,
};

/// The demo mailbox.
pub const ACCOUNT: &str = "jane.doe@gmail.com";

/// What the sandbox's shared parts need of Gmail: its name, endpoints, OAuth flavor, 401,
/// fault replies and routes (listed in [`crate::provider::SPECS`]).
pub const SPEC: crate::provider::ProviderSpec = crate::provider::ProviderSpec {
    provider: Provider::Google,
    name: "google",
    auth_path: "/o/oauth2/v2/auth",
    token_path: "/token",
    scopes: None,
    flavor: oauth::Flavor {
        pkce: oauth::PkceRule::Optional,
        client_auth: oauth::AuthRule::BasicOrPost,
        code_lifetime: std::time::Duration::from_secs(600),
        access_ttl_secs: 3599,
        refresh: oauth::RefreshRule::Fixed,
        errors: oauth::ErrorStyle::Rfc,
        default_account: ACCOUNT,
        error_reason: false,
        redirect_fragment: "",
        exchange_grant: false,
        reply: oauth::TokenReply::Rfc {
            token_type: "Bearer",
        },
        revoke_auth: oauth::RevokeAuth::Anyone,
        revoke_grant: true,
        revoke_body: Some("{}"),
    },
    token_in_query: false,
    token_on_arrival: false,
    unauthorized,
    fault_reply: |state, _, fault| fault_reply(state, fault),
    quota_reply,
    routes,
    control_routes: Some(control_routes),
};

/// Google's reply to a missing, expired or revoked access token.
fn unauthorized() -> Response {
    preamble::json_401(
        &json!({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "status": "UNAUTHENTICATED"}}),
    )
}
/// Gmail's batch limit.
const MAX_BATCH: usize = 100;
/// Gmail's per-user quota (units per minute); quota units per method: `getProfile` 1,
/// `messages.list` 5, `messages.get` 5, `history.list` 2.
const USER_UNITS_PER_MINUTE: u32 = 15_000;

// ------------------------------------------------------------------------------------------
// Gmail's data set

/// Gmail's message id: 16 hex digits, increasing with arrival.
fn gmail_id(mix: u64, n: u64) -> String {
    format!(
        "{:016x}",
        0x18e0_0000_0000_0000u64 + (mix % 0xff_ffff) * 0x1000 + n * 0x3_1d4f_7a2b
    )
}

/// Gmail's mailboxes: the [`crate::mail::Mailbox`]es of every account and Gmail's quota.
pub type GoogleData = MailData<Gmail>;

/// Gmail's side of its mailboxes: message ids, and the quota requests spend.
#[derive(Default)]
pub struct Gmail {
    /// Throttling faults answered so far (they alternate between 429 and 403).
    throttles: AtomicU64,
    /// Quota spent per (account, window).
    usage: Mutex<HashMap<(String, u64), u32>>,
    /// Quota units charged since start, all accounts (Gmail's per-method costs; a batch is
    /// the sum of its inner calls).
    units: AtomicU64,
}

impl MailKind for Gmail {
    const SEED_SALT: u64 = 0;

    fn message_id(mix: u64, n: u64) -> String {
        gmail_id(mix, n)
    }
}

impl MailData<Gmail> {
    /// Quota units charged since the sandbox started.
    pub fn units_spent(&self) -> u64 {
        self.provider.units.load(Ordering::SeqCst)
    }

    /// Spends quota; true when the account is over it. Gmail's own limit is in units per
    /// minute; `Faults::rate_limit` (as for every provider) counts requests per 15 minutes.
    fn spend(&self, account: &str, units: u32, rate_limit: Option<u32>, now_ms: i64) -> bool {
        let q = &self.provider;
        q.units.fetch_add(u64::from(units), Ordering::SeqCst);
        let secs = (now_ms / 1000).max(0) as u64;
        let (window, cost, limit) = match rate_limit {
            Some(l) => (secs / 900, 1, l),
            None => (secs / 60, units, USER_UNITS_PER_MINUTE),
        };
        let mut usage = q.usage.lock().expect("usage");
        let used = usage.entry((account.to_string(), window)).or_insert(0);
        *used += cost;
        *used > limit
    }
}

/// Gmail's history id of mailbox version `v`: increasing, not contiguous.
fn history_id(mix: u64, v: u64) -> u64 {
    9_800_000 + (mix % 90_000) + v * 13
}

// ------------------------------------------------------------------------------------------
// Replies

fn google_error(status: u16, message: &str, reason: &str, domain: &str, s: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .content_type("application/json; charset=UTF-8")
        .body(
            json!({"error": {"code": status, "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}], "status": s}})
            .to_string(),
        )
}

/// Gmail's quota replies, by `Faults::quota` (None: not a Gmail quota kind).
pub(crate) fn quota_reply(kind: &str) -> Option<Response> {
    Some(match kind {
        "userRateLimitExceeded" => google_error(
            403,
            "User Rate Limit Exceeded",
            kind,
            "usageLimits",
            "PERMISSION_DENIED",
        ),
        "rateLimitExceeded" => google_error(
            403,
            "Rate Limit Exceeded",
            kind,
            "usageLimits",
            "PERMISSION_DENIED",
        ),
        "dailyLimitExceeded" => google_error(
            403,
            "Daily Limit Exceeded",
            kind,
            "usageLimits",
            "PERMISSION_DENIED",
        ),
        "rateLimitExceeded429" => google_error(
            429,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:123456789'.",
            "rateLimitExceeded",
            "global",
            "RESOURCE_EXHAUSTED",
        ),
        _ => return None,
    })
}

fn not_found() -> Response {
    google_error(
        404,
        "Requested entity was not found.",
        "notFound",
        "global",
        "NOT_FOUND",
    )
}

fn bad_request(message: &str) -> Response {
    google_error(
        400,
        message,
        "invalidArgument",
        "global",
        "INVALID_ARGUMENT",
    )
}

/// A 5xx or throttling fault Gmail's way: 503 `backendError`; throttling alternately 429
/// `rateLimitExceeded` (with `Retry-After`) and 403 `userRateLimitExceeded` (without).
pub(crate) fn fault_reply(state: &SandboxState, fault: DataFault) -> Response {
    let DataFault::Throttled { reset_secs } = fault else {
        return google_error(
            503,
            "The service is currently unavailable.",
            "backendError",
            "global",
            "UNAVAILABLE",
        );
    };
    let throttles = &state.google.provider.throttles;
    if throttles.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
        let mut r = google_error(
            429,
            "Too many concurrent requests for user",
            "rateLimitExceeded",
            "global",
            "RESOURCE_EXHAUSTED",
        );
        r.headers_mut()
            .insert("retry-after", reset_secs.max(1).into());
        r
    } else {
        Response::builder()
            .status(StatusCode::FORBIDDEN)
            .content_type("application/json; charset=UTF-8")
            .body(
                json!({"error": {"code": 403, "message": "User Rate Limit Exceeded",
                "errors": [{"message": "User Rate Limit Exceeded", "domain": "usageLimits",
                            "reason": "userRateLimitExceeded"}]}})
                .to_string(),
            )
    }
}

/// The preamble, then the account's quota (`units` for this call). Err is the reply to send;
/// Ok: (account, whether to cut the reply).
async fn admit(
    state: &SandboxState,
    req: &Request,
    page: bool,
    units: u32,
) -> Result<(String, bool), Response> {
    let admitted = preamble::admit(state, Provider::Google, req, page).await?;
    if state
        .google
        .spend(&admitted.account, units, state.rate_limit(), state.now_ms())
    {
        return Err(google_error(
            429,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:123456789'.",
            "rateLimitExceeded",
            "global",
            "RESOURCE_EXHAUSTED",
        ));
    }
    let malformed = admitted.settle(state)?;
    Ok((admitted.account, malformed))
}

/// `maxResults`: default 100, clamped to 1–500 as Gmail does (not an error).
fn max_results(q: &[(String, String)]) -> Result<usize, Response> {
    match first(q, "maxResults") {
        None => Ok(100),
        Some(s) => s
            .parse::<i64>()
            .map(|n| n.clamp(1, 500) as usize)
            .map_err(|_| bad_request(&format!("Invalid value '{s}'. Values must match the following regular expression: '[0-9]+'"))),
    }
}

fn page_token(q: &[(String, String)]) -> Result<usize, Response> {
    match first(q, "pageToken") {
        None => Ok(0),
        Some(t) => t
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_sub(9_000_000_000_000_000_000))
            .map(|n| n as usize)
            .ok_or_else(|| bad_request("Invalid pageToken")),
    }
}

fn make_token(offset: usize) -> String {
    (9_000_000_000_000_000_000u64 + offset as u64).to_string()
}

#[handler]
async fn profile(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, _) = match admit(&state, req, false, 1).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (total, hid) = state.google.with(&account, |mb| {
        (
            mb.mails.iter().filter(|m| m.live()).count(),
            history_id(mb.mix, mb.version),
        )
    });
    json_reply(
        &json!({"emailAddress": account, "messagesTotal": total, "threadsTotal": total,
                "historyId": hid.to_string()}),
        false,
    )
}

/// `GET /gmail/v1/users/me/messages`: newest first.
#[handler]
async fn list(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, malformed) = match admit(&state, req, true, 5).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = pairs(req.uri().query().unwrap_or(""));
    let (max, offset) = match (max_results(&q), page_token(&q)) {
        (Ok(m), Ok(o)) => (m, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut live: Vec<(DateTime<Utc>, String)> = state.google.with(&account, |mb| {
        mb.mails
            .iter()
            .filter(|m| m.live())
            .map(|m| (m.email.received, m.id.clone()))
            .collect()
    });
    live.sort_by(|a, b| b.cmp(a));
    let page: Vec<Value> = live
        .iter()
        .skip(offset)
        .take(max)
        .map(|(_, id)| json!({"id": id, "threadId": id}))
        .collect();
    let mut body = json!({"resultSizeEstimate": live.len().saturating_sub(offset)});
    if !page.is_empty() {
        body["messages"] = json!(page);
    }
    if offset + max < live.len() {
        body["nextPageToken"] = json!(make_token(offset + max));
    }
    json_reply(&body, malformed)
}

/// A message in the requested format, or (status, error body).
fn message_json(state: &SandboxState, account: &str, id: &str, query: &str) -> (u16, Value) {
    let q = pairs(query);
    let format = first(&q, "format").unwrap_or("full");
    if !["minimal", "metadata", "full"].contains(&format) {
        return (
            400,
            json!({"error": {"code": 400, "message": format!("Invalid value at 'format' ({format})"),
                "errors": [{"message": "Invalid value", "domain": "global", "reason": "invalidArgument"}],
                "status": "INVALID_ARGUMENT"}}),
        );
    }
    let wanted: Vec<String> = all(&q, "metadataHeaders")
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let found = state.google.with(account, |mb| {
        mb.mails
            .iter()
            .find(|m| m.id == id && m.live())
            .map(|m| (m.clone(), history_id(mb.mix, m.added_v)))
    });
    let Some((m, hid)) = found else {
        return (
            404,
            json!({"error": {"code": 404, "message": "Requested entity was not found.",
                "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}],
                "status": "NOT_FOUND"}}),
        );
    };
    let e = &m.email;
    let mut headers = vec![
        ("From", format!("{} <{}>", e.from_name, e.from_addr)),
        ("To", e.to.clone()),
        ("Subject", e.subject.clone()),
        ("Date", e.received.to_rfc2822()),
        ("Message-ID", format!("<{}@mail.sandbox>", m.id)),
    ];
    if e.category == "OTHER" {
        headers.push((
            "List-Unsubscribe",
            format!(
                "<mailto:unsubscribe@{}>",
                e.from_addr.split('@').nth(1).unwrap_or("x")
            ),
        ));
    }
    let snippet: String = html_escape(&e.text)
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let snippet: String = snippet.chars().take(200).collect();
    let mut v = json!({
        "id": m.id, "threadId": m.id, "labelIds": m.labels(),
        "snippet": snippet, "sizeEstimate": e.html.len() + e.text.len() + 900,
        "historyId": hid.to_string(),
        "internalDate": e.received.timestamp_millis().to_string(),
    });
    if format == "minimal" {
        return (200, v);
    }
    let header_json: Vec<Value> = headers
        .iter()
        .filter(|(n, _)| {
            format == "full" || wanted.is_empty() || wanted.contains(&n.to_ascii_lowercase())
        })
        .map(|(n, val)| json!({"name": n, "value": val}))
        .collect();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s.as_bytes());
    v["payload"] = if format == "metadata" {
        json!({"partId": "", "mimeType": "multipart/alternative", "filename": "",
               "headers": header_json, "body": {"size": 0}})
    } else {
        json!({"partId": "", "mimeType": "multipart/alternative", "filename": "",
               "headers": header_json, "body": {"size": 0},
               "parts": [
                 {"partId": "0", "mimeType": "text/plain", "filename": "",
                  "headers": [{"name": "Content-Type", "value": "text/plain; charset=\"UTF-8\""}],
                  "body": {"size": e.text.len(), "data": b64(&e.text)}},
                 {"partId": "1", "mimeType": "text/html", "filename": "",
                  "headers": [{"name": "Content-Type", "value": "text/html; charset=\"UTF-8\""}],
                  "body": {"size": e.html.len(), "data": b64(&e.html)}}]})
    };
    (200, v)
}

/// `GET /gmail/v1/users/me/messages/{id}`.
#[handler]
async fn get(state: Data<&Arc<SandboxState>>, req: &Request, Path(id): Path<String>) -> Response {
    let (account, malformed) = match admit(&state, req, false, 5).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (status, body) = message_json(&state, &account, &id, req.uri().query().unwrap_or(""));
    let mut r = json_reply(&body, malformed);
    r.set_status(StatusCode::from_u16(status).expect("status"));
    r
}

/// `GET /gmail/v1/users/me/history`.
#[handler]
async fn history(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, malformed) = match admit(&state, req, true, 2).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = pairs(req.uri().query().unwrap_or(""));
    let Some(start) = first(&q, "startHistoryId") else {
        return bad_request("Missing required parameter: startHistoryId");
    };
    let Ok(start) = start.parse::<u64>() else {
        return bad_request(&format!("Invalid value '{start}' for startHistoryId"));
    };
    let (max, offset) = match (max_results(&q), page_token(&q)) {
        (Ok(m), Ok(o)) => (m, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let types = all(&q, "historyTypes");
    let want = |t: &str| types.is_empty() || types.contains(&t);
    let reply = state.google.with(&account, |mb| {
        let horizon = history_id(mb.mix, 0);
        let current = history_id(mb.mix, mb.version);
        if start < horizon {
            return None;
        }
        // One record per change after `start`, in history order.
        let mut records: Vec<(u64, Value)> = Vec::new();
        for m in &mb.mails {
            let msg = json!({"id": m.id, "threadId": m.id});
            let added = history_id(mb.mix, m.added_v);
            if m.added_v > 0 && added > start && want("messageAdded") {
                let mut full = msg.clone();
                full["labelIds"] = json!(m.labels());
                records.push((
                    added,
                    json!({"id": added.to_string(), "messages": [msg],
                           "messagesAdded": [{"message": full}]}),
                ));
            }
            if let Some(r) = m.read_v.map(|r| history_id(mb.mix, r)) {
                if r > start && want("labelRemoved") {
                    let mut now = msg.clone();
                    now["labelIds"] = json!(m.labels());
                    records.push((
                        r,
                        json!({"id": r.to_string(), "messages": [msg],
                               "labelsRemoved": [{"message": now, "labelIds": ["UNREAD"]}]}),
                    ));
                }
            }
            if let Some(d) = m.deleted_v.map(|d| history_id(mb.mix, d)) {
                if d > start && want("messageDeleted") {
                    records.push((
                        d,
                        json!({"id": d.to_string(), "messages": [msg],
                               "messagesDeleted": [{"message": msg}]}),
                    ));
                }
            }
        }
        records.sort_by_key(|(h, _)| *h);
        Some((records, current))
    });
    let Some((records, current)) = reply else {
        return not_found();
    };
    if state.cursors_expired() {
        return not_found();
    }
    let page: Vec<Value> = records
        .iter()
        .skip(offset)
        .take(max)
        .map(|(_, r)| r.clone())
        .collect();
    let mut body = json!({"historyId": current.to_string()});
    if !page.is_empty() {
        body["history"] = json!(page);
    }
    if offset + max < records.len() {
        body["nextPageToken"] = json!(make_token(offset + max));
    }
    json_reply(&body, malformed)
}

pub fn routes() -> Route {
    Route::new()
        .at("/o/oauth2/v2/auth", poem::get(oauth::authorize))
        .at("/token", poem::post(oauth::token))
        .at("/revoke", poem::post(oauth::revoke))
        .at("/gmail/v1/users/me/profile", poem::get(profile))
        .at("/gmail/v1/users/me/messages", poem::get(list))
        .at("/gmail/v1/users/me/messages/:id", poem::get(get))
        .at("/gmail/v1/users/me/history", poem::get(history))
        .at("/batch/gmail/v1", poem::post(batch::batch))
}

/// Sandbox-only control routes under `/_sandbox/google`: the mailboxes' control API
/// ([`crate::mail::control`]).
pub fn control_routes() -> Route {
    crate::mail::control::routes(crate::mail::control::Mail {
        data: |s| &s.google,
        folders: <Gmail as crate::mail::MailKind>::FOLDERS,
    })
}
