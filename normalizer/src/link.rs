//! The link key: what two items must share to be the same content posted twice (a cross-post),
//! the basis of `duplicate_of`.
//!
//! `link_key(kind, sanitized, raw_parts, secret)` is `None` — the item never links — when the
//! canonical sanitized text holds fewer than [`MIN_LINK_WORDS`] words of real content: empty
//! text, a caption of placeholders only (`[phone]`), a lone link or handle, "Happy Friday!".
//! Otherwise it is SHA-256 over
//! - `lifesync-link-v1`, the kind's family (`social` for posts and media, which compare as
//!   one; `email` for emails),
//! - the canonical form of the sanitized text ([`canonical_text`]),
//! - and, when the text held PII, an HMAC-SHA-256 under `secret` of the PII values found in
//!   `raw_parts` (email addresses lowercased, numbers as their digits), in order.
//!
//! The last part keeps apart two texts that only sanitization made equal ("Found a card on the
//! street, \[card\]" with two different numbers), while a true cross-post, which carries the same
//! number, still links. The values are keyed so that the stored key cannot be searched
//! offline for a phone or card number; the secret lives with the service, never in the data.
//!
//! Words: a whitespace-separated token with a letter or digit that is not a placeholder, a
//! link (`http…`, `www.…`) or a handle (`@…`); in scripts written without spaces (Han, kana,
//! Hangul, Thai) every two characters count as a word.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{hash::canonical_text, sanitize::find_pii, sanitize::PiiKind, Kind};

/// Fewer words of real content than this never link.
pub const MIN_LINK_WORDS: usize = 3;

/// The family a kind is compared in: posts and media are one.
pub fn family(kind: Kind) -> &'static str {
    match kind {
        Kind::Post | Kind::Media => "social",
        Kind::Email => "email",
    }
}

/// The link key of an item (see the module doc); `None` when the item must never link.
/// `sanitized` is the stored text; `raw_parts` the texts it was sanitized from.
pub fn link_key(
    kind: Kind,
    sanitized: &str,
    raw_parts: &[&str],
    secret: &[u8; 32],
) -> Option<[u8; 32]> {
    let canonical = canonical_text(sanitized);
    if content_words(&canonical) < MIN_LINK_WORDS {
        return None;
    }
    let mut h = Sha256::new();
    h.update(b"lifesync-link-v1\n");
    h.update(family(kind).as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    if let Some(digest) = pii_digest(sanitized, raw_parts, secret) {
        h.update(b"\n");
        h.update(digest);
    }
    Some(h.finalize().into())
}

/// The keyed digest of the PII values in `raw_parts`, when the sanitized text shows any.
fn pii_digest(sanitized: &str, raw_parts: &[&str], secret: &[u8; 32]) -> Option<[u8; 32]> {
    if !sanitized.contains('[') {
        return None;
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    let mut any = false;
    for part in raw_parts {
        for span in find_pii(part) {
            let value = &part[span.start..span.end];
            match span.kind {
                PiiKind::Email => mac.update(value.to_lowercase().as_bytes()),
                _ => {
                    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                    mac.update(digits.as_bytes());
                }
            }
            mac.update(b"\0");
            any = true;
        }
    }
    any.then(|| mac.finalize().into_bytes().into())
}

/// Words of real content in canonical text (see the module doc).
pub fn content_words(canonical: &str) -> usize {
    canonical
        .split(' ')
        .map(|token| {
            let token = token.trim_matches(|c: char| !c.is_alphanumeric() && c != '[' && c != ']');
            if is_placeholder(token)
                || token.starts_with("http")
                || token.starts_with("www.")
                || token.starts_with('@')
            {
                return 0;
            }
            let unspaced = token.chars().filter(|&c| is_unspaced_script(c)).count();
            if unspaced > 0 {
                unspaced.div_ceil(2)
            } else {
                usize::from(token.chars().any(char::is_alphanumeric))
            }
        })
        .sum()
}

/// `[email]`, `[phone]`, … : a bracketed lowercase word, whatever placeholders exist.
fn is_placeholder(token: &str) -> bool {
    token
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Scripts written without spaces between words.
fn is_unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{0E00}'..='\u{0E7F}' // Thai
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize;

    const SECRET: [u8; 32] = [7; 32];

    fn key(kind: Kind, raw: &str) -> Option<[u8; 32]> {
        link_key(kind, &sanitize(raw), &[raw], &SECRET)
    }

    #[test]
    fn posts_and_media_compare_as_one_emails_apart() {
        let text = "Sunset at the beach tonight #travel";
        assert!(key(Kind::Post, text).is_some());
        assert_eq!(key(Kind::Post, text), key(Kind::Media, text));
        assert_ne!(key(Kind::Post, text), key(Kind::Email, text));
    }

    #[test]
    fn spacing_and_case_do_not_matter() {
        assert_eq!(
            key(Kind::Post, "Sunset at the  BEACH tonight"),
            key(Kind::Media, "sunset at the beach\ntonight ")
        );
    }

    #[test]
    fn too_little_content_never_links() {
        for text in [
            "",
            "   ",
            "[phone]",
            "Call 415-555-0132",
            "Happy Friday!",
            "https://example.com/a @someone",
            "🎉🎉🎉",
        ] {
            assert_eq!(key(Kind::Post, text), None, "{text:?} must not link");
        }
        assert!(key(Kind::Post, "Happy Friday everyone!").is_some());
        // Japanese has no spaces: characters count.
        assert!(key(Kind::Post, "今日は東京で夕日を見た").is_some());
        assert_eq!(key(Kind::Post, "夕日"), None);
    }

    #[test]
    fn texts_made_equal_by_sanitization_stay_apart() {
        let a = key(
            Kind::Post,
            "Found a card on the street, 4111 1111 1111 1111",
        );
        let b = key(
            Kind::Post,
            "Found a card on the street, 5555 5555 5555 4444",
        );
        assert!(a.is_some() && b.is_some());
        assert_ne!(a, b);
        // The same number written the same way or otherwise: the same content.
        assert_eq!(
            key(Kind::Post, "Call me at 415-555-0132 about the flat"),
            key(Kind::Media, "call me at (415) 555-0132 about the flat")
        );
    }

    #[test]
    fn the_secret_keys_the_pii_part_only() {
        let raw = "Write to jane@example.com about the flat";
        let other = link_key(Kind::Post, &sanitize(raw), &[raw], &[8; 32]);
        assert_ne!(key(Kind::Post, raw), other);
        let plain = "Sunset at the beach tonight";
        assert_eq!(
            key(Kind::Post, plain),
            link_key(Kind::Post, plain, &[plain], &[8; 32])
        );
    }
}
