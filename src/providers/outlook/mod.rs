//! Outlook client over Microsoft Graph (the account: `GET /v1.0/me`). Every mail folder is
//! synced except the excluded ones (`MICROSOFT_EXCLUDED_FOLDERS`, default
//! [`EXCLUDED_FOLDERS`]: Junk Email and Deleted Items), each through its own delta query
//! `GET /v1.0/me/mailFolders/{id}/messages/delta` (Graph tracks changes per folder). Ids are
//! immutable (`Prefer: IdType="ImmutableId"` on every request), so a message keeps its id when
//! it moves between folders.
//!
//! A run: the excluded folders' ids (`GET /v1.0/me/mailFolders/{well-known name}`, once; kept
//! in the cursor) → one opening batch (`batch.rs`, `POST /v1.0/$batch`) holding the folder list
//! (`GET /v1.0/me/mailFolders`; an incremental run walks the cursor's folders instead) and the
//! first delta request of every folder with a stored `@odata.deltaLink` (sent verbatim: the
//! changes since, i.e. new, moved-in and changed messages with their bodies, `@removed` entries
//! for those deleted or moved out) → the rest of each round a page at a time, and an initial
//! round (every message, with `$select=…` sent only on the round's first request: Graph
//! encodes it into its tokens) for each folder without a stored link. An unchanged mailbox
//! costs the opening batch alone. A full run is a reconciliation: when something changed (a
//! change round brought news, a folder came or went, a round started afresh) it then lists
//! the ids of its change rounds' folders (`$select=id`, 1,000 a page) and ends with
//! [`Reconcile::All`], so messages no synced folder holds are marked deleted; when nothing
//! changed there is nothing to mark (the change rounds report every deletion and move), and it
//! ends without one. `@removed` entries go to [`Page::removed`]: a message removed from one
//! folder but seen in another during the run moved, and is not deleted. An expired delta token
//! (410 `SyncStateNotFound`, also `resyncRequired`/`syncStateNotFound`) restarts that folder as
//! an initial round.
//!
//! One request (or one batch) per `Provider::fetch_page` call. Page state: `PageState`; cursor
//! `{"folders": {"<folder id>": "<@odata.deltaLink>"}, "excluded": ["<folder id>"]}` (a cursor
//! of the inbox-only client, `{"delta_link"}`, counts as none: the next run starts afresh).
//! Links are followed only to the configured API's origin, so the bearer token never goes
//! elsewhere; they are never logged. `inferenceClassification` (the Focused Inbox verdict) is
//! selected for the categorizer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use lifesync_jobs::payloads::SyncMode;

use super::{
    app::ProviderApp,
    http::{self, get_json, Reply},
    AccountProfile, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem, Reconcile,
    Session,
};
use wire::{malformed, sync_state_gone, DeltaPage, Folder, FolderList, IdList};

mod batch;
mod wire;

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
        // 2. The folders and the stored folders' delta requests, in one batch; the folder list
        // on its own when it failed in the batch.
        if !st.opened {
            return open(s, &stored, st).await;
        }
        if st.list_alone {
            let r = get(s, folder_list_url(s), None).await?;
            let folders = st.folders_of(&r)?;
            st.list_alone = false;
            st.plan(&stored, &folders);
            return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
        }
        // 3. The folders' rounds, a page at a time.
        if let Some(round) = st.rounds.first().cloned() {
            return walk(s, st, round).await;
        }
        // 4. A full run that found changes lists its change rounds' folders.
        list(s, st).await
    }
}

/// `GET /v1.0/me/mailFolders` (ids only).
fn folder_list_url(s: &Session<'_>) -> url::Url {
    let mut url = s.app.api_url("/v1.0/me/mailFolders");
    url.query_pairs_mut()
        .append_pair("$top", "100")
        .append_pair("$select", "id,displayName");
    url
}

/// The run's opening request: one batch of the folder list (a full run, or a source without
/// stored folders) and the first delta request of every stored folder (up to the batch's size).
/// An unchanged mailbox ends here. A call that failed inside the batch is made again on its
/// own (where the usual retries and backoff apply), so a batch is never worse than its calls.
async fn open(s: &Session<'_>, stored: &Cursor, mut st: PageState) -> Result<Page, ProviderError> {
    let list_folders = st.full || stored.folders.is_empty();
    let mut calls = Vec::new();
    if list_folders {
        let (id, url) = ("folders".to_string(), folder_list_url(s));
        calls.push(batch::Call {
            id,
            url,
            page_size: None,
        });
    }
    let room = batch::MAX_CALLS - calls.len();
    let batched: Vec<(&String, &String)> = stored.folders.iter().take(room).collect();
    for (n, (_, link)) in batched.iter().enumerate() {
        let (id, url) = (format!("delta{n}"), same_origin(s, link)?);
        calls.push(batch::Call {
            id,
            url,
            page_size: Some(s.page_size),
        });
    }
    let mut replies = batch::send(s, &calls).await?;
    let mut reply = |id: &str| {
        replies
            .remove(id)
            .ok_or_else(|| malformed("a batch reply without one of its requests"))
    };
    st.opened = true;
    let folders: Vec<String> = if list_folders {
        let r = reply("folders")?;
        if !r.ok() {
            st.list_alone = true;
            return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
        }
        st.folders_of(&r)?
    } else {
        stored.folders.keys().cloned().collect()
    };
    let (mut items, mut removed) = (Vec::new(), Vec::new());
    for (n, (folder, link)) in batched.into_iter().enumerate() {
        let r = reply(&format!("delta{n}"))?;
        if !folders.contains(folder) {
            continue; // gone, or excluded now
        }
        st.change_folders.push(folder.clone());
        match r.status {
            410 if sync_state_gone(&r.body) => st.restart(folder),
            _ if r.ok() => {
                let round = Round::change(folder, link);
                if let Some(rest) = st.take(round, r.json()?, &mut items, &mut removed)? {
                    st.rounds.push(rest);
                }
            }
            // Failed, throttled, or not run (424: a call before it in the chain failed).
            _ => st.rounds.push(Round::change(folder, link)),
        }
    }
    st.plan(stored, &folders);
    Ok(st.page(items, removed, Vec::new()))
}

/// One page of the current folder's delta round.
async fn walk(s: &Session<'_>, mut st: PageState, round: Round) -> Result<Page, ProviderError> {
    let url = match &round.link {
        Some(l) => same_origin(s, l)?,
        None => {
            let mut u = folder_url(s, &round.folder, "/messages/delta")?;
            u.query_pairs_mut().append_pair("$select", SELECT);
            u
        }
    };
    let r = get(s, url, Some(s.page_size)).await?;
    if !r.ok() {
        if r.status == 410 && !round.initial && !round.started && sync_state_gone(&r.body) {
            // The folder's delta token expired: an initial round for it, within this run.
            st.restart(&round.folder);
            return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
        }
        return Err(r.error(Outlook::ID));
    }
    st.rounds.remove(0);
    let (mut items, mut removed) = (Vec::new(), Vec::new());
    if let Some(rest) = st.take(round, r.json()?, &mut items, &mut removed)? {
        st.rounds.insert(0, rest);
    }
    Ok(st.page(items, removed, Vec::new()))
}

/// One page of a reconciling full run's listing of a change round's folder (`$select=id`).
async fn list(s: &Session<'_>, mut st: PageState) -> Result<Page, ProviderError> {
    let Some(folder) = st.listing.first().cloned() else {
        return Ok(st.page(Vec::new(), Vec::new(), Vec::new()));
    };
    let url = match &st.list_link {
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
    st.list_link = list.next_link;
    if st.list_link.is_none() {
        st.listing.remove(0);
    }
    let listed = list.value.into_iter().map(|m| m.id).collect();
    Ok(st.page(Vec::new(), Vec::new(), listed))
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

/// A folder's delta round in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Round {
    folder: String,
    /// The round's next request (a stored delta link, then next links); None: an initial
    /// round's first request.
    link: Option<String>,
    /// An initial round (every message of the folder) rather than a change round.
    initial: bool,
    /// At least one page of it was read.
    started: bool,
}

impl Round {
    fn change(folder: &str, delta_link: &str) -> Self {
        Self {
            folder: folder.to_string(),
            link: Some(delta_link.to_string()),
            initial: false,
            started: false,
        }
    }

    fn initial(folder: &str) -> Self {
        Self {
            folder: folder.to_string(),
            link: None,
            initial: true,
            started: false,
        }
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
    /// The opening batch was read.
    opened: bool,
    /// The folder list failed in the opening batch: it is asked on its own next.
    list_alone: bool,
    /// The rounds still to walk, the current first.
    rounds: Vec<Round>,
    /// The folders whose round is a change round (a full run that found changes lists them).
    change_folders: Vec<String>,
    /// Something changed since the stored cursor: a change round brought news, a folder came
    /// or went, or a round had to start afresh.
    changed: bool,
    /// The listing was decided (once every round is walked).
    decided: bool,
    /// The folders still to list, the current first.
    listing: Vec<String>,
    /// The current listing's next link.
    list_link: Option<String>,
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

    /// The folders to walk, from the folder list's reply (excluded ones left out).
    fn folders_of(&self, r: &Reply) -> Result<Vec<String>, ProviderError> {
        if !r.ok() {
            return Err(r.error(Outlook::ID));
        }
        let list: FolderList = r.json()?;
        Ok(list
            .value
            .into_iter()
            .map(|f| f.id)
            .filter(|id| !id.is_empty() && !self.excluded.contains(id))
            .collect())
    }

    /// The rounds of the `folders` not yet under way: a stored folder's change round, a new
    /// folder's initial round. A folder that came or went is a change.
    fn plan(&mut self, stored: &Cursor, folders: &[String]) {
        self.changed |= folders.len() != stored.folders.len()
            || folders.iter().any(|f| !stored.folders.contains_key(f));
        for folder in folders {
            let under_way = self.change_folders.contains(folder)
                || self.rounds.iter().any(|r| &r.folder == folder);
            if under_way {
                continue;
            }
            match stored.folders.get(folder) {
                Some(link) => {
                    self.change_folders.push(folder.clone());
                    self.rounds.push(Round::change(folder, link));
                }
                None => self.rounds.push(Round::initial(folder)),
            }
        }
    }

    /// Takes a delta page of `round` into `items` and `removed`; returns the rest of the
    /// round, if it goes on.
    fn take(
        &mut self,
        round: Round,
        page: DeltaPage,
        items: &mut Vec<RawItem>,
        removed: &mut Vec<String>,
    ) -> Result<Option<Round>, ProviderError> {
        let news = !page.value.is_empty();
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
        self.changed |= news && !round.initial;
        match (page.next_link, page.delta_link) {
            (Some(next), _) => Ok(Some(Round {
                link: Some(next),
                started: true,
                ..round
            })),
            (None, Some(delta)) => {
                self.links.insert(round.folder, delta);
                Ok(None)
            }
            (None, None) => Err(malformed("a delta page without a next or delta link")),
        }
    }

    /// `folder`'s delta token expired: its round starts again as an initial one.
    fn restart(&mut self, folder: &str) {
        self.rounds.retain(|r| r.folder != folder);
        self.rounds.insert(0, Round::initial(folder));
        self.change_folders.retain(|f| f != folder);
        self.changed = true;
    }

    /// A page of the run; the last one once every round is walked and every folder to list
    /// is listed.
    fn page(mut self, items: Vec<RawItem>, removed: Vec<String>, listed: Vec<String>) -> Page {
        let walked =
            self.resolve.is_empty() && self.opened && !self.list_alone && self.rounds.is_empty();
        if walked && !self.decided {
            self.decided = true;
            if self.full && self.changed {
                self.listing = self.change_folders.clone();
            }
        }
        if walked && self.listing.is_empty() {
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

    /// The last page: the new cursor, and for a full run that found changes the
    /// reconciliation (one that found none has nothing to mark: a change round reports
    /// deletions and moves).
    fn last_page(self) -> Page {
        let reconcile = (self.full && self.changed).then_some(Reconcile::All);
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
