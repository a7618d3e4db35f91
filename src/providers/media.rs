//! What a stored media URL promises. Instagram's and Facebook's media URLs are signed CDN links
//! (`*.cdninstagram.com`, `*.fbcdn.net`) that stop working after a while; Meta writes their
//! expiry into the link as `oe=<unix seconds in hex>`. Full syncs store the URL the provider
//! hands out at that sync (a fresh one replaces the stored one even when nothing else changed),
//! and the API serves a stored URL with its expiry, never one already expired: a client can
//! rely on `media_url` working until `media_url_expires_at` (when known), and must fetch the
//! item again after the next sync rather than cache the link.

use chrono::{DateTime, Utc};

/// Hosts whose links carry Meta's `oe=` expiry.
const SIGNED_HOSTS: [&str; 2] = ["cdninstagram.com", "fbcdn.net"];

/// The expiry a signed media URL carries (Meta's `oe=`), if any.
pub fn expires_at(url: &str) -> Option<DateTime<Utc>> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?;
    if !SIGNED_HOSTS
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
    {
        return None;
    }
    let oe = u.query_pairs().find(|(k, _)| k == "oe")?.1;
    if oe.is_empty() || oe.len() > 12 || !oe.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    DateTime::from_timestamp(i64::from_str_radix(&oe, 16).ok()?, 0)
}

/// A stored media URL as the API serves it at `now`: (the URL, unless known to be expired; its
/// expiry, when known).
pub fn serve(url: Option<String>, now: DateTime<Utc>) -> (Option<String>, Option<DateTime<Utc>>) {
    let Some(url) = url else {
        return (None, None);
    };
    match expires_at(&url) {
        Some(at) if at <= now => (None, Some(at)),
        at => (Some(url), at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_expiry_and_never_serves_an_expired_link() {
        let url = "https://scontent.cdninstagram.com/v/t51/1_n.jpg?stp=dst-jpg&oh=00_x&oe=67F1A2B3";
        let at = expires_at(url).unwrap();
        assert_eq!(at.timestamp(), 0x67F1_A2B3);
        let before = at - chrono::Duration::seconds(1);
        assert_eq!(
            serve(Some(url.into()), before),
            (Some(url.into()), Some(at))
        );
        assert_eq!(serve(Some(url.into()), at), (None, Some(at)));
        // Facebook's CDN too; other hosts' `oe` means nothing; malformed `oe` is unknown.
        assert!(expires_at("https://scontent.xx.fbcdn.net/v/p.jpg?oe=67F1A2B3").is_some());
        assert_eq!(expires_at("https://example.com/p.jpg?oe=67F1A2B3"), None);
        assert_eq!(expires_at("https://evilfbcdn.net/p.jpg?oe=67F1A2B3"), None);
        assert_eq!(expires_at("https://x.fbcdn.net/p.jpg?oe=zz"), None);
        let plain = "https://example.com/p.jpg";
        assert_eq!(
            serve(Some(plain.into()), before),
            (Some(plain.into()), None)
        );
        assert_eq!(serve(None, before), (None, None));
    }
}
