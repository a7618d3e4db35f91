//! An event's start read from an email's words, for the events recognised without schema.org
//! markup (by sender, content shape or keywords): the first written date (the forms of
//! [`crate::extract`]) with a time of day right next to it — after it (`on 04/13/2027 at
//! 09:50`, `7 Aug 2027, departs 13:40`) or before it (`Doors open 7pm on Jun 5, 2027`), at
//! most [`NEAR`] bytes away — in the text, else in the subject. The time is `H:MM` (24-hour),
//! or with `AM`/`PM`, or `7pm` (not `H.MM`, which prices look like); a UTC offset written right after it is
//! kept (`13:40 +02:00`, `09:50 UTC`, `8:15 PM GMT-8`, `18:00 UTC+05:30`); otherwise the
//! start stays local (as with markup that gives none: [`EventStart`]).
//!
//! A date without a time next to it gives no start: in a confirmation, a date alone is as often
//! the booking's date as the event's.

use crate::extract::written_dates;
use crate::EventStart;
use chrono::{FixedOffset, NaiveTime};
use regex::Regex;
use std::sync::LazyLock;

/// The most bytes between a date and its time.
pub const NEAR: usize = 24;

static TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i-u:\b(?:(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?:\s?(?P<ap>[ap])\.?m\b\.?)?",
        r"|(?P<h12>1[0-2]|0?[1-9])\s?(?P<ap12>[ap])\.?m\b\.?)",
        r"(?:\s?(?P<utc>utc|gmt|z\b))?",
        r"(?:\s?(?P<sign>[+-])(?P<oh>\d{1,2})(?::?(?P<om>[0-5]\d))?\b)?)",
    ))
    .expect("time regex compiles")
});

/// The start written in `text`, else in `subject` (see the module doc).
pub fn find(subject: Option<&str>, text: &str) -> Option<EventStart> {
    find_in(text).or_else(|| subject.and_then(find_in))
}

fn find_in(s: &str) -> Option<EventStart> {
    for (date, at) in written_dates(s) {
        let after_end = floor(s, (at.end + NEAR).min(s.len()));
        let after = TIME_RE
            .captures(&s[at.end..after_end])
            .and_then(|c| read_time(&c));
        let before = || {
            let from = ceil(s, at.start.saturating_sub(NEAR));
            let window = &s[from..at.start];
            // The time closest to the date.
            TIME_RE
                .captures_iter(window)
                .last()
                .and_then(|c| read_time(&c))
        };
        if let Some((time, offset)) = after.or_else(before) {
            let local = date.and_time(time);
            return Some(match offset {
                Some(o) => EventStart {
                    local,
                    offset: Some(o),
                    zone: None,
                },
                None => EventStart::local(local),
            });
        }
    }
    None
}

fn read_time(c: &regex::Captures) -> Option<(NaiveTime, Option<FixedOffset>)> {
    let num = |n: &str| c.name(n).and_then(|m| m.as_str().parse::<u32>().ok());
    let (mut h, m, ap) = match num("h") {
        Some(h) => (h, num("m")?, c.name("ap")),
        None => (num("h12")?, 0, c.name("ap12")),
    };
    if let Some(ap) = ap {
        if !(1..=12).contains(&h) {
            return None;
        }
        let pm = ap.as_str().eq_ignore_ascii_case("p");
        h = (h % 12) + if pm { 12 } else { 0 };
    }
    let time = NaiveTime::from_hms_opt(h, m, 0)?;
    let offset = match (c.name("sign"), num("oh")) {
        (Some(sign), Some(oh)) if oh <= 14 => {
            let secs = (oh * 3600 + num("om").unwrap_or(0) * 60) as i32;
            FixedOffset::east_opt(if sign.as_str() == "-" { -secs } else { secs })
        }
        (Some(_), Some(_)) => return None,
        _ => c.name("utc").and_then(|_| FixedOffset::east_opt(0)),
    };
    Some((time, offset))
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Option<String> {
        find(None, s).map(|s| s.to_string())
    }

    #[test]
    fn date_then_time() {
        assert_eq!(
            f("Flight IB102 departs FRA on 04/13/2027 at 09:50. Gate closes").as_deref(),
            Some("2027-04-13T09:50:00")
        );
        assert_eq!(
            f("Toronto (YYZ) to Denver (DEN), 7 Aug 2027, departs 13:40. Seat 14C.").as_deref(),
            Some("2027-08-07T13:40:00")
        );
        assert_eq!(
            f("Check-in 2027-05-01 from 3:00 PM").as_deref(),
            Some("2027-05-01T15:00:00")
        );
    }

    #[test]
    fn time_then_date() {
        assert_eq!(
            f("2 tickets, Row F. Doors open 7pm on Jun 5, 2027.").as_deref(),
            Some("2027-06-05T19:00:00")
        );
        assert_eq!(
            f("Table at 12:30 am, 3. März 2027").as_deref(),
            Some("2027-03-03T00:30:00")
        );
    }

    #[test]
    fn offsets_are_kept() {
        assert_eq!(
            f("Departs March 4, 2027 at 8:15 PM GMT-8").as_deref(),
            Some("2027-03-04T20:15:00-08:00")
        );
        assert_eq!(
            f("Abflug 04.03.2027 13:40 +02:00").as_deref(),
            Some("2027-03-04T13:40:00+02:00")
        );
        assert_eq!(
            f("Starts 2027-03-04 18:00 UTC+05:30").as_deref(),
            Some("2027-03-04T18:00:00+05:30")
        );
        assert_eq!(
            f("Starts 2027-03-04 09:50 UTC").as_deref(),
            Some("2027-03-04T09:50:00Z")
        );
    }

    #[test]
    fn no_time_next_to_the_date_gives_no_start() {
        assert_eq!(f("Booked on 04/13/2027. Thanks for flying with us."), None);
        assert_eq!(f("Your flight departs 8:15 PM."), None);
        assert_eq!(f("Order 2027-01-02, total 13.99 EUR"), None);
        assert_eq!(f("Room 25:61 on 2027-01-02"), None);
        assert_eq!(f("Paid 2027-01-02, total 12.50 EUR"), None);
        assert_eq!(
            find(Some("Your trip on March 4, 2027 at 10:15"), "See you soon")
                .map(|s| s.to_string()),
            Some("2027-03-04T10:15:00".to_string())
        );
    }
}
