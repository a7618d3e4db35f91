//! Microsoft identity platform + Graph stand-in: OAuth at `/{tenant}/oauth2/v2.0/authorize`
//! and `/{tenant}/oauth2/v2.0/token` (PKCE when challenged, refresh tokens only with
//! `offline_access`, rotated on every refresh while old ones keep working, AADSTS error
//! bodies); Graph's `/v1.0/me`. Microsoft has no per-token revocation endpoint.
//!
//! Outlook mail (the corpus of [`super::google::sample_email`], deterministic per (seed,
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
//! (MailboxConcurrency) beyond 4 concurrent requests per mailbox.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use base64::Engine;
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Json, Path},
    Request, Response, Route,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    google::{Mail, Mailbox, DEFAULT_EMAILS},
    oauth, truncated, DataFault, SandboxState,
};
use crate::providers::ProviderId;

/// The demo user's object id.
pub const ACCOUNT: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
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
    let account = match state.authenticate(ProviderId::Microsoft, req) {
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

/// The accounts' mailboxes (deterministic from the seed) with changes made at run time.
pub struct MicrosoftData {
    pub seed: u64,
    accounts: Mutex<HashMap<String, Mailbox>>,
    in_flight: Mutex<HashMap<String, usize>>,
}

impl MicrosoftData {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, account: &str, f: impl FnOnce(&mut Mailbox) -> R) -> R {
        let mut accounts = self.accounts.lock().expect("accounts");
        let mb = accounts.entry(account.to_string()).or_insert_with(|| {
            // Graph's seed stream differs from Gmail's, so the two mailboxes differ.
            Mailbox::generate(self.seed ^ 0x6d73, account, DEFAULT_EMAILS, graph_id)
        });
        f(mb)
    }

    /// The (immutable) ids of the account's live messages.
    pub fn ids(&self, account: &str) -> Vec<String> {
        self.with(account, |mb| mb.live_ids())
    }

    /// Adds `n` new messages; returns their ids.
    pub fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.with(account, |mb| mb.add(n, graph_id))
    }

    /// Deletes the `m` oldest live messages; returns their ids.
    pub fn delete(&self, account: &str, m: usize) -> Vec<String> {
        self.with(account, |mb| mb.delete_oldest(m))
    }

    /// Deletes the given messages; returns those that were live.
    pub fn delete_ids(&self, account: &str, ids: &[String]) -> Vec<String> {
        self.with(account, |mb| mb.delete_ids(ids))
    }

    /// Moves the given messages to a folder (well-known name); returns those moved.
    pub fn move_ids(&self, account: &str, ids: &[String], to: &str) -> Vec<String> {
        self.with(account, |mb| mb.move_ids(ids, to))
    }

    /// Marks the given messages read; returns those changed.
    pub fn mark_read(&self, account: &str, ids: &[String]) -> Vec<String> {
        self.with(account, |mb| mb.mark_read(ids))
    }

    /// Up to `n` unread messages of the account.
    pub fn unread(&self, account: &str, n: usize) -> Vec<String> {
        self.with(account, |mb| mb.unread(n))
    }

    /// The live messages in the given folders (well-known names).
    pub fn ids_in(&self, account: &str, folders: &[&str]) -> Vec<String> {
        self.with(account, |mb| {
            mb.mails
                .iter()
                .filter(|m| m.live() && folders.contains(&m.folder()))
                .map(|m| m.id.clone())
                .collect()
        })
    }

    /// Counts a request in flight for the mailbox until the guard drops (also when the
    /// request is abandoned mid-way).
    fn enter(&self, account: &str) -> InFlight<'_> {
        let mut f = self.in_flight.lock().expect("in_flight");
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

fn pairs(req: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn first<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
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
    format!(
        "{}{}?{query}",
        super::origin(req),
        req.original_uri().path()
    )
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

/// Authenticates, records, applies faults and the mailbox concurrency limit; runs `f` with
/// (account, malformed) unless a fault or throttling answers first.
async fn serve_data(
    state: &SandboxState,
    req: &Request,
    page: bool,
    f: impl FnOnce(&str, bool) -> Response,
) -> Response {
    let account = match state.authenticate(ProviderId::Microsoft, req) {
        Ok(a) => a,
        Err(r) => {
            state.record(format!("microsoft {} (unauthorized)", req.uri().path()));
            return r;
        }
    };
    let in_flight = state.microsoft.enter(&account);
    let what = format!(
        "microsoft {}{}",
        req.uri().path(),
        req.uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let fault = state.before_reply(what, page).await;
    let r = if in_flight.concurrent > MAX_CONCURRENT {
        throttled(
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            1,
        )
    } else {
        match fault {
            Some(DataFault::Unavailable) => graph_error(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            ),
            Some(DataFault::Throttled { reset_secs }) => throttled(
                "TooManyRequests",
                "Too many requests. Please retry after the time in Retry-After.",
                reset_secs,
            ),
            Some(DataFault::Malformed) => f(&account, true),
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
    let q = pairs(req);
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

/// A delta round, encoded in `$skiptoken` (a page of a round) and `$deltatoken` (the next
/// round's start).
#[derive(Serialize, Deserialize)]
struct Round {
    /// Mailbox version the round reports changes after (None: the initial round).
    from: Option<u64>,
    /// Mailbox version the round reports up to.
    to: u64,
    offset: usize,
    select: Vec<String>,
    top: Option<usize>,
}

fn encode(r: &Round) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(r).expect("round serializes"))
}

fn decode(t: &str) -> Option<Round> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `GET /v1.0/me/mailFolders/{folder}/messages/delta`.
#[handler]
async fn delta(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    Path(segment): Path<String>,
) -> Response {
    let Some((name, _, _)) = folder(&segment) else {
        return no_such_folder();
    };
    let q = pairs(req);
    let p = prefer(req);
    let state: &SandboxState = &state;
    serve_data(state, req, true, |account, malformed| {
        let current = state.microsoft.with(account, |mb| mb.version);
        let round = if let Some(t) = first(&q, "$deltatoken") {
            match decode(t) {
                Some(r) if !state.cursors_expired() && r.to <= current => Round {
                    from: Some(r.to),
                    to: current,
                    offset: 0,
                    select: r.select,
                    top: r.top,
                },
                _ => {
                    return graph_error(
                        410,
                        "SyncStateNotFound",
                        &format!(
                            "The sync state generation is not found; generation={};[highest={}]",
                            current.saturating_sub(8),
                            current
                        ),
                    )
                }
            }
        } else if let Some(t) = first(&q, "$skiptoken") {
            match decode(t) {
                Some(r) => r,
                None => {
                    return graph_error(400, "ErrorInvalidRequest", "The skip token is invalid.")
                }
            }
        } else {
            let t = match top(&q) {
                Ok(t) => t,
                Err(r) => return r,
            };
            Round {
                from: None,
                to: current,
                offset: 0,
                select: first(&q, "$select")
                    .map(|s| s.split(',').map(|f| f.trim().to_string()).collect())
                    .unwrap_or_default(),
                top: t,
            }
        };
        let n = p.max_page.or(round.top).unwrap_or(10).min(1000);
        let changes: Vec<Value> = state.microsoft.with(account, |mb| {
            let mut out: Vec<(u64, Value)> = Vec::new();
            let here = |m: &Mail, v: u64| m.live_at(v) && m.folder_at(v) == name;
            for m in &mb.mails {
                match round.from {
                    None => {
                        if here(m, round.to) {
                            out.push((0, message_json(m, &round.select, &p)));
                        }
                    }
                    Some(from) => {
                        let (was, is) = (here(m, from), here(m, round.to));
                        if is && (!was || m.read_v.is_some_and(|r| r > from && r <= round.to)) {
                            // Entered the folder (new or moved in) or changed in it.
                            out.push((changed_v(m), message_json(m, &round.select, &p)));
                        } else if was && !is {
                            let id = if p.immutable {
                                m.id.clone()
                            } else {
                                regular_id(&m.id)
                            };
                            let gone = m.deleted_v.unwrap_or_else(|| changed_v(m));
                            out.push((
                                gone,
                                json!({"@odata.type": "#microsoft.graph.message", "id": id,
                                       "@removed": {"reason": "deleted"}}),
                            ));
                        }
                    }
                }
            }
            out.sort_by_key(|(v, _)| *v);
            out.into_iter().map(|(_, v)| v).collect()
        });
        let page: Vec<Value> = changes.iter().skip(round.offset).take(n).cloned().collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)",
            "value": page,
        });
        if round.offset + n < changes.len() {
            let next = Round {
                offset: round.offset + n,
                ..round
            };
            body["@odata.nextLink"] = json!(link(req, &format!("$skiptoken={}", encode(&next))));
        } else {
            let next = Round {
                from: None,
                offset: 0,
                ..round
            };
            body["@odata.deltaLink"] = json!(link(req, &format!("$deltatoken={}", encode(&next))));
        }
        reply(&body, &p, n, malformed)
    })
    .await
}

pub fn routes() -> Route {
    Route::new()
        .at(
            "/:tenant/oauth2/v2.0/authorize",
            poem::get(oauth::authorize),
        )
        .at("/:tenant/oauth2/v2.0/token", poem::post(oauth::token))
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
            poem::get(delta),
        )
}

// ------------------------------------------------------------------------------------------
// Control routes

#[derive(Deserialize)]
struct AddBody {
    count: usize,
}

#[derive(Deserialize)]
struct DeleteBody {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    oldest: usize,
}

#[handler]
fn add_messages(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<AddBody>,
) -> Json<Value> {
    Json(json!({"ids": state.microsoft.add(&account, body.count)}))
}

#[handler]
fn delete_messages(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<DeleteBody>,
) -> Json<Value> {
    let mut ids = state.microsoft.delete_ids(&account, &body.ids);
    ids.extend(state.microsoft.delete(&account, body.oldest));
    Json(json!({"ids": ids}))
}

#[derive(Deserialize)]
struct MoveBody {
    ids: Vec<String>,
    /// The destination's well-known name (`archive`, `junkemail`, …).
    folder: String,
}

#[handler]
fn move_messages(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<MoveBody>,
) -> Response {
    match folder(&body.folder) {
        None => Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body("unknown folder"),
        Some((name, _, _)) => Response::builder()
            .content_type("application/json")
            .body(json!({"ids": state.microsoft.move_ids(&account, &body.ids, name)}).to_string()),
    }
}

#[derive(Deserialize)]
struct ReadBody {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    count: usize,
}

#[handler]
fn read_messages(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<ReadBody>,
) -> Json<Value> {
    let mut ids = body.ids.clone();
    ids.extend(state.microsoft.unread(&account, body.count));
    Json(json!({"ids": state.microsoft.mark_read(&account, &ids)}))
}

#[handler]
fn list_ids(state: Data<&Arc<SandboxState>>, Path(account): Path<String>) -> Json<Value> {
    Json(json!({"ids": state.microsoft.ids(&account)}))
}

/// Sandbox-only control routes under `/_sandbox/microsoft`: `GET accounts/{a}/messages` (live
/// ids), `POST accounts/{a}/messages {"count"}` (add), `POST accounts/{a}/messages/delete
/// {"ids"?, "oldest"?}` (delete by id and/or the oldest n), `POST accounts/{a}/messages/move
/// {"ids", "folder"}` (to a folder by well-known name), `POST accounts/{a}/messages/read
/// {"ids"?, "count"?}` (mark read: a change in delta rounds); each answers `{"ids": [...]}`.
pub fn control_routes() -> Route {
    Route::new()
        .at(
            "/accounts/:account/messages/move",
            poem::post(move_messages),
        )
        .at(
            "/accounts/:account/messages/read",
            poem::post(read_messages),
        )
        .at(
            "/accounts/:account/messages",
            poem::get(list_ids).post(add_messages),
        )
        .at(
            "/accounts/:account/messages/delete",
            poem::post(delete_messages),
        )
}
