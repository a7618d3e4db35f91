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
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// The canonical form of already sanitized text (NFKC, lowercase, whitespace folded).
pub fn canonical_text(sanitized: &str) -> String {
    let mut out = String::with_capacity(sanitized.len());
    if sanitized.is_ascii() {
        // ASCII is its own NFKC form.
        let mut pending_space = false;
        for &b in sanitized.as_bytes() {
            if b.is_ascii_whitespace() || b == 0x0B {
                pending_space = !out.is_empty();
            } else {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(b.to_ascii_lowercase() as char);
            }
        }
    } else if !fold_latin1(sanitized, &mut out) {
        out.clear();
        if is_nfkc_quick(sanitized.chars()) == IsNormalized::Yes {
            fold(sanitized.chars(), &mut out);
        } else {
            fold(sanitized.nfkc(), &mut out);
        }
    }
    out
}

/// The common case in one pass: ASCII and the Latin-1 letters U+00C0–U+00FF, which NFKC
/// leaves unchanged. Returns false (with `out` partly written) at any other character.
fn fold_latin1(s: &str, out: &mut String) -> bool {
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_ascii_whitespace() || c == '\u{0B}' {
            pending_space = !out.is_empty();
            continue;
        }
        let ascii = c.is_ascii();
        if !ascii && !('\u{C0}'..='\u{FF}').contains(&c) {
            return false;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if ascii {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    true
}

/// Lowercases and folds whitespace runs into `out`.
fn fold(chars: impl Iterator<Item = char>, out: &mut String) {
    let mut pending_space = false;
    for c in chars {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
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
        assert_eq!(canonical_text(" Café\u{3000}ÜBER\u{0B} x "), "café über x");
        // Decomposed and precomposed forms hash alike.
        assert_eq!(canonical_text("Cafe\u{301}"), canonical_text("Café"));
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
