//! The normalizer: pure (no I/O, no async) — turns a provider's [`RawItem`] into the item
//! lifesync stores. Every sync passes its items through [`normalize`].
//!
//! Today this is the interface with its first rules: provider entities become mentions and
//! hashtags, and a content hash over a canonical form links cross-posted duplicates. PII
//! sanitization, email categories, events and date extraction are issue #6 and land here,
//! behind the same function.
//!
//! Canonical form for the hash: the kind, a newline, then the text lower-cased with every run
//! of whitespace folded to one space and trimmed; SHA-256 of its UTF-8 bytes.

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::providers::{ItemKind, Location, RawItem};

/// An item ready to store.
#[derive(Debug, Clone)]
pub struct NormalizedItem {
    pub external_id: String,
    pub kind: ItemKind,
    pub occurred_at: DateTime<Utc>,
    pub text: String,
    pub category: Option<&'static str>,
    pub is_event: bool,
    pub event: Option<serde_json::Value>,
    pub mentions: Vec<String>,
    pub hashtags: Vec<String>,
    pub dates: Vec<NaiveDate>,
    pub location: Option<Location>,
    pub media_url: Option<String>,
    pub permalink: Option<String>,
    pub metrics: serde_json::Value,
    pub content_hash: [u8; 32],
}

/// Normalizes one item.
pub fn normalize(raw: RawItem) -> NormalizedItem {
    let content_hash = content_hash(raw.kind, &raw.text);
    let mut hashtags: Vec<String> = raw.hashtags.iter().map(|h| h.to_lowercase()).collect();
    hashtags.dedup();
    NormalizedItem {
        external_id: raw.external_id,
        kind: raw.kind,
        occurred_at: raw.occurred_at,
        text: raw.text,
        category: None,
        is_event: false,
        event: None,
        mentions: raw.mentions,
        hashtags,
        dates: Vec::new(),
        location: raw.location,
        media_url: raw.media_url,
        permalink: raw.permalink,
        metrics: raw.metrics,
        content_hash,
    }
}

/// SHA-256 of the canonical form (see the module doc).
pub fn content_hash(kind: ItemKind, text: &str) -> [u8; 32] {
    let folded = text
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ");
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update(b"\n");
    h.update(folded.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_case_and_whitespace_but_not_kind_or_words() {
        let a = content_hash(ItemKind::Post, "Landed in  NYC!\n#travel");
        assert_eq!(a, content_hash(ItemKind::Post, " landed in nyc! #TRAVEL "));
        assert_ne!(a, content_hash(ItemKind::Media, "landed in nyc! #travel"));
        assert_ne!(a, content_hash(ItemKind::Post, "landed in lisbon! #travel"));
    }
}
