//! Microsoft Graph's mail replies as the Outlook client reads them: folders, id listings, delta
//! pages (messages and `@removed` entries), a message as a [`RawItem`], and the 410 that says a
//! delta token expired.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::providers::{gmail::body_needed, ItemKind, ProviderError, RawItem};

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Folder {
    pub(super) id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct FolderList {
    pub(super) value: Vec<Folder>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct IdList {
    pub(super) value: Vec<Folder>,
    #[serde(rename = "@odata.nextLink")]
    pub(super) next_link: Option<String>,
}

pub(super) fn malformed(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Permanent(format!("malformed reply: {e}"))
}

/// Whether a 410 says the delta state is gone (branching on `error.code`, never the message).
pub(super) fn sync_state_gone(body: &str) -> bool {
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DeltaPage {
    pub(super) value: Vec<Message>,
    #[serde(rename = "@odata.nextLink")]
    pub(super) next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    pub(super) delta_link: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Message {
    pub(super) id: String,
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
    pub(super) removed: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Recipient {
    email_address: EmailAddress,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EmailAddress {
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct ItemBody {
    content_type: String,
    content: String,
}

impl Message {
    pub(super) fn into_item(self) -> Result<RawItem, ProviderError> {
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
