//! Keyset pages (items, timeline): a cursor is the base64url of `<RFC 3339 time>|<id>`, the
//! last row's key; a page is read with one row more than asked, which says whether a next
//! page exists.

use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::ApiError;

/// A row's key: its time and its id.
pub type Key = (DateTime<Utc>, Uuid);

fn encode(at: DateTime<Utc>, id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}|{id}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    ))
}

fn decode(c: &str) -> Option<Key> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (at, id) = text.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        id.parse().ok()?,
    ))
}

/// The `cursor` parameter: the key to read after, None from the start; a cursor this service
/// did not issue is 400 `invalid_cursor`.
pub fn after(cursor: Option<&str>) -> poem::Result<Option<Key>> {
    cursor
        .map(|c| {
            decode(c).ok_or_else(|| {
                ApiError::BadRequest("invalid_cursor", "malformed cursor".into()).into()
            })
        })
        .transpose()
}

/// The page of `limit` rows out of the `limit + 1` read, and the cursor of the next page
/// (None on the last one).
pub fn page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Key) -> (Vec<T>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next = more
        .then(|| {
            rows.last().map(|r| {
                let (at, id) = key(r);
                encode(at, id)
            })
        })
        .flatten();
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_pages_say_whether_more_follow() {
        let key = (Utc::now(), Uuid::new_v4());
        let (rows, next) = page(vec![key, key, key], 2, |k| *k);
        assert_eq!(rows.len(), 2);
        let back = after(next.as_deref()).ok().flatten().unwrap();
        assert_eq!(back.1, key.1);
        assert_eq!(back.0.timestamp_micros(), key.0.timestamp_micros());
        let (rows, next) = page(vec![key], 2, |k| *k);
        assert_eq!((rows.len(), next), (1, None));
        assert!(after(Some("not-a-cursor")).is_err());
        assert_eq!(after(None).ok().flatten(), None);
    }
}
