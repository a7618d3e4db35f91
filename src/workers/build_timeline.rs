//! `BuildTimeline`: brings one user's timeline up to date with their items, in one
//! transaction under the user's build lock.
//!
//! - Nothing changed since the last build (the user's item change number is the one built
//!   from, no entry marked dirty): nothing to do.
//! - First build, or more than [`FULL_ABOVE`] changes: a **full** build — every live item,
//!   home found again, every entry replaced.
//! - Otherwise **incremental**: the window around what changed (each changed item's time and
//!   event start, the spans of the entries holding one or marked dirty, ± the builder's
//!   `REACH`) is rebuilt from the items of that window widened by `REACH` again (and every
//!   event item, wherever its mail is), with the stored home; the entries starting in the
//!   window (and the dirty ones) are replaced, the others kept.
//!
//! Either way the result is what a full build would give for entries shorter than the reach.
//! A sync that commits while a build runs is picked up by the loop at the end (the job's
//! unique key lets no second build queue meanwhile).

use apalis_core::task::data::Data;
use chrono::{DateTime, Duration, Utc};
use lifesync_jobs::{payloads::BuildTimeline, JobError};
use lifesync_normalizer::start::EventStart;

use super::SharedDeps;
use crate::{
    db::timeline as db,
    domain::ItemKind,
    timeline::{self, rules::REACH, Home},
};

/// More changes than this rebuild everything.
pub const FULL_ABOVE: i64 = 5_000;

/// What one build did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// None: nothing had changed.
    pub full: Option<bool>,
    pub items_read: usize,
    pub entries_written: u64,
}

/// The job handler.
pub async fn handle(job: BuildTimeline, deps: Data<SharedDeps>) -> Result<(), JobError> {
    // A sync that committed during the build is built by the next pass (bounded).
    for _ in 0..3 {
        let outcome = build_user(&deps.pool, &job.user_id, false)
            .await
            .map_err(|e| JobError::retryable(format!("timeline build: {e}")))?;
        tracing::debug!(?outcome, "timeline built");
        if outcome.full.is_none()
            || !db::needs_build(&deps.pool, &job.user_id)
                .await
                .map_err(|e| JobError::retryable(format!("timeline build: {e}")))?
        {
            break;
        }
    }
    Ok(())
}

/// Brings `user_id`'s timeline up to date (`force_full`: rebuild everything).
pub async fn build_user(
    pool: &sqlx::PgPool,
    user_id: &str,
    force_full: bool,
) -> sqlx::Result<Outcome> {
    let mut tx = db::begin_build(pool, user_id).await?;
    let seq = db::current_seq(&mut tx, user_id).await?;
    let state = db::state(&mut tx, user_id).await?;
    let (window, home) = match (&state, force_full) {
        (Some(s), false) => {
            let changed = db::changed_since(&mut tx, user_id, s.built_seq, FULL_ABOVE + 1).await?;
            if changed.is_empty() && s.built_seq == seq {
                return Ok(Outcome {
                    full: None,
                    items_read: 0,
                    entries_written: 0,
                });
            }
            let home = match (s.home_lat, s.home_lon) {
                (Some(lat), Some(lon)) => Some(Home { lat, lon }),
                _ => None,
            };
            match span(&changed) {
                Some(w) if changed.len() as i64 <= FULL_ABOVE && home.is_some() => (Some(w), home),
                // Only tombstones without entries, or nothing datable: nothing to rebuild.
                None if changed.is_empty() => (Some((Utc::now(), Utc::now())), home),
                _ => (None, None),
            }
        }
        _ => (None, None),
    };
    let load = window.map(|(from, to)| (from - REACH, to + REACH));
    let rows = db::load_items(&mut tx, user_id, load).await?;
    let items: Vec<timeline::Item> = rows.into_iter().filter_map(item).collect();
    let built = timeline::build(user_id, &items, home);
    let entries: Vec<db::NewEntry> = built
        .entries
        .iter()
        .filter(|e| window.is_none_or(|(from, to)| e.start >= from && e.start < to))
        .map(|e| db::NewEntry {
            id: e.id,
            entry_type: e.entry_type.as_str(),
            title: e.title.clone(),
            start: e.start,
            end: e.end,
            place_name: e.place.as_ref().map(|p| p.name.clone()),
            place_lat: e.place.as_ref().and_then(|p| p.lat),
            place_lon: e.place.as_ref().and_then(|p| p.lon),
            confidence: e.confidence,
            rule: e.rule,
            items: e.items.iter().map(|(id, r)| (*id, r.as_str())).collect(),
        })
        .collect();
    let home = built.home.map(|h| (h.lat, h.lon));
    let (_, written) = db::replace(&mut tx, user_id, window, &entries, seq, home).await?;
    tx.commit().await?;
    Ok(Outcome {
        full: Some(window.is_none()),
        items_read: items.len(),
        entries_written: written,
    })
}

/// The window around the changed times (± the reach), or None when none is datable.
fn span(changed: &[(DateTime<Utc>, Option<String>)]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let times = changed.iter().flat_map(|(at, start)| {
        let start = start
            .as_deref()
            .and_then(EventStart::parse)
            .map(|s| s.local.and_utc());
        std::iter::once(*at).chain(start)
    });
    let (mut lo, mut hi): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    for t in times {
        lo = Some(lo.map_or(t, |l| l.min(t)));
        hi = Some(hi.map_or(t, |h| h.max(t)));
    }
    Some((
        lo? - REACH - Duration::days(1),
        hi? + REACH + Duration::days(1),
    ))
}

/// A stored item as the builder reads it.
pub fn item(r: db::TimelineItemRow) -> Option<timeline::Item> {
    Some(timeline::Item {
        id: r.id,
        kind: ItemKind::parse(&r.kind)?,
        occurred_at: r.occurred_at,
        text: r.text,
        hashtags: r.hashtags,
        category: r.category,
        event: r.event,
        location: r.location,
        duplicate_of: r.duplicate_of,
    })
}
