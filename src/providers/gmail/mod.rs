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

use reqwest::header::HeaderMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use lifesync_jobs::payloads::SyncMode;

mod batch;
mod message;

use batch::fetch_messages;
pub(crate) use message::body_needed;

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
    /// Gmail's history reports added, deleted and relabelled messages.
    const CHANGES_COMPLETE: bool = true;

    async fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccountProfile, ProviderError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Profile {
            email_address: String,
            #[serde(default, deserialize_with = "opt_id")]
            history_id: Option<String>,
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
            // Gmail moves the mailbox's history id on every change.
            content_version: p.history_id,
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

/// An id Gmail sends as a string (tolerating a bare number), kept exact.
pub(super) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::{
        batch::parse_batch,
        message::{decode_base64url, Message},
        *,
    };

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
