//! When an event starts, kept whole: the wall-clock time as written, its UTC offset and its
//! IANA time zone when the source gives them, because a timeline built on events crosses time
//! zones and `20:15` in San Francisco is not `20:15` in Paris.
//!
//! Read from a schema.org value (`departureTime`, `startDate`, `checkinTime`, …) in these forms:
//! - `2027-03-04`: a date alone, midnight, no offset;
//! - `2027-03-04T20:15`, `2027-03-04 20:15:30`, `2027-03-04T20:15:30.250`: the wall-clock time
//!   (fractions of a second are dropped), no offset;
//! - followed by an offset: `Z`, `+01:00`, `-0800`, `+05`, or `UTC` / `GMT`;
//! - followed by an IANA time zone, in RFC 9557's brackets (`2027-03-04T20:15:00+01:00[Europe/Paris]`,
//!   `2027-03-04T20:15[Europe/Paris]`) or after a space (`2027-03-04 20:15 Europe/Paris`); a name
//!   the time zone database does not know is ignored.
//!
//! A zone without an offset gives the offset the zone has at that wall-clock time (the earlier one
//! when the clocks go back; none when the time falls in the gap when they go forward). An offset
//! written next to a zone is kept as written.
//!
//! [`EventStart`] prints as RFC 3339 with the offset when one is known
//! (`2027-03-04T20:15:00-08:00`, `…Z` for UTC), else as the local date-time without one
//! (`2027-03-04T20:15:00`); the zone name is carried beside it ([`EventStart::time_zone`]).

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, SecondsFormat, TimeZone,
};
use chrono_tz::Tz;
use std::fmt;

/// An event's start: the local time as written, with its offset and time zone when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStart {
    /// The wall-clock time as written.
    pub local: NaiveDateTime,
    /// The UTC offset, written or derived from [`EventStart::zone`].
    pub offset: Option<FixedOffset>,
    /// The IANA time zone, when written.
    pub zone: Option<Tz>,
}

impl EventStart {
    /// A start without offset or zone.
    pub fn local(local: NaiveDateTime) -> Self {
        Self {
            local,
            offset: None,
            zone: None,
        }
    }

    /// The instant, when the offset is known.
    pub fn instant(&self) -> Option<DateTime<FixedOffset>> {
        self.offset
            .and_then(|o| o.from_local_datetime(&self.local).single())
    }

    /// The IANA name of the time zone (`Europe/Paris`), when written.
    pub fn time_zone(&self) -> Option<&'static str> {
        self.zone.map(|z| z.name())
    }

    /// Reads a start (see the module doc for the forms); `None` when `s` is not one.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
        let rest = &s[10..];
        if rest.is_empty() {
            return Some(Self::local(date.and_hms_opt(0, 0, 0)?));
        }
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let b = rest.as_bytes();
        if b.len() < 5 || b[2] != b':' {
            return None;
        }
        let hh: u32 = two_digits(&b[0..2])?;
        let mm: u32 = two_digits(&b[3..5])?;
        let mut i = 5;
        let mut ss = 0;
        if b.get(i) == Some(&b':') {
            ss = two_digits(b.get(i + 1..i + 3)?)?;
            i += 3;
            if matches!(b.get(i), Some(b'.' | b',')) {
                i += 1;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
        }
        let local = date.and_hms_opt(hh, mm, ss)?;
        let (offset, tail) = offset(&rest[i..])?;
        let zone = zone(tail)?;
        let offset = offset.or_else(|| {
            zone.and_then(|z| match z.from_local_datetime(&local) {
                LocalResult::Single(t) => Some(t.offset().fix()),
                LocalResult::Ambiguous(early, _) => Some(early.offset().fix()),
                LocalResult::None => None,
            })
        });
        Some(Self {
            local,
            offset,
            zone,
        })
    }
}

impl fmt::Display for EventStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.instant() {
            Some(t) => f.write_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None => write!(f, "{}", self.local.format("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

impl serde::Serialize for EventStart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

/// A written offset at the start of `s` and what follows it; `None` when `s` holds something
/// that is neither an offset nor a zone.
fn offset(s: &str) -> Option<(Option<FixedOffset>, &str)> {
    let t = s.trim_start();
    if let Some(rest) = t.strip_prefix(['Z', 'z']) {
        return Some((FixedOffset::east_opt(0), rest));
    }
    for utc in ["UTC", "GMT"] {
        if let Some(rest) = t.strip_prefix(utc) {
            if !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '/') {
                return Some((FixedOffset::east_opt(0), rest));
            }
        }
    }
    let (sign, t) = if let Some(r) = t.strip_prefix('+') {
        (1, r)
    } else if let Some(r) = t.strip_prefix(['-', '\u{2212}']) {
        (-1, r)
    } else {
        return Some((None, s));
    };
    let b = t.as_bytes();
    let hh = two_digits(b.get(0..2)?)?;
    let (mm, used) = match (b.get(2), b.get(3..5)) {
        (Some(b':'), Some(m)) => (two_digits(m)?, 5),
        (Some(c), _) if c.is_ascii_digit() => (two_digits(b.get(2..4)?)?, 4),
        _ => (0, 2),
    };
    if hh > 23 || mm > 59 {
        return None;
    }
    let secs = sign * (hh * 3600 + mm * 60) as i32;
    Some((FixedOffset::east_opt(secs), &t[used..]))
}

/// A zone name in RFC 9557 brackets (an unknown one is dropped) or after whitespace (it must
/// be known); `Some(None)` when `s` holds none, `None` when `s` holds something else.
fn zone(s: &str) -> Option<Option<Tz>> {
    let t = s.trim();
    if t.is_empty() {
        return Some(None);
    }
    match t.strip_prefix('[') {
        Some(inner) => {
            // The first suffix is the zone; keys such as `[u-ca=…]` are not zones.
            let name = inner.strip_suffix(']')?.split("][").next()?;
            let name = name.trim_start_matches('!');
            Some(name.parse::<Tz>().ok().filter(|_| !name.contains('=')))
        }
        None if s.starts_with(char::is_whitespace) => t.parse::<Tz>().ok().map(Some),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        EventStart::parse(s).map_or("-".into(), |e| {
            format!("{e} {}", e.time_zone().unwrap_or("-"))
        })
    }

    #[test]
    fn offsets_are_kept() {
        assert_eq!(
            p("2027-03-04T20:15:00-08:00"),
            "2027-03-04T20:15:00-08:00 -"
        );
        assert_eq!(p("2027-03-04T20:15:00Z"), "2027-03-04T20:15:00Z -");
        assert_eq!(p("2027-03-04T20:15:00+00:00"), "2027-03-04T20:15:00Z -");
        assert_eq!(p("2027-03-04T20:15+0530"), "2027-03-04T20:15:00+05:30 -");
        assert_eq!(
            p("2027-03-04 20:15:30.250+02"),
            "2027-03-04T20:15:30+02:00 -"
        );
        assert_eq!(p("2027-03-04T20:15 UTC"), "2027-03-04T20:15:00Z -");
    }

    #[test]
    fn local_times_stay_local() {
        assert_eq!(p("2027-03-04"), "2027-03-04T00:00:00 -");
        assert_eq!(p("2027-03-04T20:15"), "2027-03-04T20:15:00 -");
        assert_eq!(p(" 2027-03-04 20:15:30 "), "2027-03-04T20:15:30 -");
    }

    #[test]
    fn zones_give_the_offset_of_that_day() {
        assert_eq!(
            p("2027-03-04T20:15[Europe/Paris]"),
            "2027-03-04T20:15:00+01:00 Europe/Paris"
        );
        assert_eq!(
            p("2027-07-04T20:15:00 Europe/Paris"),
            "2027-07-04T20:15:00+02:00 Europe/Paris"
        );
        assert_eq!(
            p("2027-07-04T20:15:00-07:00[America/Los_Angeles]"),
            "2027-07-04T20:15:00-07:00 America/Los_Angeles"
        );
        // Clocks go forward at 02:00 on 2027-03-28 in Paris: 02:30 does not exist.
        assert_eq!(
            p("2027-03-28T02:30[Europe/Paris]"),
            "2027-03-28T02:30:00 Europe/Paris"
        );
        // An unknown zone is dropped, the time kept.
        assert_eq!(p("2027-03-04T20:15[Mars/Olympus]"), "2027-03-04T20:15:00 -");
    }

    #[test]
    fn not_starts() {
        for s in [
            "March 4",
            "2027-03-04T25:00",
            "2027-03-04T20:15+24:00",
            "2027-03-04T20:15 pm",
        ] {
            assert_eq!(p(s), "-", "{s}");
        }
    }
}
