//! When providers' quotas reset, for throttles that name no time: Gmail's daily quota at the
//! next midnight US Pacific time ([`next_pacific_midnight`], DST-aware by the US rule, no time
//! zone database), X's monthly usage cap at the start of the next month UTC
//! ([`next_month_utc`]). Pure functions of `now`, so they are tested at the DST edges.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// The `n`-th `weekday` of `month` in `year` (n ≥ 1).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
        .expect("every month has a first and second Sunday")
}

/// US daylight saving time (since 2007): from the second Sunday of March to the first Sunday
/// of November, switching at 02:00 local time. Whether Pacific local midnight of `d` is in it.
fn pacific_midnight_is_dst(d: NaiveDate) -> bool {
    let start = nth_weekday(d.year(), 3, Weekday::Sun, 2);
    let end = nth_weekday(d.year(), 11, Weekday::Sun, 1);
    // At 00:00 of the start Sunday standard time still holds; at 00:00 of the end Sunday
    // daylight time still holds (both switches happen at 02:00).
    d > start && d <= end
}

/// The UTC instant of 00:00 Pacific time on `d`.
fn pacific_midnight(d: NaiveDate) -> DateTime<Utc> {
    let offset_h = if pacific_midnight_is_dst(d) { 7 } else { 8 };
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        + Duration::hours(offset_h)
}

/// The first midnight US Pacific time (America/Los_Angeles) strictly after `now`.
pub fn next_pacific_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    // Pacific local date of `now`: the UTC date or the one before.
    let d = now.date_naive();
    for candidate in [d.pred_opt().unwrap_or(d), d, d.succ_opt().unwrap_or(d)] {
        let m = pacific_midnight(candidate);
        if m > now {
            return m;
        }
    }
    pacific_midnight(d + Duration::days(2))
}

/// 00:00 UTC on the first day of the month after `now`'s.
pub fn next_month_utc(now: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists")
}

/// `until - now` as a std duration, at least one second.
pub fn wait_until(now: DateTime<Utc>, until: DateTime<Utc>) -> std::time::Duration {
    (until - now)
        .to_std()
        .unwrap_or_default()
        .max(std::time::Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn pacific_midnight_follows_us_dst() {
        // Winter (PST, UTC-8): midnight is 08:00 UTC.
        assert_eq!(
            next_pacific_midnight(at("2026-12-06T20:00:00Z")),
            at("2026-12-07T08:00:00Z")
        );
        // 07:59 UTC is still the previous Pacific day.
        assert_eq!(
            next_pacific_midnight(at("2026-12-07T07:59:00Z")),
            at("2026-12-07T08:00:00Z")
        );
        // Summer (PDT, UTC-7): 07:00 UTC.
        assert_eq!(
            next_pacific_midnight(at("2026-07-01T12:00:00Z")),
            at("2026-07-02T07:00:00Z")
        );
        // 2026: DST starts Sunday 8 March, ends Sunday 1 November.
        assert_eq!(
            next_pacific_midnight(at("2026-03-08T01:00:00Z")), // Sat 7 Mar 17:00 PST
            at("2026-03-08T08:00:00Z")                         // Sun 8 Mar 00:00 PST
        );
        assert_eq!(
            next_pacific_midnight(at("2026-03-08T12:00:00Z")), // Sun 8 Mar 05:00 PDT
            at("2026-03-09T07:00:00Z")                         // Mon 9 Mar 00:00 PDT
        );
        assert_eq!(
            next_pacific_midnight(at("2026-10-31T12:00:00Z")), // Sat 31 Oct 05:00 PDT
            at("2026-11-01T07:00:00Z")                         // Sun 1 Nov 00:00 PDT
        );
        assert_eq!(
            next_pacific_midnight(at("2026-11-01T12:00:00Z")), // Sun 1 Nov 04:00 PST
            at("2026-11-02T08:00:00Z")                         // Mon 2 Nov 00:00 PST
        );
        // Exactly at midnight: the next one.
        assert_eq!(
            next_pacific_midnight(at("2026-12-07T08:00:00Z")),
            at("2026-12-08T08:00:00Z")
        );
    }

    #[test]
    fn next_month_rolls_the_year() {
        assert_eq!(
            next_month_utc(at("2026-12-06T20:00:00Z")),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            next_month_utc(at("2026-02-28T23:59:59Z")),
            at("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            wait_until(at("2026-02-28T23:59:59Z"), at("2026-03-01T00:00:00Z")),
            std::time::Duration::from_secs(1)
        );
    }
}
