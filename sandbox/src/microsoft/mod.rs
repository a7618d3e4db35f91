//! Microsoft identity platform + Graph stand-in: OAuth at `/{tenant}/oauth2/v2.0/authorize`
//! and `/{tenant}/oauth2/v2.0/token` (PKCE when challenged, refresh tokens only with
//! `offline_access`, rotated on every refresh while old ones keep working, AADSTS error
//! bodies); Graph's `/v1.0/me`. Microsoft has no per-token revocation endpoint.
//!
//! Outlook mail (the corpus of [`crate::mail::sample_email`], deterministic per (seed,
//! account)) in six folders ([`FOLDERS`]: a fresh mailbox holds everything in the inbox;
//! `/_sandbox/microsoft/accounts/{a}/messages/move` moves messages): `/v1.0/me/mailFolders`
//! (the folders, `$top`), `/v1.0/me/mailFolders/{id or well-known name}` (one folder, 404
//! `ErrorItemNotFound` for an unknown one), `/v1.0/me/messages` (every folder) and
//! `/v1.0/me/mailFolders/{folder}/messages` (`$top` 1–1000, default 10, else 400; `$skip`;
//! `@odata.nextLink`) and `/v1.0/me/mailFolders/{folder}/messages/delta`, per folder as at
//! Graph: an initial round then change rounds (messages that entered the folder — new or moved
//! in —, messages changed in it (read), and `@removed` for those deleted or moved out), paged by
//! `Prefer: odata.maxpagesize` (or `$top`), `@odata.nextLink` with a `$skiptoken` until the
//! last page's `@odata.deltaLink` with a `$deltatoken`; the tokens encode the round (mailbox
//! versions and offset) and the first request's `$select`. Deletions after a delta link come
//! back as `{"id", "@removed": {"reason": "deleted"}}`; a delta token answers 410
//! `SyncStateNotFound` while cursors are expired. Ids are immutable ids only with
//! `Prefer: IdType="ImmutableId"` (otherwise the folder-bound form). Throttling is Graph's: 429
//! with `Retry-After` and a `TooManyRequests` body, or `ApplicationThrottled`
//! (MailboxConcurrency) beyond 4 concurrent requests per mailbox. JSON batching,
//! `POST /v1.0/$batch` (`batch.rs`): up to 20 of those requests in one.

mod batch;
mod delta;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use poem::{
    handler,
    http::StatusCode,
    web::{Data, Path},
    Request, Response, Route,
};
use serde_json::{json, Value};

use crate::{
    faults::{truncated, DataFault},
    mail::{Mail, MailData, MailKind},
    oauth,
    preamble::{self, first, origin, pairs},
    Provider, SandboxState,
};

/// The demo user's object id.
pub const ACCOUNT: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";

/// What the sandbox's shared parts need of Outlook: its name, endpoints, OAuth flavor, 401,
/// fault replies and routes (listed in [`crate::provider::SPECS`]).
pub const SPEC: crate::provider::ProviderSpec = crate::provider::ProviderSpec {
    provider: Provider::Microsoft,
    name: "microsoft",
    auth_path: "/common/oauth2/v2.0/authorize",
    token_path: "/common/oauth2/v2.0/token",
    scopes: None,
    flavor: oauth::Flavor {
        pkce: oauth::PkceRule::Optional,
        client_auth: oauth::AuthRule::BasicOrPost,
        code_lifetime: std::time::Duration::from_secs(600),
        access_ttl_secs: 4425,
        refresh: oauth::RefreshRule::RotateKeepOld("offline_access"),
        errors: oauth::ErrorStyle::Microsoft,
        default_account: ACCOUNT,
        error_reason: false,
        redirect_fragment: "",
        exchange_grant: false,
        reply: oauth::TokenReply::Rfc {
            token_type: "Bearer",
        },
        revoke_auth: oauth::RevokeAuth::Anyone,
        revoke_grant: false,
        revoke_body: Some("{}"),
    },
    token_in_query: false,
    token_on_arrival: false,
    unauthorized,
    fault_reply: |_, _, fault| fault_reply(fault),
    quota_reply: |_| None,
    routes,
    control_routes: Some(control_routes),
};

/// Microsoft Graph's reply to a missing, expired or revoked access token.
fn unauthorized() -> Response {
    preamble::json_401(
        &json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid.", "innerError": {"date": "2026-11-24T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000"}}}),
    )
}
/// The mailbox's folders: (well-known name, id, display name).
pub const FOLDERS: [(&str, &str, &str); 6] = [
    ("inbox", "AQMkADNkNAAAgEMAAAA", "Inbox"),
    ("archive", "AQMkADNkNAAAgFRAAAA", "Archive"),
    ("sentitems", "AQMkADNkNAAAgEJAAAA", "Sent Items"),
    ("drafts", "AQMkADNkNAAAgEPAAAA", "Drafts"),
    ("junkemail", "AQMkADNkNAAAgEiAAAA", "Junk Email"),
    ("deleteditems", "AQMkADNkNAAAgEKAAAA", "Deleted Items"),
];

/// The folder a path segment names (its id or well-known name, bare or as `('…')`).
fn folder(segment: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let f = segment.trim_start_matches("('").trim_end_matches("')");
    FOLDERS
        .into_iter()
        .find(|(name, id, _)| f.eq_ignore_ascii_case(name) || f == *id)
}

fn folder_id(name: &str) -> &'static str {
    folder(name).map_or(FOLDERS[0].1, |f| f.1)
}
/// Concurrent requests per mailbox before `MailboxConcurrency` throttling.
const MAX_CONCURRENT: usize = 4;

#[handler]
fn me(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(Provider::Microsoft, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    Response::builder().content_type("application/json").body(
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
               "businessPhones": [], "displayName": "Adele Vance", "givenName": "Adele",
               "mail": "AdeleV@contoso.com", "surname": "Vance",
               "userPrincipalName": "AdeleV@contoso.com", "id": account})
        .to_string(),
    )
}

/// The immutable id of the n-th message of a mailbox.
fn graph_id(mix: u64, n: u64) -> String {
    format!(
        "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{:08x}{:06x}AAA=",
        mix as u32,
        n * 7 + 1
    )
}

/// The folder-bound (regular) form of an immutable id: it would change if the message moved.
fn regular_id(immutable: &str) -> String {
    immutable.replacen(
        "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A",
        "AAMkADNkNAAASq35",
        1,
    )
}

/// Outlook's mailboxes: the [`crate::mail::Mailbox`]es of every account and the requests in
/// flight per mailbox.
pub type MicrosoftData = MailData<Outlook>;

/// Outlook's side of its mailboxes: message ids, folders, and the requests in flight per
/// mailbox (Graph's `MailboxConcurrency`).
#[derive(Default)]
pub struct Outlook {
    in_flight: Mutex<HashMap<String, usize>>,
}

impl MailKind for Outlook {
    /// Graph's seed stream differs from Gmail's, so the two mailboxes differ.
    const SEED_SALT: u64 = 0x6d73;
    const FOLDERS: bool = true;

    fn message_id(mix: u64, n: u64) -> String {
        graph_id(mix, n)
    }

    fn folder(name: &str) -> Option<&'static str> {
        folder(name).map(|f| f.0)
    }
}

impl MailData<Outlook> {
    /// Counts a request in flight for the mailbox until the guard drops (also when the
    /// request is abandoned mid-way).
    fn enter(&self, account: &str) -> InFlight<'_> {
        let mut f = self.provider.in_flight.lock().expect("in_flight");
        let n = f.entry(account.to_string()).or_insert(0);
        *n += 1;
        InFlight {
            data: self,
            account: account.to_string(),
            concurrent: *n,
        }
    }
}

/// One request in flight for a mailbox.
struct InFlight<'a> {
    data: &'a MicrosoftData,
    account: String,
    concurrent: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(n) = self
            .data
            .provider
            .in_flight
            .lock()
            .expect("in_flight")
            .get_mut(&self.account)
        {
            *n = n.saturating_sub(1);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Replies

fn graph_error(status: u16, code: &str, message: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .content_type("application/json")
        .body(
            json!({"error": {"code": code, "message": message,
                "innerError": {"date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                               "request-id": "5a4c3e1f-0000-4000-8000-000000000000",
                               "client-request-id": "5a4c3e1f-0000-4000-8000-000000000000"}}})
            .to_string(),
        )
}

fn throttled(code: &str, message: &str, secs: u64) -> Response {
    let mut r = graph_error(429, code, message);
    r.headers_mut().insert("retry-after", secs.max(1).into());
    r
}

/// What a request asked for in its `Prefer` headers.
struct Prefer {
    max_page: Option<usize>,
    immutable: bool,
    text_body: bool,
}

fn prefer(req: &Request) -> Prefer {
    let values: Vec<String> = req
        .headers()
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    Prefer {
        max_page: values.iter().find_map(|v| {
            v.strip_prefix("odata.maxpagesize=")
                .and_then(|n| n.trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
        }),
        immutable: values.iter().any(|v| {
            v.replace(' ', "")
                .eq_ignore_ascii_case("IdType=\"ImmutableId\"")
        }),
        text_body: values.iter().any(|v| {
            v.replace(' ', "")
                .eq_ignore_ascii_case("outlook.body-content-type=\"text\"")
        }),
    }
}

/// `$top`: 1–1000, else Graph's 400.
fn top(q: &[(String, String)]) -> Result<Option<usize>, Response> {
    match first(q, "$top") {
        None => Ok(None),
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(Some(n)),
            _ => Err(graph_error(
                400,
                "ErrorInvalidRequest",
                &format!(
                    "Invalid value '{t}' for query parameter $top: it must be between 1 and 1000."
                ),
            )),
        },
    }
}

/// The absolute link to this endpoint with `query` (Graph's next and delta links).
fn link(req: &Request, query: &str) -> String {
    format!("{}{}?{query}", origin(req), req.original_uri().path())
}

/// The mailbox version of a message's last change (added, moved, read): its change key.
fn changed_v(m: &Mail) -> u64 {
    m.moves
        .iter()
        .map(|(v, _)| *v)
        .chain(m.read_v)
        .fold(m.added_v, u64::max)
}

fn message_json(m: &Mail, select: &[String], p: &Prefer) -> Value {
    let e = &m.email;
    let id = if p.immutable {
        m.id.clone()
    } else {
        regular_id(&m.id)
    };
    let from = json!({"emailAddress": {"name": e.from_name, "address": e.from_addr}});
    let preview: String = e.text.chars().take(255).collect();
    let body = if p.text_body {
        json!({"contentType": "text", "content": e.text})
    } else {
        json!({"contentType": "html", "content": e.html})
    };
    let full = json!({
        "@odata.type": "#microsoft.graph.message",
        "@odata.etag": format!("W/\"CQAAABYAAAARn2vdzPFjSbaPPxzjlzOT{:08x}\"", changed_v(m)),
        "changeKey": format!("CQAAABYAAAARn2vdzPFjSbaPPxzjlzOT{:08x}", changed_v(m)),
        "id": id,
        "createdDateTime": e.received.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "receivedDateTime": e.received.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "sentDateTime": (e.received - chrono::Duration::seconds(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "hasAttachments": false,
        "internetMessageId": format!("<{}.{}@mail.sandbox>", m.added_v, m.id.len() + m.email.subject.len()),
        "subject": e.subject,
        "bodyPreview": preview,
        "importance": "normal",
        "parentFolderId": folder_id(m.folder()),
        "conversationId": format!("AAQkADNkNAAAQ{}", &m.id[m.id.len().saturating_sub(12)..]),
        "isRead": !m.labels().contains(&"UNREAD"),
        "inferenceClassification": if e.category == "OTHER" { "other" } else { "focused" },
        "webLink": format!("https://outlook.office365.com/owa/?ItemID={}&exvsurl=1&viewmodel=ReadMessageItem",
                           url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()),
        "body": body,
        "sender": from,
        "from": from,
        "toRecipients": [{"emailAddress": {"name": "Adele Vance", "address": "AdeleV@contoso.com"}}],
    });
    if select.is_empty() {
        return full;
    }
    let mut out = serde_json::Map::new();
    for (k, v) in full.as_object().into_iter().flatten() {
        if k.starts_with('@') || k == "id" || select.iter().any(|s| s.eq_ignore_ascii_case(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn reply(body: &Value, p: &Prefer, page_size: usize, malformed: bool) -> Response {
    let text = body.to_string();
    let mut applied = vec![];
    if p.max_page.is_some() {
        applied.push(format!("odata.maxpagesize={page_size}"));
    }
    if p.immutable {
        applied.push("IdType=\"ImmutableId\"".to_string());
    }
    let mut r = Response::builder().content_type("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8");
    if !applied.is_empty() {
        r = r.header("preference-applied", applied.join(", "));
    }
    r.body(if malformed { truncated(&text) } else { text })
}

/// A 5xx or throttling fault Graph's way: 503 `serviceNotAvailable`; 429 `TooManyRequests`
/// with `Retry-After`.
pub(crate) fn fault_reply(fault: DataFault) -> Response {
    match fault {
        DataFault::Throttled { reset_secs } => throttled(
            "TooManyRequests",
            "Too many requests. Please retry after the time in Retry-After.",
            reset_secs,
        ),
        DataFault::Unavailable | DataFault::Malformed => graph_error(
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
    }
}

/// The preamble in Outlook's order, then `f` with (account, malformed) unless a fault or
/// throttling answers first. Outlook checks the token before the request waits on any fault,
/// so a request held at the provider already counts against the mailbox's concurrency limit.
async fn serve_data(
    state: &SandboxState,
    req: &Request,
    page: bool,
    f: impl FnOnce(&str, bool) -> Response,
) -> Response {
    let account = match state.authenticate(Provider::Microsoft, req) {
        Ok(a) => a,
        Err(r) => {
            state.record(format!("microsoft {} (unauthorized)", req.uri().path()));
            return r;
        }
    };
    let in_flight = state.microsoft.enter(&account);
    let fault = state
        .before_reply(preamble::describe(Provider::Microsoft, req), page)
        .await;
    let r = if in_flight.concurrent > MAX_CONCURRENT {
        throttled(
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            1,
        )
    } else {
        match fault {
            Some(DataFault::Malformed) => f(&account, true),
            Some(fault) => preamble::fault_reply(state, Provider::Microsoft, &account, fault),
            None => f(&account, false),
        }
    };
    drop(in_flight);
    r
}

fn no_such_folder() -> Response {
    graph_error(
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn folder_json(f: (&str, &str, &str), total: usize) -> Value {
    json!({"id": f.1, "displayName": f.2, "parentFolderId": "AQMkADNkNAAAAgEIAAAA",
           "childFolderCount": 0, "unreadItemCount": 0, "totalItemCount": total,
           "sizeInBytes": total * 4096, "isHidden": false})
}

/// `GET /v1.0/me/mailFolders`.
#[handler]
async fn list_folders(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let p = prefer(req);
    let state: &SandboxState = &state;
    serve_data(state, req, false, |account, malformed| {
        let value: Vec<Value> = FOLDERS
            .into_iter()
            .map(|f| {
                let total = state.microsoft.ids_in(account, &[f.0]).len();
                folder_json(f, total)
            })
            .collect();
        let body = json!({
            "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#users('{account}')/mailFolders"),
            "value": value,
        });
        reply(&body, &p, FOLDERS.len(), malformed)
    })
    .await
}

/// `GET /v1.0/me/mailFolders/{folder}`.
#[handler]
async fn one_folder(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    Path(segment): Path<String>,
) -> Response {
    let p = prefer(req);
    let state: &SandboxState = &state;
    serve_data(state, req, false, |account, malformed| {
        match folder(&segment) {
            None => no_such_folder(),
            Some(f) => {
                let total = state.microsoft.ids_in(account, &[f.0]).len();
                reply(&folder_json(f, total), &p, 1, malformed)
            }
        }
    })
    .await
}

/// `GET /v1.0/me/messages` (`in_folder` None: every folder), `GET
/// /v1.0/me/mailFolders/{folder}/messages`: newest first.
async fn list_messages(state: &SandboxState, req: &Request, in_folder: Option<&str>) -> Response {
    let q = pairs(req.uri().query().unwrap_or(""));
    let p = prefer(req);
    serve_data(state, req, true, |account, malformed| {
        let n = match top(&q) {
            Ok(t) => t.unwrap_or(10),
            Err(r) => return r,
        };
        let skip: usize = match first(&q, "$skip").map(str::parse) {
            None => 0,
            Some(Ok(s)) => s,
            Some(Err(_)) => {
                return graph_error(400, "ErrorInvalidRequest", "Invalid value for $skip.")
            }
        };
        let select: Vec<String> = first(&q, "$select")
            .map(|s| s.split(',').map(|f| f.trim().to_string()).collect())
            .unwrap_or_default();
        let mut live: Vec<Mail> = state.microsoft.with(account, |mb| {
            mb.mails
                .iter()
                .filter(|m| m.live() && in_folder.is_none_or(|f| m.folder() == f))
                .cloned()
                .collect()
        });
        live.sort_by_key(|m| std::cmp::Reverse(m.email.received));
        let value: Vec<Value> = live
            .iter()
            .skip(skip)
            .take(n)
            .map(|m| message_json(m, &select, &p))
            .collect();
        let mut body = json!({
            "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#users('{account}')/messages"),
            "value": value,
        });
        if skip + n < live.len() {
            let mut next: Vec<(String, String)> = q
                .iter()
                .filter(|(k, _)| k != "$skip" && k != "$top")
                .cloned()
                .collect();
            next.push(("$top".into(), n.to_string()));
            next.push(("$skip".into(), (skip + n).to_string()));
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(next)
                .finish();
            body["@odata.nextLink"] = json!(link(req, &query));
        }
        reply(&body, &p, n, malformed)
    })
    .await
}

#[handler]
async fn messages(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    list_messages(&state, req, None).await
}

#[handler]
async fn folder_messages(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    Path(segment): Path<String>,
) -> Response {
    let Some((name, _, _)) = folder(&segment) else {
        return no_such_folder();
    };
    list_messages(&state, req, Some(name)).await
}

pub fn routes() -> Route {
    Route::new()
        .at(
            "/:tenant/oauth2/v2.0/authorize",
            poem::get(oauth::authorize),
        )
        .at("/:tenant/oauth2/v2.0/token", poem::post(oauth::token))
        .at("/v1.0/$batch", poem::post(batch::batch))
        .at("/v1.0/me", poem::get(me))
        .at("/v1.0/me/messages", poem::get(messages))
        .at("/v1.0/me/mailFolders", poem::get(list_folders))
        .at("/v1.0/me/mailFolders/:folder", poem::get(one_folder))
        .at(
            "/v1.0/me/mailFolders/:folder/messages",
            poem::get(folder_messages),
        )
        .at(
            "/v1.0/me/mailFolders/:folder/messages/delta",
            poem::get(delta::delta),
        )
}

/// Sandbox-only control routes under `/_sandbox/microsoft`: the mailboxes' control API
/// ([`crate::mail::control`], with the move route: Outlook has folders).
pub fn control_routes() -> Route {
    crate::mail::control::routes(crate::mail::control::Mail {
        data: |s| &s.microsoft,
        folders: <Outlook as crate::mail::MailKind>::FOLDERS,
    })
}
