//! The content hash used to find duplicates, including the same content cross-posted to two
//! providers.
//!
//! `content_hash(kind, text)` = SHA-256 of the UTF-8 bytes of
//! `kind.as_str()` (`post`, `media` or `email`), one `\n`, then the canonical text: the
//! SANITIZED text (placeholders, never raw PII) Unicode-normalized to NFKC, lowercased
//! (Unicode `to_lowercase`), and whitespace-folded (every run of Unicode whitespace becomes
//! one space, leading and trailing whitespace removed).

use crate::{sanitize, Kind};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// The canonical form of already sanitized text (NFKC, lowercase, whitespace folded).
pub fn canonical_text(sanitized: &str) -> String {
    let mut out = String::with_capacity(sanitized.len());
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    };
    if sanitized.is_ascii() {
        for c in sanitized.chars() {
            push(c.to_ascii_lowercase(), &mut out);
        }
    } else {
        for c in sanitized.nfkc().flat_map(char::to_lowercase) {
            push(c, &mut out);
        }
    }
    out
}

/// SHA-256 over the canonical form of already sanitized text.
pub fn hash_sanitized(kind: Kind, sanitized: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update(b"\n");
    h.update(canonical_text(sanitized).as_bytes());
    h.finalize().into()
}

/// SHA-256 over `kind`, `\n`, and the canonical form of `sanitize(text)` (see the module doc).
pub fn content_hash(kind: Kind, text: &str) -> [u8; 32] {
    hash_sanitized(kind, &sanitize(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form() {
        assert_eq!(canonical_text("  Hello\t\n WORLD  "), "hello world");
        // NFKC: the ligature and full-width letters fold.
        assert_eq!(canonical_text("ﬁne ＡＢＣ"), "fine abc");
    }

    #[test]
    fn cross_posted_content_hashes_equal() {
        let a = content_hash(Kind::Post, "Sunset at the beach  #travel call 415-555-0132");
        let b = content_hash(
            Kind::Post,
            "sunset at the BEACH #travel\ncall (415) 555-0132 ",
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            content_hash(Kind::Media, "sunset at the beach #travel call [phone]")
        );
        // The raw PII does not influence the hash.
        assert_eq!(
            content_hash(Kind::Email, "write jane@example.com"),
            content_hash(Kind::Email, "write bob@example.org")
        );
    }

    #[test]
    fn known_vector() {
        // sha256("post\nhi")
        let h = content_hash(Kind::Post, " HI ");
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "8143c4e66fe2851db22cf18cf018653b081b34c5cd7b85b002a96b60be4304ee"
        );
    }
}
