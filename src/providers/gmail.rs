//! Gmail client (Gmail API v1). The account is the mailbox's address (`getProfile`).
//!
//! A full sync is a reconciliation: `getProfile` (the mailbox's `historyId`, the watermark the
//! next sync starts from) → when a cursor is stored, `history.list` from it for label changes
//! (`labelAdded`/`labelRemoved`: the messages to read again) → `messages.list` pages of ids
//! only (`maxResults=500`, Gmail's largest; 5 units a page) → only the listed messages the
//! source does not hold yet ([`PageRequest::known`]) or whose labels changed, through the
//! batch endpoint `POST /batch/gmail/v1` (multipart/mixed, ≤ 50 inner `GET
//! /gmail/v1/users/me/messages/{id}?format=full` per request, per-part status). The run's last
//! page says the listing was complete ([`Reconcile::All`]): messages no longer listed (deleted,
//! or in spam or trash) are marked deleted. When the stored history is too old (404), every
//! listed message is read again (its labels may have changed).
//!
//! Incremental = `history.list?startHistoryId=…` with `messageAdded`, `messageDeleted`,
//! `labelAdded` and `labelRemoved`: added and relabelled messages fetched the same way,
//! deleted ones reported in [`Page::deleted`]; a 404 (the start id is older than Gmail keeps
//! history) falls back to a full sync within the run.
//!
//! Every [`Provider::fetch_page`] call sends exactly one request, so a failure (5xx, throttling,
//! a malformed reply) only repeats that request: the page state records where the run is,
//! `{"incremental", "start", "history_id", "page_token", "listed_all", "fetch": [ids],
//! "labels_read", "relabelled": [ids], "refetch_all"}` — `history_id` is the full sync's
//! profile watermark or the newest history id seen by an incremental run, `fetch` the listed
//! ids not fetched yet, `start` a full run's stored watermark (for its label pass). The cursor
//! is `{"history_id": "…"}`.
//!
//! Messages are read with `format=full`, a superset of `format=metadata` (headers, labels,
//! snippet, `internalDate`) that also carries the bodies, at the same quota cost (5 units): the
//! HTML body is passed on when it holds schema.org markup; the labels and the bulk-mail
//! headers (`List-Unsubscribe`, `List-Id`, `Precedence`) go to the categorizer. Gmail's
//! 403/429 throttling replies carry no `Retry-After` as a rule; without one the job backs off
//! exponentially (the queue's throttle backoff, 1 min doubling to 1 h), and
//! `dailyLimitExceeded` waits for midnight US Pacific time (`http::classify`).

use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use lifesync_jobs::payloads::SyncMode;

use super::{
    app::ProviderApp,
    http::{self, classify, get_json, Reply},
    AccountProfile, ItemKind, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem,
    Reconcile, Session,
};

pub struct Gmail;

/// Inner calls per batch request (Gmail allows 100 but advises against more than 50).
const BATCH_SIZE: usize = 50;
const BOUNDARY: &str = "batch_lifesync_gmail";
/// Ids per `messages.list` page (Gmail's largest): listing is cheap, bodies are not.
const LIST_SIZE: u32 = 500;

impl Provider for Gmail {
    const ID: ProviderId = ProviderId::Google;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=500;
    /// Gmail lists ids before it fetches bodies: it skips the messages the source holds.
    const LISTS_IDS_FIRST: bool = true;

    async fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccountProfile, ProviderError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Profile {
            email_address: String,
        }
        let p: Profile = get_json(
            Self::ID,
            http.get(app.api_url("/gmail/v1/users/me/profile"))
                .bearer_auth(token),
        )
        .await?;
        Ok(AccountProfile {
            account_name: Some(p.email_address.clone()),
            account_id: p.email_address,
        })
    }

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let mut st = match req.page {
            Some(v) => PageState::deserialize(v)
                .map_err(|e| ProviderError::Permanent(format!("bad page state: {e}")))?,
            None => PageState::start(req.mode, req.cursor),
        };
        if !st.fetch.is_empty() {
            let n = st.fetch.len().min(BATCH_SIZE);
            let ids: Vec<String> = st.fetch.drain(..n).collect();
            let items = fetch_messages(s, &ids).await?;
            return Ok(st.page(items, Vec::new()));
        }
        if st.incremental {
            let start = st.start.clone().unwrap_or_default();
            return match history(s, &start, st.page_token.as_deref(), CHANGE_TYPES).await? {
                None => {
                    // Too old a start id: a full sync, within this run.
                    Ok(Page {
                        next: Some(PageState::default().to_value()),
                        ..Page::default()
                    })
                }
                Some(h) => {
                    let (added, deleted) = h.changes();
                    if let Some(latest) = h.history_id {
                        st.history_id = Some(latest);
                    }
                    st.listed_all = h.next_page_token.is_none();
                    st.page_token = h.next_page_token;
                    st.fetch = added;
                    Ok(st.page(Vec::new(), deleted))
                }
            };
        }
        if st.history_id.is_none() {
            st.history_id = Some(profile_history_id(s).await?);
            return Ok(st.page(Vec::new(), Vec::new()));
        }
        if !st.labels_read && st.start.is_none() {
            st.labels_read = true; // nothing stored, nothing to read again
        }
        if !st.labels_read {
            // The full run's label pass: messages relabelled since the stored watermark.
            let start = st.start.clone().unwrap_or_default();
            match history(s, &start, st.page_token.as_deref(), LABEL_TYPES).await? {
                None => {
                    st.refetch_all = true;
                    st.page_token = None;
                    st.labels_read = true;
                }
                Some(h) => {
                    for id in h.relabelled() {
                        if !st.relabelled.contains(&id) {
                            st.relabelled.push(id);
                        }
                    }
                    st.page_token = h.next_page_token;
                    st.labels_read = st.page_token.is_none();
                }
            }
            return Ok(st.page(Vec::new(), Vec::new()));
        }
        let list = list(s, st.page_token.as_deref()).await?;
        st.listed_all = list.next_page_token.is_none();
        st.page_token = list.next_page_token;
        let mut listed = Vec::new();
        for m in list.messages {
            let known = req.known.is_some_and(|k| k.contains(&m.id));
            if known && !st.refetch_all && !st.relabelled.contains(&m.id) {
                listed.push(m.id);
            } else {
                st.fetch.push(m.id);
            }
        }
        let mut page = st.page(Vec::new(), Vec::new());
        page.listed = listed;
        Ok(page)
    }
}

/// The history types of a full run's label pass.
const LABEL_TYPES: &[&str] = &["labelAdded", "labelRemoved"];
/// The history types of an incremental run.
const CHANGE_TYPES: &[&str] = &[
    "messageAdded",
    "messageDeleted",
    "labelAdded",
    "labelRemoved",
];

/// Where a run is (see the module doc).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct PageState {
    incremental: bool,
    /// Incremental: the `startHistoryId`.
    start: Option<String>,
    /// The history id the next incremental sync starts from.
    history_id: Option<String>,
    page_token: Option<String>,
    /// No list/history page is left.
    listed_all: bool,
    /// Listed ids not fetched yet.
    fetch: Vec<String>,
    /// A full run's label pass is done (or was not needed).
    labels_read: bool,
    /// Known messages whose labels changed since the stored watermark (read again).
    relabelled: Vec<String>,
    /// The stored watermark was too old to tell what changed: read every listed message.
    refetch_all: bool,
}

impl PageState {
    fn start(mode: SyncMode, cursor: Option<&Value>) -> Self {
        let stored = cursor
            .and_then(|c| c.get("history_id"))
            .and_then(Value::as_str)
            .map(String::from);
        match (mode, stored) {
            (SyncMode::Incremental, Some(h)) => Self {
                incremental: true,
                start: Some(h.clone()),
                history_id: Some(h),
                ..Self::default()
            },
            (SyncMode::Full, start) => Self {
                start,
                ..Self::default()
            },
            (SyncMode::Incremental, None) => Self::default(),
        }
    }

    fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// A page with these items; the last one when nothing is left to list or fetch.
    fn page(self, items: Vec<RawItem>, deleted: Vec<String>) -> Page {
        if self.listed_all && self.fetch.is_empty() {
            Page {
                items,
                deleted,
                next: None,
                cursor: self.history_id.map(|h| json!({ "history_id": h })),
                // A full listing (also an incremental run's fallback) saw every message.
                reconcile: (!self.incremental).then_some(Reconcile::All),
                ..Page::default()
            }
        } else {
            Page {
                items,
                deleted,
                next: Some(self.to_value()),
                cursor: None,
                ..Page::default()
            }
        }
    }
}

/// Sends a Gmail request through the one sender ([`http::send`]).
async fn send(req: reqwest::RequestBuilder) -> Result<Reply, ProviderError> {
    http::send(ProviderId::Google, req).await
}

/// [`classify`] of a Gmail reply.
fn google_error(status: u16, headers: &HeaderMap, body: &str) -> ProviderError {
    classify(ProviderId::Google, status, headers, body)
}

fn malformed(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Permanent(format!("malformed reply: {e}"))
}

async fn profile_history_id(s: &Session<'_>) -> Result<String, ProviderError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Profile {
        #[serde(default, deserialize_with = "opt_id")]
        history_id: Option<String>,
    }
    let r = send(
        s.http
            .get(s.app.api_url("/gmail/v1/users/me/profile"))
            .bearer_auth(s.token),
    )
    .await?;
    if !r.ok() {
        return Err(r.error(Gmail::ID));
    }
    r.json::<Profile>()?
        .history_id
        .ok_or_else(|| malformed("profile without historyId"))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct MessageList {
    messages: Vec<MessageRef>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MessageRef {
    id: String,
}

async fn list(s: &Session<'_>, page_token: Option<&str>) -> Result<MessageList, ProviderError> {
    let mut query = vec![
        ("maxResults", LIST_SIZE.to_string()),
        ("includeSpamTrash", "false".into()),
    ];
    if let Some(t) = page_token {
        query.push(("pageToken", t.to_string()));
    }
    let r = send(
        s.http
            .get(s.app.api_url("/gmail/v1/users/me/messages"))
            .query(&query)
            .bearer_auth(s.token),
    )
    .await?;
    if !r.ok() {
        return Err(r.error(Gmail::ID));
    }
    let list: MessageList = r.json()?;
    if list.messages.iter().any(|m| m.id.is_empty()) {
        return Err(malformed("a listed message without an id"));
    }
    Ok(list)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct HistoryList {
    history: Vec<History>,
    next_page_token: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    history_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct History {
    messages_added: Vec<Change>,
    messages_deleted: Vec<Change>,
    labels_added: Vec<Change>,
    labels_removed: Vec<Change>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Change {
    message: ChangedMessage,
    /// Label changes: the labels added or removed.
    label_ids: Vec<String>,
}

/// Labels that hide a message from the mailbox's listing (and from lifesync).
fn hiding(labels: &[String]) -> bool {
    labels.iter().any(|l| l == "SPAM" || l == "TRASH")
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ChangedMessage {
    id: String,
    label_ids: Vec<String>,
}

impl HistoryList {
    /// Ids whose labels changed on this page (read again: labels are the item's state).
    fn relabelled(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in self
            .history
            .iter()
            .flat_map(|h| h.labels_added.iter().chain(&h.labels_removed))
        {
            if !c.message.id.is_empty() && !out.contains(&c.message.id) {
                out.push(c.message.id.clone());
            }
        }
        out
    }

    /// Ids added or relabelled (and not deleted later on this page; spam and trash left out)
    /// and deleted.
    fn changes(&self) -> (Vec<String>, Vec<String>) {
        let mut added: Vec<String> = Vec::new();
        let mut deleted: Vec<String> = Vec::new();
        for h in &self.history {
            for c in &h.messages_added {
                let m = &c.message;
                if !m.id.is_empty() && !hiding(&m.label_ids) && !added.contains(&m.id) {
                    added.push(m.id.clone());
                }
            }
            for c in &h.labels_added {
                let id = &c.message.id;
                if id.is_empty() {
                    continue;
                }
                if hiding(&c.label_ids) {
                    // Moved to spam or trash: gone from the mailbox.
                    added.retain(|a| a != id);
                    if !deleted.contains(id) {
                        deleted.push(id.clone());
                    }
                } else if !added.contains(id) {
                    added.push(id.clone());
                }
            }
            for c in &h.labels_removed {
                let id = &c.message.id;
                if !id.is_empty() && !added.contains(id) && !hiding(&c.message.label_ids) {
                    deleted.retain(|d| d != id);
                    added.push(id.clone());
                }
            }
            for c in &h.messages_deleted {
                let id = &c.message.id;
                if !id.is_empty() {
                    added.retain(|a| a != id);
                    if !deleted.contains(id) {
                        deleted.push(id.clone());
                    }
                }
            }
        }
        (added, deleted)
    }
}

/// One `history.list` page; None when Gmail no longer has history that old (404).
async fn history(
    s: &Session<'_>,
    start: &str,
    page_token: Option<&str>,
    types: &[&str],
) -> Result<Option<HistoryList>, ProviderError> {
    let mut query = vec![
        ("startHistoryId", start.to_string()),
        ("maxResults", "500".to_string()),
    ];
    query.extend(types.iter().map(|t| ("historyTypes", t.to_string())));
    if let Some(t) = page_token {
        query.push(("pageToken", t.to_string()));
    }
    let r = send(
        s.http
            .get(s.app.api_url("/gmail/v1/users/me/history"))
            .query(&query)
            .bearer_auth(s.token),
    )
    .await?;
    match r.status {
        404 => Ok(None),
        _ if r.ok() => r.json().map(Some),
        _ => Err(r.error(Gmail::ID)),
    }
}

/// The messages behind `ids` through one batch request; messages gone meanwhile are skipped.
async fn fetch_messages(s: &Session<'_>, ids: &[String]) -> Result<Vec<RawItem>, ProviderError> {
    let mut body = String::new();
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(malformed("a message id that is not alphanumeric"));
        }
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n\
             GET /gmail/v1/users/me/messages/{id}?format=full HTTP/1.1\r\n\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    let r = send(
        s.http
            .post(s.app.api_url("/batch/gmail/v1"))
            .bearer_auth(s.token)
            .header(
                "content-type",
                format!("multipart/mixed; boundary={BOUNDARY}"),
            )
            .body(body),
    )
    .await?;
    if !r.ok() {
        return Err(r.error(Gmail::ID));
    }
    let content_type = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = parse_batch(content_type, &r.body)?;
    if parts.len() != ids.len() {
        return Err(malformed(format!(
            "batch reply with {} parts for {} requests",
            parts.len(),
            ids.len()
        )));
    }
    let mut items = Vec::with_capacity(ids.len());
    for part in parts {
        match part.status {
            200..=299 => {
                let m: Message = serde_json::from_str(&part.body).map_err(malformed)?;
                items.push(m.into_item()?);
            }
            404 => {} // deleted since it was listed
            status => return Err(google_error(status, &part.headers, &part.body)),
        }
    }
    Ok(items)
}

/// One inner reply of a batch.
#[derive(Debug)]
struct BatchPart {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// The inner replies of a multipart/mixed batch reply, in request order (by `Content-ID`
/// `<response-itemN>` where present). A reply without its closing delimiter is malformed.
fn parse_batch(content_type: &str, body: &str) -> Result<Vec<BatchPart>, ProviderError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty() && content_type.starts_with("multipart/"))
        .ok_or_else(|| malformed("batch reply without a multipart boundary"))?;
    let delimiter = format!("--{boundary}");
    if !body.contains(&format!("{delimiter}--")) {
        return Err(malformed("batch reply cut short"));
    }
    let mut parts: Vec<(Option<usize>, BatchPart)> = Vec::new();
    for raw in body
        .split(delimiter.as_str())
        .skip(1)
        .take_while(|p| !p.starts_with("--"))
    {
        let raw = raw.trim_start_matches(['\r', '\n']);
        let (head, http) = split_head(raw);
        let index = header_lines(head)
            .find(|(k, _)| k.eq_ignore_ascii_case("content-id"))
            .and_then(|(_, v)| {
                v.trim_matches(['<', '>'])
                    .strip_prefix("response-item")?
                    .parse()
                    .ok()
            });
        let (status_head, inner_body) = split_head(http);
        let mut lines = status_head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| malformed("batch part without a status line"))?;
        let mut headers = HeaderMap::new();
        for (k, v) in header_lines(&lines.collect::<Vec<_>>().join("\n")) {
            if let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) {
                headers.append(k, v);
            }
        }
        parts.push((
            index,
            BatchPart {
                status,
                headers,
                body: inner_body.trim_end_matches(['\r', '\n']).to_string(),
            },
        ));
    }
    if parts.iter().all(|(i, _)| i.is_some()) {
        parts.sort_by_key(|(i, _)| *i);
    }
    Ok(parts.into_iter().map(|(_, p)| p).collect())
}

fn split_head(s: &str) -> (&str, &str) {
    match (s.find("\r\n\r\n"), s.find("\n\n")) {
        (Some(a), Some(b)) if b < a => (&s[..b], &s[b + 2..]),
        (Some(a), _) => (&s[..a], &s[a + 4..]),
        (None, Some(b)) => (&s[..b], &s[b + 2..]),
        (None, None) => (s, ""),
    }
}

fn header_lines(head: &str) -> impl Iterator<Item = (&str, &str)> {
    head.lines().filter_map(|l| {
        let (k, v) = l.split_once(':')?;
        Some((k.trim(), v.trim()))
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Message {
    id: String,
    thread_id: Option<String>,
    label_ids: Vec<String>,
    snippet: String,
    #[serde(deserialize_with = "opt_id")]
    internal_date: Option<String>,
    payload: Option<Part>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Part {
    mime_type: String,
    headers: Vec<Header>,
    body: Option<PartBody>,
    parts: Vec<Part>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Header {
    name: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PartBody {
    data: Option<String>,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first `text/html` body, decoded.
    fn html(&self) -> Option<String> {
        if self.mime_type.eq_ignore_ascii_case("text/html") {
            let data = self.body.as_ref()?.data.as_deref()?;
            return decode_base64url(data);
        }
        self.parts.iter().find_map(Part::html)
    }
}

/// base64url, padded or not (Gmail's `body.data`).
fn decode_base64url(data: &str) -> Option<String> {
    let clean: String = data
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(clean)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether an HTML body is worth handing to the normalizer: it may carry schema.org markup
/// (JSON-LD or microdata; the normalizer's own gate), or the message has no snippet, and the
/// body's text stands in for it.
pub(crate) fn body_needed(html: &str, snippet: &str) -> bool {
    snippet.trim().is_empty() || lifesync_normalizer::html::may_hold_markup(html)
}

/// Gmail's snippets are HTML-escaped.
fn unescape(s: &str) -> String {
    s.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Message {
    fn into_item(self) -> Result<RawItem, ProviderError> {
        if self.id.is_empty() {
            return Err(malformed("a message without an id"));
        }
        let occurred_at = self
            .internal_date
            .as_deref()
            .and_then(|d| d.parse::<i64>().ok())
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .ok_or_else(|| {
                malformed(format!("message {} without a valid internalDate", self.id))
            })?;
        let payload = self.payload.unwrap_or_default();
        let html = payload.html().filter(|h| body_needed(h, &self.snippet));
        let mail = lifesync_normalizer::OwnedMailSignals {
            labels: self.label_ids.clone(),
            headers: payload
                .headers
                .iter()
                .filter(|h| {
                    ["List-Unsubscribe", "List-Id", "Precedence"]
                        .iter()
                        .any(|n| h.name.eq_ignore_ascii_case(n))
                })
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            inference_classification: None,
        };
        let is_read = !self.label_ids.iter().any(|l| l == "UNREAD");
        Ok(RawItem {
            permalink: Some(format!("https://mail.google.com/mail/u/0/#all/{}", self.id)),
            kind: ItemKind::Email,
            occurred_at,
            text: unescape(&self.snippet),
            hashtags: Vec::new(),
            mentions: Vec::new(),
            location: None,
            media_url: None,
            metrics: json!({
                "labels": self.label_ids,
                "is_read": is_read,
                "thread_id": self.thread_id,
            }),
            subject: payload.header("Subject").map(String::from),
            sender: payload.header("From").map(String::from),
            html,
            mail,
            external_id: self.id,
        })
    }
}

/// An id Gmail sends as a string (tolerating a bare number), kept exact.
fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_bulk_headers_reach_the_categorizer() {
        let m: Message = serde_json::from_value(json!({
            "id": "a1", "labelIds": ["INBOX", "CATEGORY_PROMOTIONS"], "snippet": "50% off",
            "internalDate": "1709576100000",
            "payload": {"mimeType": "text/plain", "headers": [
                {"name": "From", "value": "Shop <news@shop.example>"},
                {"name": "Subject", "value": "Sale"},
                {"name": "list-unsubscribe", "value": "<mailto:u@shop.example>"},
                {"name": "Received", "value": "from mx"}]}
        }))
        .unwrap();
        let item = m.into_item().unwrap();
        assert_eq!(item.mail.labels, vec!["INBOX", "CATEGORY_PROMOTIONS"]);
        assert_eq!(
            item.mail.headers,
            vec![(
                "list-unsubscribe".to_string(),
                "<mailto:u@shop.example>".to_string()
            )]
        );
    }

    #[test]
    fn parses_a_batch_reply_in_request_order() {
        let body = "--b1\r\nContent-Type: application/http\r\nContent-ID: <response-item1>\r\n\r\n\
                    HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"error\":{}}\r\n\
                    --b1\r\nContent-Type: application/http\r\nContent-ID: <response-item0>\r\n\r\n\
                    HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id\":\"a\"}\r\n--b1--\r\n";
        let parts = parse_batch("multipart/mixed; boundary=b1", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].status, parts[0].body.as_str()),
            (200, "{\"id\":\"a\"}")
        );
        assert_eq!(parts[1].status, 404);
        let cut = &body[..body.len() / 2];
        assert!(parse_batch("multipart/mixed; boundary=b1", cut).is_err());
    }

    #[test]
    fn decodes_padded_and_unpadded_base64url() {
        assert_eq!(decode_base64url("aGk_Pz4").as_deref(), Some("hi??>"));
        assert_eq!(decode_base64url("aGk_Pz4=").as_deref(), Some("hi??>"));
    }

    #[test]
    fn history_changes_drop_added_then_deleted() {
        let h: HistoryList = serde_json::from_value(json!({
            "history": [
                {"id": "1", "messagesAdded": [{"message": {"id": "a"}}, {"message": {"id": "b"}}]},
                {"id": "2", "messagesDeleted": [{"message": {"id": "b"}}, {"message": {"id": "c"}}]}
            ],
            "historyId": 3
        }))
        .unwrap();
        assert_eq!(
            h.changes(),
            (
                vec!["a".to_string()],
                vec!["b".to_string(), "c".to_string()]
            )
        );
        assert_eq!(h.history_id.as_deref(), Some("3"));
    }
}
