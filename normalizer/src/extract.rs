//! Extraction of dates, @mentions and #hashtags from (already sanitized) text.
//!
//! Dates, one compiled alternation regex, every result validated as a real calendar date with
//! a year in 1900–2100:
//! - `YYYY-MM-DD` (ISO 8601, also followed by `T…`);
//! - `A/B/YYYY`: month first (US, `03/04/2024` is March 4), unless `A` > 12 and `B` ≤ 12, then
//!   day first (`25/03/2024` is March 25);
//! - `DD.MM.YYYY`: always day first (German, French and most European styles);
//! - written forms with English, German, French and Spanish month names or their usual
//!   abbreviations: `March 3, 2026`, `Mar 3rd 2026`, `3 Mar 2026`, `3rd of March 2026`,
//!   `Mon, 04 Mar 2024 10:15:00 -0800` (RFC 2822), `3. März 2026`, `1er mars 2026`,
//!   `3 de marzo de 2026`.
//!
//! Two-digit years and `DD-MM-YYYY` are not read (both are ambiguous).
//!
//! Mentions are `@handle` (1–30 letters, digits, `_` or `.`, not preceded by a letter, digit
//! or `.`, so an address like `a@b.com` is never a mention), lowercased, without the `@`.
//! Email addresses never appear in mentions: the sanitizer has already replaced them, and the
//! rule above skips any that remain. Hashtags are `#tag` with at least one letter (so
//! `#4521987` is an order number, not a tag), lowercased, without the `#`. All three outputs
//! are sorted and de-duplicated; provider entities are merged in by [`merge_entities`].

use chrono::NaiveDate;
use regex::Regex;
use std::ops::Range;
use std::sync::LazyLock;

/// Month names and abbreviations (lowercase) → month number.
const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("janvier", 1),
    ("janv", 1),
    ("enero", 1),
    ("ene", 1),
    ("february", 2),
    ("feb", 2),
    ("februar", 2),
    ("février", 2),
    ("fevrier", 2),
    ("févr", 2),
    ("fév", 2),
    ("febrero", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("maerz", 3),
    ("mär", 3),
    ("mars", 3),
    ("marzo", 3),
    ("april", 4),
    ("apr", 4),
    ("avril", 4),
    ("avr", 4),
    ("abril", 4),
    ("abr", 4),
    ("may", 5),
    ("mai", 5),
    ("mayo", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("junio", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("juillet", 7),
    ("juil", 7),
    ("julio", 7),
    ("august", 8),
    ("aug", 8),
    ("août", 8),
    ("aout", 8),
    ("agosto", 8),
    ("ago", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("septembre", 9),
    ("septiembre", 9),
    ("setiembre", 9),
    ("october", 10),
    ("oct", 10),
    ("oktober", 10),
    ("okt", 10),
    ("octobre", 10),
    ("octubre", 10),
    ("november", 11),
    ("nov", 11),
    ("novembre", 11),
    ("noviembre", 11),
    ("december", 12),
    ("dec", 12),
    ("dezember", 12),
    ("dez", 12),
    ("décembre", 12),
    ("decembre", 12),
    ("déc", 12),
    ("diciembre", 12),
    ("dic", 12),
];

fn month_number(name: &str) -> Option<u32> {
    let lower = name.trim_end_matches('.').to_lowercase();
    MONTHS.iter().find(|(n, _)| *n == lower).map(|&(_, m)| m)
}

static DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    let mut names: Vec<&str> = MONTHS.iter().map(|(n, _)| *n).collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    let months = names.join("|");
    let pattern = format!(
        concat!(
            r"(?-u:\b)(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})(?:T|(?-u:\b))",
            r"|(?-u:\b)(?P<sa>\d{{1,2}})/(?P<sb>\d{{1,2}})/(?P<sy>\d{{4}})(?-u:\b)",
            r"|(?-u:\b)(?P<dd>\d{{1,2}})\.(?P<dm>\d{{1,2}})\.(?P<dy>\d{{4}})(?-u:\b)",
            r"|(?i:(?-u:\b)(?P<wm>{m})\.? (?P<wd>\d{{1,2}})(?:st|nd|rd|th)?,? (?P<wy>\d{{4}})(?-u:\b))",
            r"|(?i:(?-u:\b)(?P<vd>\d{{1,2}})(?:st|nd|rd|th|er|\.)? ?(?:de |of )?(?P<vm>{m})\.?,? (?:de )?(?P<vy>\d{{4}})(?-u:\b))",
        ),
        m = months
    );
    Regex::new(&pattern).expect("date regex compiles")
});

static MENTION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\p{L}\p{N}_.@/\-])@[A-Za-z0-9_][A-Za-z0-9_.]{0,29}")
        .expect("mention regex compiles")
});

static HASHTAG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\p{L}\p{N}_&#/])#[\p{L}\p{N}_]+").expect("hashtag regex compiles")
});

/// Every calendar date written in `text` (see the module doc for the forms and the
/// month/day rule), sorted and de-duplicated.
pub fn dates(text: &str) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    each_date(text, |d, _| out.push(d));
    out.sort_unstable();
    out.dedup();
    out
}

/// Every calendar date written in `text`, in the order written, with the byte range it was
/// written in.
pub fn written_dates(text: &str) -> Vec<(NaiveDate, Range<usize>)> {
    let mut out = Vec::new();
    each_date(text, |d, at| out.push((d, at)));
    out
}

/// Calls `f` with every calendar date written in `text` and its byte range, in order.
fn each_date(text: &str, mut f: impl FnMut(NaiveDate, Range<usize>)) {
    if !text.as_bytes().iter().any(u8::is_ascii_digit) {
        return;
    }
    for c in DATE_RE.captures_iter(text) {
        let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
        let ymd = if let Some(y) = num("iy") {
            Some((y, num("im"), num("id")))
        } else if let Some(y) = num("sy") {
            let (a, b) = (num("sa").unwrap_or(0), num("sb").unwrap_or(0));
            if a > 12 && b <= 12 {
                Some((y, Some(b), Some(a)))
            } else {
                Some((y, Some(a), Some(b)))
            }
        } else if let Some(y) = num("dy") {
            Some((y, num("dm"), num("dd")))
        } else if let Some(y) = num("wy") {
            Some((
                y,
                c.name("wm").and_then(|m| month_number(m.as_str())),
                num("wd"),
            ))
        } else {
            num("vy").map(|y| {
                (
                    y,
                    c.name("vm").and_then(|m| month_number(m.as_str())),
                    num("vd"),
                )
            })
        };
        if let Some((y, Some(m), Some(d))) = ymd {
            if (1900..=2100).contains(&y) {
                if let Some(date) = NaiveDate::from_ymd_opt(y as i32, m, d) {
                    f(date, c.get(0).expect("group 0 is the match").range());
                }
            }
        }
    }
}

/// `@handles` in `text`, lowercased, without the `@`, sorted and de-duplicated.
pub fn mentions(text: &str) -> Vec<String> {
    if !text.contains('@') {
        return Vec::new();
    }
    let mut out: Vec<String> = MENTION_RE
        .find_iter(text)
        .filter_map(|m| m.as_str().split_once('@'))
        .map(|(_, handle)| handle.trim_end_matches('.').to_lowercase())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// `#hashtags` in `text` (at least one letter), lowercased, without the `#`, sorted and
/// de-duplicated.
pub fn hashtags(text: &str) -> Vec<String> {
    if !text.contains('#') {
        return Vec::new();
    }
    let mut out: Vec<String> = HASHTAG_RE
        .find_iter(text)
        .filter_map(|m| m.as_str().split_once('#'))
        .map(|(_, tag)| tag.to_lowercase())
        .filter(|t| t.chars().any(char::is_alphabetic))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Merges provider entities (`#tag`/`tag`, `@handle`/`handle`) into `found`: the marker is
/// stripped, the rest lowercased; entities that are email addresses are dropped; the result
/// is sorted and de-duplicated.
pub fn merge_entities(mut found: Vec<String>, provider: &[String], marker: char) -> Vec<String> {
    for e in provider {
        let e = e.trim().trim_start_matches(marker);
        if e.is_empty() || e.contains('@') {
            continue;
        }
        found.push(e.to_lowercase());
    }
    found.sort_unstable();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(dates("on 2024-03-04T10:15"), vec![d(2024, 3, 4)]);
        assert_eq!(dates("on 03/04/2024"), vec![d(2024, 3, 4)]);
        assert_eq!(dates("on 25/03/2024"), vec![d(2024, 3, 25)]);
        assert_eq!(dates("am 04.03.2024"), vec![d(2024, 3, 4)]);
        assert_eq!(dates("31/02/2024 and 2024-13-01 and 1.2.1800"), vec![]);
    }

    #[test]
    fn written_dates() {
        assert_eq!(dates("March 3, 2026"), vec![d(2026, 3, 3)]);
        assert_eq!(dates("Mar 3rd 2026"), vec![d(2026, 3, 3)]);
        assert_eq!(dates("3 Mar 2026"), vec![d(2026, 3, 3)]);
        assert_eq!(dates("the 3rd of March 2026"), vec![d(2026, 3, 3)]);
        assert_eq!(
            dates("Date: Mon, 04 Mar 2024 10:15:00 -0800"),
            vec![d(2024, 3, 4)]
        );
        assert_eq!(dates("am 3. März 2026"), vec![d(2026, 3, 3)]);
        assert_eq!(dates("le 1er août 2026"), vec![d(2026, 8, 1)]);
        assert_eq!(dates("el 3 de marzo de 2026"), vec![d(2026, 3, 3)]);
        assert_eq!(dates("SEPT. 9, 2025 and 9 sept 2025"), vec![d(2025, 9, 9)]);
    }

    #[test]
    fn not_dates() {
        assert!(dates("v2.10.3, LH 401, $1,299.99, 1790000000000000000").is_empty());
    }

    #[test]
    fn mentions_and_tags() {
        assert_eq!(
            mentions("hi @Bob and @alice.b. and a@b.com @bob"),
            vec!["alice.b", "bob"]
        );
        assert_eq!(
            hashtags("#Travel #travel #2024 &#39; order #4521987 #café"),
            vec!["café", "travel"]
        );
        assert_eq!(
            merge_entities(vec!["a".into()], &["#B".into(), "x@y.com".into()], '#'),
            vec!["a", "b"]
        );
    }
}
