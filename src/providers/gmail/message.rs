//! A Gmail message as `format=full` sends it, and its conversion to a [`RawItem`]: headers,
//! labels and bulk-mail headers for the categorizer, the HTML body when it may carry markup.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{malformed, opt_id, ItemKind, ProviderError, RawItem};

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Message {
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
pub(super) fn decode_base64url(data: &str) -> Option<String> {
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
    pub(super) fn into_item(self) -> Result<RawItem, ProviderError> {
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
