//! Outlook client over Microsoft Graph (the account: `GET /v1.0/me`). Every mail folder is
//! synced except the excluded ones (`MICROSOFT_EXCLUDED_FOLDERS`, default
//! [`EXCLUDED_FOLDERS`]: Junk Email and Deleted Items), each through its own delta query
//! `GET /v1.0/me/mailFolders/{id}/messages/delta` (Graph tracks changes per folder). Ids are
//! immutable (`Prefer: IdType="ImmutableId"` on every request), so a message keeps its id when
//! it moves between folders.
//!
//! A run: the excluded folders' ids (`GET /v1.0/me/mailFolders/{well-known name}`, once; kept
//! in the cursor) → the folders (`GET /v1.0/me/mailFolders`; an incremental run walks the
//! cursor's folders instead) → per folder a delta round: an initial round (every message, with
//! `$select=…` sent only on the round's first request: Graph encodes it into its tokens) when
//! no delta link is stored for it, else the stored `@odata.deltaLink` verbatim (the changes
//! since: new, moved-in and changed messages with their bodies, `@removed` entries for those
//! deleted or moved out). A full run whose round for a folder was a change round then lists
//! the folder's ids (`$select=id`, 1,000 a page): a full run is a reconciliation; it ends with
//! [`Reconcile::All`], and messages no synced folder holds are marked deleted. `@removed`
//! entries go to [`Page::removed`]: a message removed from one folder but seen in another
//! during the run moved, and is not deleted. An expired delta token (410 `SyncStateNotFound`,
//! also `resyncRequired`/`syncStateNotFound`) restarts that folder as an initial round.
//!
//! One request per `Provider::fetch_page` call. Page state: `PageState`; cursor
//! `{"folders": {"<folder id>": "<@odata.deltaLink>"}, "excluded": ["<folder id>"]}` (a cursor
//! of the inbox-only client, `{"delta_link"}`, counts as none: the next run starts afresh).
//! Links are followed only to the configured API's origin, so the bearer token never goes
//! elsewhere; they are never logged. `inferenceClassification` (the Focused Inbox verdict) is
//! selected for the categorizer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use lifesync_jobs::payloads::SyncMode;

use super::{
    app::ProviderApp,
    gmail::body_needed,
    http::{self, get_json, Reply},
    AccountProfile, ItemKind, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem,
    Reconcile, Session,
};

pub struct Outlook;

/// The folders not synced by default (Graph well-known names).
pub const EXCLUDED_FOLDERS: [&str; 2] = ["junkemail", "deleteditems"];

const SELECT: &str = "id,subject,from,receivedDateTime,bodyPreview,body,internetMessageId,\
                      conversationId,isRead,webLink,inferenceClassification";
/// Ids per page of a full run's folder listing (Graph's largest `$top`).
const LIST_SIZE: u32 = 1000;

impl Provider for Outlook {
    const ID: ProviderId = ProviderId::Microsoft;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=1000;

    async fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccountProfile, ProviderError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Me {
            id: String,
            display_name: Option<String>,
            mail: Option<String>,
            user_principal_name: Option<String>,
        }
        let me: Me = get_json(
            Self::ID,
            http.get(app.api_url("/v1.0/me")).bearer_auth(token),
        )
        .await?;
        Ok(AccountProfile {
            account_id: me.id,
            account_name: me.display_name.or(me.mail).or(me.user_principal_name),
            content_version: None,
        })
    }

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let stored = Cursor::of(req.cursor);
        let mut st = match req.page {
            Some(v) => PageState::deserialize(v)
                .map_err(|e| ProviderError::Permanent(format!("bad page state: {e}")))?,
            None => PageState::start(s, &stored, req.mode == SyncMode::Full),
        };
        let full = st.full;
        // 1. The excluded folders' ids, once per source.
        if let Some(name) = st.resolve.pop() {
            let url = folder_url(s, &name, "")?;
            let r = get(s, url, None).await?;
            match r.status {
                404 => {} // no such folder in this mailbox
                _ if r.ok() => {
                    let f: Folder = r.json()?;
                    st.excluded.push(f.id);
                }
                _ => return Err(r.error(Outlook::ID)),
            }
            return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
        }
        // 2. The folders to walk.
        if st.folders.is_none() {
            if !full && !stored.folders.is_empty() {
                st.folders = Some(stored.folders.keys().cloned().collect());
            } else {
                let mut url = s.app.api_url("/v1.0/me/mailFolders");
                url.query_pairs_mut()
                    .append_pair("$top", "100")
                    .append_pair("$select", "id,displayName");
                let r = get(s, url, None).await?;
                if !r.ok() {
                    return Err(r.error(Outlook::ID));
                }
                let list: FolderList = r.json()?;
                st.folders = Some(
                    list.value
                        .into_iter()
                        .map(|f| f.id)
                        .filter(|id| !id.is_empty() && !st.excluded.contains(id))
                        .collect(),
                );
                return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
            }
        }
        let Some(folder) = st.folders.as_ref().and_then(|f| f.first().cloned()) else {
            return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
        };
        // 3b. A full run's listing of the folder's ids (after a change round).
        if st.listing {
            let url = match &st.link {
                Some(l) => same_origin(s, l)?,
                None => {
                    let mut u = folder_url(s, &folder, "/messages")?;
                    u.query_pairs_mut()
                        .append_pair("$select", "id")
                        .append_pair("$top", &LIST_SIZE.to_string());
                    u
                }
            };
            let r = get(s, url, None).await?;
            if !r.ok() {
                return Err(r.error(Outlook::ID));
            }
            let list: IdList = r.json()?;
            st.link = list.next_link;
            if st.link.is_none() {
                st.next_folder();
            }
            let listed = list.value.into_iter().map(|m| m.id).collect();
            return Ok(st.page(Vec::new(), Vec::new(), listed));
        }
        // 3a. The folder's delta round.
        let link = st
            .link
            .clone()
            .or_else(|| (!st.initial).then(|| stored.folders.get(&folder).cloned())?);
        let initial = link.is_none() || st.initial;
        let url = match &link {
            Some(l) => same_origin(s, l)?,
            None => {
                let mut u = folder_url(s, &folder, "/messages/delta")?;
                u.query_pairs_mut().append_pair("$select", SELECT);
                u
            }
        };
        let r = get(s, url, Some(s.page_size)).await?;
        if !r.ok() {
            if r.status == 410 && st.link.is_none() && !initial && sync_state_gone(&r.body) {
                // The folder's delta token expired: an initial round for it, within this run.
                st.initial = true;
                return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
            }
            return Err(r.error(Outlook::ID));
        }
        st.initial = initial;
        let page: DeltaPage = r.json()?;
        let mut items = Vec::new();
        let mut removed = Vec::new();
        for m in page.value {
            if m.removed.is_some() {
                if m.id.is_empty() {
                    return Err(malformed("a removed entry without an id"));
                }
                removed.push(m.id);
            } else {
                items.push(m.into_item()?);
            }
        }
        match (page.next_link, page.delta_link) {
            (Some(n), _) => st.link = Some(n),
            (None, Some(d)) => {
                st.links.insert(folder, d);
                st.link = None;
                if full && !st.initial {
                    st.listing = true; // the change round's folder is listed next
                } else {
                    st.next_folder();
                }
            }
            (None, None) => return Err(malformed("a delta page without a next or delta link")),
        }
        Ok(st.page(items, removed, Vec::new()))
    }
}

/// The stored cursor.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Cursor {
    /// Folder id → its delta link.
    folders: BTreeMap<String, String>,
    /// The excluded folders' ids (None: not resolved yet).
    excluded: Option<Vec<String>>,
}

impl Cursor {
    fn of(v: Option<&Value>) -> Self {
        v.and_then(|v| Self::deserialize(v).ok())
            .unwrap_or_default()
    }
}

/// Where a run is.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct PageState {
    /// A full run (a reconciliation).
    full: bool,
    /// Excluded folder names still to resolve to ids.
    resolve: Vec<String>,
    /// The excluded folders' ids.
    excluded: Vec<String>,
    /// The folders still to walk, the current first (None: not listed yet).
    folders: Option<Vec<String>>,
    /// The current folder's next link (of its delta round or its listing).
    link: Option<String>,
    /// The current folder's round is an initial one (all its messages).
    initial: bool,
    /// The current folder is being listed (a full run, after a change round).
    listing: bool,
    /// Delta links got in this run, by folder.
    links: BTreeMap<String, String>,
}

impl PageState {
    fn start(s: &Session<'_>, stored: &Cursor, full: bool) -> Self {
        match &stored.excluded {
            Some(ids) => Self {
                full,
                excluded: ids.clone(),
                ..Self::default()
            },
            None => Self {
                full,
                resolve: s
                    .app
                    .excluded_folders
                    .clone()
                    .unwrap_or_else(|| EXCLUDED_FOLDERS.map(String::from).to_vec()),
                ..Self::default()
            },
        }
    }

    fn next_folder(&mut self) {
        if let Some(f) = self.folders.as_mut() {
            if !f.is_empty() {
                f.remove(0);
            }
        }
        self.link = None;
        self.initial = false;
        self.listing = false;
    }

    /// A page of the run; the last one once every folder is walked.
    fn page(self, items: Vec<RawItem>, removed: Vec<String>, listed: Vec<String>) -> Page {
        let done = self.resolve.is_empty() && self.folders.as_ref().is_some_and(Vec::is_empty);
        if done {
            return Page {
                items,
                removed,
                listed,
                ..self.last_page()
            };
        }
        Page {
            items,
            removed,
            listed,
            next: Some(json!(self)),
            ..Page::default()
        }
    }

    /// The last page: the new cursor, and for a full run the reconciliation.
    fn last_page(self) -> Page {
        let reconcile = self.full.then_some(Reconcile::All);
        let cursor = Cursor {
            folders: self.links,
            excluded: Some(self.excluded),
        };
        Page {
            next: None,
            cursor: serde_json::to_value(cursor).ok(),
            reconcile,
            ..Page::default()
        }
    }
}

/// GETs a Graph URL with the bearer token, immutable ids and (delta rounds) a page size.
async fn get(
    s: &Session<'_>,
    url: url::Url,
    page_size: Option<u32>,
) -> Result<Reply, ProviderError> {
    let mut request = s
        .http
        .get(url)
        .bearer_auth(s.token)
        .header("prefer", "IdType=\"ImmutableId\"");
    if let Some(n) = page_size {
        request = request.header("prefer", format!("odata.maxpagesize={n}"));
    }
    http::send(Outlook::ID, request).await
}

/// `/v1.0/me/mailFolders/{folder}{suffix}`, the folder id (or well-known name) as one path
/// segment.
fn folder_url(s: &Session<'_>, folder: &str, suffix: &str) -> Result<url::Url, ProviderError> {
    let mut u = s.app.api_url("/v1.0/me/mailFolders");
    {
        let mut segments = u
            .path_segments_mut()
            .map_err(|_| malformed("an API base without a path"))?;
        segments.push(folder);
        for part in suffix.split('/').filter(|p| !p.is_empty()) {
            segments.push(part);
        }
    }
    Ok(u)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Folder {
    id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FolderList {
    value: Vec<Folder>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IdList {
    value: Vec<Folder>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

fn malformed(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Permanent(format!("malformed reply: {e}"))
}

/// Whether a 410 says the delta state is gone (branching on `error.code`, never the message).
fn sync_state_gone(body: &str) -> bool {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = |e: Option<&Value>| {
        e.and_then(|e| e.get("code"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let err = v.get("error");
    [code(err), code(err.and_then(|e| e.get("innerError")))]
        .into_iter()
        .flatten()
        .any(|c| c == "syncstatenotfound" || c == "resyncrequired")
        || err.is_none()
}

/// A Graph link, if it points at the configured API's origin (the bearer token goes with it).
fn same_origin(s: &Session<'_>, link: &str) -> Result<url::Url, ProviderError> {
    let url = url::Url::parse(link).map_err(|_| malformed("an unparsable next or delta link"))?;
    let base = &s.app.api_base;
    if url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
    {
        Ok(url)
    } else {
        Err(malformed(
            "a next or delta link outside the configured API origin",
        ))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeltaPage {
    value: Vec<Message>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Message {
    id: String,
    subject: Option<String>,
    from: Option<Recipient>,
    received_date_time: Option<String>,
    body_preview: String,
    body: Option<ItemBody>,
    internet_message_id: Option<String>,
    conversation_id: Option<String>,
    is_read: Option<bool>,
    web_link: Option<String>,
    /// Focused Inbox: `focused` or `other`; a hint for the categorizer, not stored.
    inference_classification: Option<String>,
    #[serde(rename = "@removed")]
    removed: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Recipient {
    email_address: EmailAddress,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailAddress {
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ItemBody {
    content_type: String,
    content: String,
}

impl Message {
    fn into_item(self) -> Result<RawItem, ProviderError> {
        if self.id.is_empty() {
            return Err(malformed("a message without an id"));
        }
        let occurred_at = self
            .received_date_time
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| malformed("a message without a valid receivedDateTime"))?;
        let sender = self.from.map(|f| f.email_address).and_then(|a| {
            match (a.name.filter(|n| !n.is_empty()), a.address) {
                (Some(n), Some(addr)) => Some(format!("{n} <{addr}>")),
                (None, Some(addr)) => Some(addr),
                (Some(n), None) => Some(n),
                (None, None) => None,
            }
        });
        let html = self
            .body
            .filter(|b| {
                b.content_type.eq_ignore_ascii_case("html")
                    && body_needed(&b.content, &self.body_preview)
            })
            .map(|b| b.content);
        Ok(RawItem {
            external_id: self.id,
            kind: ItemKind::Email,
            occurred_at,
            text: self.body_preview,
            hashtags: Vec::new(),
            mentions: Vec::new(),
            location: None,
            media_url: None,
            permalink: self.web_link,
            metrics: json!({
                "is_read": self.is_read,
                "conversation_id": self.conversation_id,
                "internet_message_id": self.internet_message_id,
            }),
            subject: self.subject,
            sender,
            html,
            mail: lifesync_normalizer::OwnedMailSignals {
                inference_classification: self.inference_classification,
                ..Default::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_entries_and_messages_parse() {
        let page: DeltaPage = serde_json::from_value(json!({
            "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/mailfolders('x')/messages/delta?$deltatoken=abc",
            "value": [
                {"@odata.type": "#microsoft.graph.message", "id": "A=", "@removed": {"reason": "deleted"}},
                {"id": "B=", "subject": "Hi", "receivedDateTime": "2024-03-04T18:15:02Z",
                 "from": {"emailAddress": {"name": "Dana", "address": "dana@contoso.com"}},
                 "bodyPreview": "no markup",
                 "body": {"contentType": "html", "content": "<p>no markup</p>"}, "unknown": 1},
                {"id": "C=", "receivedDateTime": "2024-03-04T18:15:02Z", "bodyPreview": "",
                 "body": {"contentType": "html", "content": "<p>only a body</p>"}}
            ]
        }))
        .unwrap();
        assert!(page.delta_link.is_some() && page.next_link.is_none());
        let mut v = page.value.into_iter();
        assert!(v.next().unwrap().removed.is_some());
        let item = v.next().unwrap().into_item().unwrap();
        assert_eq!(item.sender.as_deref(), Some("Dana <dana@contoso.com>"));
        assert_eq!(item.occurred_at.to_rfc3339(), "2024-03-04T18:15:02+00:00");
        assert!(
            item.html.is_none(),
            "no markup and a preview: the body is not needed"
        );
        let item = v.next().unwrap().into_item().unwrap();
        assert_eq!(item.html.as_deref(), Some("<p>only a body</p>"));
    }

    #[test]
    fn a_410_without_a_known_code_is_not_a_sync_state_error() {
        assert!(sync_state_gone(
            r#"{"error":{"code":"SyncStateNotFound","message":"x"}}"#
        ));
        assert!(sync_state_gone(
            r#"{"error":{"code":"resyncRequired","message":"x"}}"#
        ));
        assert!(!sync_state_gone(
            r#"{"error":{"code":"ErrorItemNotFound","message":"x"}}"#
        ));
    }
}
