//! Outlook client over Microsoft Graph (see `../shared/reference/providers.md` §6): the inbox's
//! delta query `GET /v1.0/me/mailFolders/inbox/messages/delta` serves both modes. A full sync
//! is an initial delta round (`$select=id,subject,from,receivedDateTime,bodyPreview,body,
//! internetMessageId,conversationId,isRead,webLink`, sent only on the round's first request:
//! Graph encodes it into its tokens); an incremental sync GETs the stored `@odata.deltaLink`
//! verbatim and gets the changes since, deletions (and moves out of the inbox) as `@removed`
//! entries, reported in [`Page::deleted`]. Every request carries `Prefer:
//! odata.maxpagesize=<page size>` and `Prefer: IdType="ImmutableId"` (ids survive folder moves).
//! An expired delta token (410 `SyncStateNotFound`, also `resyncRequired`/`syncStateNotFound`)
//! restarts the run as an initial round.
//!
//! One request per [`Provider::fetch_page`] call. Page state `{"link": "<@odata.nextLink>"}`
//! (`{"link": null}`: the initial request); cursor `{"delta_link": "<@odata.deltaLink>"}`,
//! returned with the round's last page. Links are followed only to the configured API's origin,
//! so the bearer token never goes elsewhere; they are never logged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use lifesync_jobs::payloads::SyncMode;

use super::{
    gmail::has_markup, http::classify, ItemKind, Page, PageRequest, Provider, ProviderError,
    ProviderId, RawItem, Session,
};

pub struct Outlook;

const SELECT: &str =
    "id,subject,from,receivedDateTime,bodyPreview,body,internetMessageId,conversationId,isRead,webLink";
const DELTA_PATH: &str = "/v1.0/me/mailFolders/inbox/messages/delta";

impl Provider for Outlook {
    const ID: ProviderId = ProviderId::Microsoft;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=1000;

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        let st = match req.page {
            Some(v) => PageState::deserialize(v)
                .map_err(|e| ProviderError::Permanent(format!("bad page state: {e}")))?,
            None => PageState {
                link: match req.mode {
                    SyncMode::Incremental => req
                        .cursor
                        .and_then(|c| c.get("delta_link"))
                        .and_then(Value::as_str)
                        .map(String::from),
                    SyncMode::Full => None,
                },
            },
        };
        let initial = st.link.is_none();
        let request = match &st.link {
            Some(link) => s.http.get(same_origin(s, link)?),
            None => s
                .http
                .get(s.app.api_url(DELTA_PATH))
                .query(&[("$select", SELECT)]),
        };
        let request = request
            .bearer_auth(s.token)
            .header("prefer", format!("odata.maxpagesize={}", s.page_size))
            .header("prefer", "IdType=\"ImmutableId\"");
        let resp = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                crate::metrics::provider_request(ProviderId::Microsoft.as_str(), None);
                return Err(e.into());
            }
        };
        let status = resp.status().as_u16();
        crate::metrics::provider_request(ProviderId::Microsoft.as_str(), Some(status));
        let headers = resp.headers().clone();
        let body = resp.text().await?;
        if !(200..300).contains(&status) {
            if status == 410 && !initial && sync_state_gone(&body) {
                // The delta token expired: a fresh initial round, within this run.
                return Ok(Page {
                    next: Some(json!(PageState { link: None })),
                    ..Page::default()
                });
            }
            return Err(classify(ProviderId::Microsoft, status, &headers, &body));
        }
        let page: DeltaPage = serde_json::from_str(&body)
            .map_err(|e| ProviderError::Permanent(format!("malformed reply: {e}")))?;
        let mut items = Vec::new();
        let mut deleted = Vec::new();
        for m in page.value {
            if m.removed.is_some() {
                if m.id.is_empty() {
                    return Err(malformed("a removed entry without an id"));
                }
                deleted.push(m.id);
            } else {
                items.push(m.into_item()?);
            }
        }
        let (next, cursor) = match (page.next_link, page.delta_link) {
            (Some(n), _) => (Some(json!(PageState { link: Some(n) })), None),
            (None, Some(d)) => (None, Some(json!({ "delta_link": d }))),
            (None, None) => return Err(malformed("a delta page without a next or delta link")),
        };
        Ok(Page {
            items,
            deleted,
            next,
            cursor,
            ..Page::default()
        })
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct PageState {
    /// The `@odata.nextLink` (or stored `@odata.deltaLink`) to GET; None: the initial request.
    link: Option<String>,
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
            .filter(|b| b.content_type.eq_ignore_ascii_case("html") && has_markup(&b.content))
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
                 "body": {"contentType": "html", "content": "<p>no markup</p>"}, "unknown": 1}
            ]
        }))
        .unwrap();
        assert!(page.delta_link.is_some() && page.next_link.is_none());
        let mut v = page.value.into_iter();
        assert!(v.next().unwrap().removed.is_some());
        let item = v.next().unwrap().into_item().unwrap();
        assert_eq!(item.sender.as_deref(), Some("Dana <dana@contoso.com>"));
        assert_eq!(item.occurred_at.to_rfc3339(), "2024-03-04T18:15:02+00:00");
        assert!(item.html.is_none());
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
