//! The normalizer's place in the service: turns a provider's [`RawItem`] into the
//! [`NormalizedItem`] lifesync stores, through the pure `lifesync-normalizer` crate
//! (`normalizer/`: sanitization, email categories and events from schema.org markup first,
//! dates, mentions, hashtags, the content hash — its crate docs state what is kept and the
//! canonical form of the hash). Every sync passes its items through [`normalize`]; nothing
//! else reaches the `items` table.
//!
//! Stored `text`: the sanitized text; for emails, the sanitized subject and snippet
//! (`subject — snippet`; an email without a snippet: the visible text of its HTML body). The
//! sender's address and the HTML body are read here and dropped.
//!
//! Stored `event`: `{"type", "start", "time_zone", "location", "confirmation_code"}`; `start`
//! is RFC 3339 with the UTC offset when the markup gives one or a zone that fixes it
//! (`2027-03-04T20:15:00-08:00`), else the local date-time as written
//! (`2027-03-04T20:15:00`); `time_zone` is the IANA zone written with it
//! (`America/Los_Angeles`) or null.
//! Mentions and hashtags are the provider's entities merged with those found in the text.
//!
//! Each item also gets its cross-post link key (`lifesync_normalizer::link`), computed from
//! the stored text and the raw texts under a [`LinkSecret`] derived from the token key, so
//! the PII part of the key cannot be searched offline; `db::duplicates` links items by it.
//!
//! The mailbox's signals (Gmail labels and bulk-mail headers, Outlook's Focused Inbox
//! classification) are read for the category and dropped. [`jsonl`] is the same path as a
//! tool: `lifesync normalize`.

pub mod jsonl;

use lifesync_normalizer::{Input, Kind};

use crate::{
    domain::{ItemKind, NormalizedItem},
    providers::RawItem,
};

/// The secret that keys the PII part of link keys, derived from the current token key.
/// After a key rotation, items with PII get new keys as they are stored again.
#[derive(Clone)]
pub struct LinkSecret([u8; 32]);

impl LinkSecret {
    pub fn derive(token_key: &[u8; 32]) -> Self {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(token_key).expect("any key length");
        mac.update(b"lifesync duplicate links v1");
        Self(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(..)")
    }
}

fn kind(k: ItemKind) -> Kind {
    match k {
        ItemKind::Post => Kind::Post,
        ItemKind::Media => Kind::Media,
        ItemKind::Email => Kind::Email,
    }
}

/// Normalizes one item.
pub fn normalize(raw: RawItem, links: &LinkSecret) -> NormalizedItem {
    let n = lifesync_normalizer::normalize(&Input {
        kind: kind(raw.kind),
        text: &raw.text,
        subject: raw.subject.as_deref(),
        sender: raw.sender.as_deref(),
        html: raw.html.as_deref(),
        hashtags: &raw.hashtags,
        mentions: &raw.mentions,
        signals: raw.mail.as_signals(),
    });
    let text = match (&n.subject, raw.kind) {
        (Some(subject), ItemKind::Email) if !subject.is_empty() => {
            if n.text.is_empty() {
                subject.clone()
            } else {
                format!("{subject} — {}", n.text)
            }
        }
        _ => n.text,
    };
    let raw_parts: Vec<&str> = raw
        .subject
        .as_deref()
        .into_iter()
        .chain([n.body_text.as_deref().unwrap_or(&raw.text)])
        .collect();
    let link_key = lifesync_normalizer::link::link_key(kind(raw.kind), &text, &raw_parts, &links.0);
    let mut metrics = raw.metrics;
    if let (Some(domain), serde_json::Value::Object(m)) = (&n.sender_domain, &mut metrics) {
        m.insert("sender_domain".into(), domain.clone().into());
    } else if let Some(domain) = &n.sender_domain {
        metrics = serde_json::json!({ "sender_domain": domain });
    }
    NormalizedItem {
        external_id: raw.external_id,
        kind: raw.kind,
        occurred_at: raw.occurred_at,
        text,
        category: n.category.map(|c| c.as_str()),
        is_event: n.is_event,
        event: n.event.map(|e| {
            serde_json::json!({
                "type": e.event_type,
                "start": e.start.map(|s| s.to_string()),
                "time_zone": e.start.and_then(|s| s.time_zone()),
                "location": e.location,
                "confirmation_code": e.confirmation_code,
            })
        }),
        mentions: n.mentions,
        hashtags: n.hashtags,
        dates: n.dates,
        location: raw.location,
        media_url: raw.media_url,
        permalink: raw.permalink,
        metrics,
        content_hash: n.content_hash,
        link_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(raw: RawItem) -> NormalizedItem {
        super::normalize(raw, &LinkSecret::derive(&[1; 32]))
    }

    fn raw(kind: ItemKind, text: &str) -> RawItem {
        RawItem {
            external_id: "1".into(),
            kind,
            occurred_at: chrono::Utc::now(),
            text: text.into(),
            hashtags: vec!["Travel".into()],
            mentions: vec![],
            location: None,
            media_url: None,
            permalink: None,
            metrics: serde_json::json!({}),
            subject: None,
            sender: None,
            html: None,
            mail: Default::default(),
        }
    }

    #[test]
    fn stored_text_is_sanitized_and_cross_posts_hash_alike() {
        let a = normalize(raw(
            ItemKind::Post,
            "Call me at +1 (415) 555-0132 or jane@example.com, #Porto @Friend1",
        ));
        assert!(
            !a.text.contains("555-0132") && !a.text.contains("jane@"),
            "{}",
            a.text
        );
        assert!(a.text.contains("[phone]") && a.text.contains("[email]"));
        assert!(a.hashtags.contains(&"porto".to_string()));
        assert!(a.hashtags.contains(&"travel".to_string()));
        assert!(a.mentions.contains(&"friend1".to_string()));
        let b = normalize(raw(
            ItemKind::Post,
            "call me at  +1 (415) 555-0199 or joe@example.org, #porto @friend1",
        ));
        assert_eq!(a.content_hash, b.content_hash);
        assert_ne!(
            a.content_hash,
            normalize(raw(ItemKind::Media, &a.text)).content_hash
        );
    }

    #[test]
    fn emails_get_a_category_an_event_and_keep_only_the_sender_domain() {
        let mut e = raw(ItemKind::Email, "Your flight LH 401 on 2026-03-03");
        e.subject = Some("Booking confirmation ABC123".into());
        e.sender = Some("Lufthansa <booking@lufthansa.com>".into());
        e.html = Some(
            r#"<script type="application/ld+json">{"@context":"http://schema.org","@type":"FlightReservation","reservationNumber":"ABC123","reservationFor":{"@type":"Flight","flightNumber":"401","departureAirport":{"@type":"Airport","iataCode":"FRA"},"departureTime":"2026-03-03T10:15:00+01:00"}}</script>"#.into(),
        );
        let n = normalize(e);
        assert_eq!(n.category, Some("TRAVEL_FLIGHT"));
        assert!(n.is_event);
        let event = n.event.unwrap();
        assert_eq!(event["confirmation_code"], "ABC123");
        assert_eq!(event["start"], "2026-03-03T10:15:00+01:00");
        assert_eq!(event["time_zone"], serde_json::Value::Null);
        assert_eq!(n.metrics["sender_domain"], "lufthansa.com");
        assert!(!n.text.contains("booking@"));
        assert!(n.text.starts_with("Booking confirmation"));
    }
}
