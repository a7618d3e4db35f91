//! The newest-first walk, written once: a feed listed newest first (Instagram's media,
//! Facebook's and LinkedIn's posts, Twitter's timeline) is paged until the stored watermark (an
//! incremental run) or its end (a full run). The run remembers its newest entry in its page
//! state (`"newest"`), which becomes the cursor on its last page; a full run's last page is a
//! reconciliation — of everything, or, for a feed that lists only its most recent entries
//! ([`Capped`]: Twitter's 3,200 posts, Instagram's 10,000 media), from the oldest listed entry
//! on.
//!
//! A provider brings its watermark type ([`Watermark`]: how the run's newest moves and where
//! the walk stops) and its paging; [`walk`] cuts a page at the watermark, [`Capped`] counts a
//! capped listing, [`page`] builds the run's next or last page.

use chrono::{DateTime, Utc};
use lifesync_jobs::payloads::SyncMode;
use serde_json::Value;

use super::{Page, ProviderError, RawItem, Reconcile};

/// A position in a newest-first listing.
pub trait Watermark: Sized {
    /// The run's newest position once `seen` is listed after `run` (the run's newest so far).
    /// By default the first seen: the listing is newest first.
    fn newest(run: Option<Self>, seen: Self) -> Self {
        run.unwrap_or(seen)
    }
    /// Whether this entry is the stored watermark `stop` or older: the walk ends before it.
    fn reached(&self, stop: &Self) -> bool;
}

/// An entry's time and id (Meta's media and posts): the watermark's own entry, or anything
/// older, ends the walk.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeMark {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl Watermark for TimeMark {
    fn reached(&self, stop: &Self) -> bool {
        self.id == stop.id || self.at < stop.at
    }
}

/// One page of a walk.
pub struct Walked<E, M> {
    /// The entries before the watermark, each with its position.
    pub kept: Vec<(E, M)>,
    /// The run's newest position so far.
    pub newest: Option<M>,
    /// The walk met the watermark on this page: it ends here, whatever the paging says.
    pub reached: bool,
}

/// Walks one page of `entries` (newest first) down to `stop`; `newest` is the run's newest
/// position from its page state, `mark` an entry's position.
pub fn walk<E, M: Watermark + Clone>(
    entries: Vec<E>,
    stop: Option<&M>,
    newest: Option<M>,
    mut mark: impl FnMut(&E) -> Result<M, ProviderError>,
) -> Result<Walked<E, M>, ProviderError> {
    let mut out = Walked {
        kept: Vec::with_capacity(entries.len()),
        newest,
        reached: false,
    };
    for e in entries {
        let m = mark(&e)?;
        out.newest = Some(M::newest(out.newest.take(), m.clone()));
        if stop.is_some_and(|s| m.reached(s)) {
            out.reached = true;
            break;
        }
        out.kept.push((e, m));
    }
    Ok(out)
}

/// The watermark an incremental run stops at (None: a full run walks to the end).
pub fn stop_at<M>(
    mode: SyncMode,
    cursor: Option<&Value>,
    parse: impl Fn(&Value) -> Option<M>,
) -> Option<M> {
    match mode {
        SyncMode::Incremental => cursor.and_then(parse),
        SyncMode::Full => None,
    }
}

/// A capped listing's count: how many entries the run listed and the oldest one's time, kept in
/// the page state (`"listed"`, `"oldest"`).
#[derive(Debug, Clone, Copy)]
pub struct Capped {
    pub listed: u64,
    pub oldest: Option<DateTime<Utc>>,
}

impl Capped {
    /// The count after this page's `items`, from the run's page state.
    pub fn after(page: Option<&Value>, items: &[RawItem]) -> Self {
        let listed = page
            .and_then(|p| p.get("listed"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + items.len() as u64;
        let oldest = items.iter().map(|i| i.occurred_at).min().or_else(|| {
            page.and_then(|p| p.get("oldest"))
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        });
        Self { listed, oldest }
    }

    /// Adds `"listed"` and `"oldest"` to a page state.
    pub fn into_state(self, mut state: Value) -> Value {
        state["listed"] = self.listed.into();
        state["oldest"] = self.oldest.map(|o| o.to_rfc3339()).into();
        state
    }

    /// What a full run's walk covered: everything, or, when it listed `cap` entries (the most
    /// the feed lists), only the entries from the oldest listed one on.
    pub fn reconcile(self, cap: u64) -> Reconcile {
        match self.oldest {
            Some(o) if self.listed >= cap => Reconcile::Since(o),
            _ => Reconcile::All,
        }
    }
}

/// The walk's page: with `next` (the page state), more follow; without, it is the run's last,
/// storing `cursor`, and a full run's last page reconciles (`reconcile`).
pub fn page(
    mode: SyncMode,
    items: Vec<RawItem>,
    next: Option<Value>,
    cursor: Option<Value>,
    reconcile: Reconcile,
) -> Page {
    match next {
        Some(n) => Page {
            items,
            next: Some(n),
            ..Page::default()
        },
        None => Page {
            items,
            cursor,
            reconcile: (mode == SyncMode::Full).then_some(reconcile),
            ..Page::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Modified(i64);

    impl Watermark for Modified {
        fn newest(run: Option<Self>, seen: Self) -> Self {
            Self(run.map_or(seen.0, |r| r.0.max(seen.0)))
        }
        fn reached(&self, stop: &Self) -> bool {
            self.0 <= stop.0
        }
    }

    #[test]
    fn a_walk_stops_at_the_watermark_and_keeps_the_runs_newest() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let mark = |(s, id): &(i64, &str)| {
            Ok(TimeMark {
                at: at(*s),
                id: id.to_string(),
            })
        };
        let stop = TimeMark {
            at: at(10),
            id: "b".into(),
        };
        let w = walk(
            vec![(30, "d"), (20, "c"), (10, "b"), (5, "a")],
            Some(&stop),
            None,
            mark,
        )
        .unwrap();
        assert!(w.reached);
        assert_eq!(w.kept.len(), 2);
        assert_eq!(w.newest.unwrap().id, "d");
        // A later page keeps the run's newest from its first.
        let first = TimeMark {
            at: at(40),
            id: "e".into(),
        };
        let w = walk(vec![(30, "d")], None, Some(first.clone()), mark).unwrap();
        assert!(!w.reached);
        assert_eq!(w.newest, Some(first));
        // A watermark that moves to the highest seen.
        let w = walk(vec![7, 9, 5, 2], Some(&Modified(4)), None, |m: &i64| {
            Ok(Modified(*m))
        })
        .unwrap();
        assert_eq!(
            (w.kept.len(), w.newest, w.reached),
            (3, Some(Modified(9)), true)
        );
    }
}
