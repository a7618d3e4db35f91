//! The rules that form entries, applied in this order (an item joins the first entry that
//! claims it; reservations and bookings always anchor their own):
//!
//! 1. **Trips** (`trip.reservations`): travel reservations sorted by start are chained into a
//!    journey while each starts within 12 days of the previous one (and 21 days of the first);
//!    a flight or train back home closes the journey, and a second departure from home opens
//!    a new one. The
//!    destination is the journey's most weighted place that is not home (hotel or car city 3,
//!    flight or train destination 2, an origin away from home 1). The trip runs from the first
//!    reservation to the last (to the return when it closes), extended while posts and photos
//!    at its places follow within 36 h (at most 21 days in all).
//! 2. **Events** (`event.ticket`, `event.restaurant`): a ticket or table booking with a start
//!    (bookings with the same confirmation code, or the same venue within 2 h, are one event);
//!    its place is the venue's city (the booking's location or text), else the trip's
//!    destination at that time, else home. Posts and photos within ±6 h at that place (30 km),
//!    or naming the venue, join it.
//! 3. Trips then take the posts and photos of their dates (±12 h) located within 100 km of one
//!    of their places, or naming one of them (text or hashtag) without a location.
//! 4. **Moments** (`moment.located_day`): the remaining located posts and photos, grouped by
//!    local day and city (0.1° cell outside the gazetteer); two or more distinct ones make a
//!    moment.
//!
//! Finally each entry takes the cross-posts of its items (`duplicate_of` either way).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::{
    entry_id,
    gazetteer::{self, distance_km, CityId, Gazetteer},
    place::{Booking, Resolved, Travel},
    Entry, EntryPlace, EntryType, Home, Item, Role,
};
use crate::domain::ItemKind;

/// Longest trip.
pub const MAX_TRIP: Duration = Duration::days(21);
/// How far an incremental build must look around a change (the longest trip, and the gap
/// that chains reservations).
pub const REACH: Duration = Duration::days(33);

const HOME_KM: f64 = 80.0;
const TRIP_KM: f64 = 100.0;
const EVENT_KM: f64 = 30.0;

struct Ctx<'a> {
    user: &'a str,
    g: &'a Gazetteer,
    items: &'a [Item],
    resolved: &'a [Resolved],
    home: Option<Home>,
    /// Posts and photos, by time.
    social: Vec<usize>,
    claimed: Vec<bool>,
}

impl Ctx<'_> {
    fn is_home(&self, c: CityId) -> bool {
        let c = self.g.city(c);
        self.home
            .is_some_and(|h| distance_km((h.lat, h.lon), (c.lat, c.lon)) <= HOME_KM)
    }

    /// Posts and photos in `[from, to]`, by time.
    fn social_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> &[usize] {
        let lo = self
            .social
            .partition_point(|&i| self.items[i].occurred_at < from);
        let hi = self
            .social
            .partition_point(|&i| self.items[i].occurred_at <= to);
        &self.social[lo..hi.max(lo)]
    }

    fn anchor(&self, members: &[usize]) -> String {
        let first = members
            .iter()
            .min_by_key(|&&i| (self.items[i].occurred_at, self.items[i].id))
            .expect("an entry has members");
        self.items[*first].id.to_string()
    }

    /// Places named by an unlocated item (text and hashtags).
    fn named(&self, i: usize) -> Vec<CityId> {
        let item = &self.items[i];
        let mut out = self.g.scan(&item.text);
        for h in &item.hashtags {
            out.extend(self.g.scan(&format!("#{h}")));
        }
        out
    }
}

struct TripDraft {
    members: Vec<usize>,
    places: Vec<CityId>,
    dest: CityId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    closed: bool,
    flights: bool,
    hotel: bool,
}

/// Applies the rules; entries in no particular order.
pub fn apply(
    user: &str,
    g: &Gazetteer,
    items: &[Item],
    resolved: &[Resolved],
    home: Option<Home>,
) -> Vec<Entry> {
    let mut social: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(items[i].kind, ItemKind::Post | ItemKind::Media))
        .collect();
    social.sort_by_key(|&i| (items[i].occurred_at, items[i].id));
    let mut cx = Ctx {
        user,
        g,
        items,
        resolved,
        home,
        social,
        claimed: vec![false; items.len()],
    };
    let mut trips = trip_drafts(&cx);
    for t in &trips {
        for &m in &t.members {
            cx.claimed[m] = true;
        }
    }
    let mut entries = events(&mut cx, &trips);
    for t in &mut trips {
        join_trip(&mut cx, t);
    }
    entries.extend(trips.iter().map(|t| trip_entry(&cx, t)));
    entries.extend(moments(&mut cx));
    cross_posts(&mut cx, &mut entries);
    entries
}

fn trip_drafts(cx: &Ctx) -> Vec<TripDraft> {
    let (items, resolved) = (cx.items, cx.resolved);
    let mut res: Vec<usize> = (0..items.len())
        .filter(|&i| resolved[i].reservation.is_some())
        .collect();
    res.sort_by_key(|&i| {
        let r = resolved[i].reservation.as_ref().expect("filtered");
        (r.start, items[i].id)
    });
    // Journeys: (members, closed, left home).
    let mut journeys: Vec<(Vec<usize>, bool, bool)> = Vec::new();
    for i in res {
        let r = resolved[i].reservation.as_ref().expect("filtered");
        let moves = matches!(r.travel, Travel::Flight | Travel::Train);
        let leaves_home = moves && r.from.is_some_and(|c| cx.is_home(c));
        let start_new = match journeys.last() {
            None => true,
            Some((members, closed, left)) => {
                let last = members
                    .last()
                    .and_then(|&m| resolved[m].reservation.as_ref())
                    .map(|r| r.start)
                    .expect("a journey has members");
                let first = members
                    .first()
                    .and_then(|&m| resolved[m].reservation.as_ref())
                    .map(|r| r.start)
                    .expect("a journey has members");
                *closed
                    || r.start - last > Duration::days(12)
                    || r.start - first > MAX_TRIP
                    || (leaves_home && *left)
            }
        };
        if start_new {
            journeys.push((Vec::new(), false, false));
        }
        let j = journeys.last_mut().expect("pushed");
        j.0.push(i);
        j.2 |= leaves_home;
        if moves && r.to.is_some_and(|c| cx.is_home(c)) {
            j.1 = true;
        }
    }
    let mut out = Vec::new();
    for (members, closed, _) in journeys {
        let mut weights: Vec<(CityId, u32)> = Vec::new();
        let mut add = |c: Option<CityId>, w: u32| {
            let Some(c) = c.filter(|c| !cx.is_home(*c)) else {
                return;
            };
            match weights.iter_mut().find(|(k, _)| *k == c) {
                Some(e) => e.1 += w,
                None => weights.push((c, w)),
            }
        };
        let (mut flights, mut hotel) = (false, false);
        for &m in &members {
            let r = resolved[m].reservation.as_ref().expect("reservation");
            match r.travel {
                Travel::Flight | Travel::Train => {
                    flights = true;
                    add(r.to, 2);
                    add(r.from, 1);
                }
                Travel::Hotel | Travel::Car => {
                    hotel |= r.travel == Travel::Hotel;
                    add(r.to, 3);
                }
            }
        }
        let Some(&(dest, _)) = weights
            .iter()
            .fold(None, |best: Option<&(CityId, u32)>, e| match best {
                Some(b) if b.1 >= e.1 => Some(b),
                _ => Some(e),
            })
        else {
            continue; // nowhere away from home
        };
        let starts: Vec<DateTime<Utc>> = members
            .iter()
            .map(|&m| resolved[m].reservation.as_ref().expect("reservation").start)
            .collect();
        let start = *starts.iter().min().expect("members");
        let end = *starts.iter().max().expect("members");
        out.push(TripDraft {
            members,
            places: weights.iter().map(|(c, _)| *c).collect(),
            dest,
            start,
            end,
            closed,
            flights,
            hotel,
        });
    }
    // An open trip runs on while its places keep showing up.
    for t in &mut out {
        if t.closed {
            continue;
        }
        let limit = t.start + MAX_TRIP;
        loop {
            let next = cx
                .social_between(t.end, (t.end + Duration::hours(36)).min(limit))
                .iter()
                .rev()
                .copied()
                .find(|&i| at_places(cx, i, &t.places));
            match next {
                Some(i) if cx.items[i].occurred_at > t.end => t.end = cx.items[i].occurred_at,
                _ => break,
            }
        }
        if t.end == t.start {
            t.end = t.start + Duration::hours(12);
        }
    }
    out
}

fn at_places(cx: &Ctx, i: usize, places: &[CityId]) -> bool {
    let Some(p) = &cx.resolved[i].point else {
        return false;
    };
    places.iter().any(|&c| {
        p.city == Some(c) || {
            let c = cx.g.city(c);
            distance_km((p.lat, p.lon), (c.lat, c.lon)) <= TRIP_KM
        }
    })
}

fn join_trip(cx: &mut Ctx, t: &mut TripDraft) {
    let from = t.start - Duration::hours(12);
    let to = t.end + Duration::hours(12);
    let candidates: Vec<usize> = cx.social_between(from, to).to_vec();
    for i in candidates {
        if cx.claimed[i] {
            continue;
        }
        let joins = match &cx.resolved[i].point {
            Some(_) => at_places(cx, i, &t.places),
            None => cx.named(i).iter().any(|c| t.places.contains(c)),
        };
        if joins {
            cx.claimed[i] = true;
            t.members.push(i);
        }
    }
}

fn trip_entry(cx: &Ctx, t: &TripDraft) -> Entry {
    let g = cx.g;
    let dest = g.city(t.dest);
    let others: Vec<&str> = t
        .places
        .iter()
        .filter(|&&c| c != t.dest)
        .map(|&c| g.city(c).name)
        .filter(|n| *n != dest.name)
        .take(1)
        .collect();
    let title = match others.first() {
        Some(o) => format!("Trip to {} and {o}", dest.name),
        None => format!("Trip to {}", dest.name),
    };
    let joined = t
        .members
        .iter()
        .any(|&m| cx.resolved[m].reservation.is_none());
    let confidence = 0.5
        + if t.flights { 0.15 } else { 0.0 }
        + if t.hotel { 0.15 } else { 0.0 }
        + if joined { 0.1 } else { 0.0 }
        + if t.closed { 0.05 } else { 0.0 };
    let end = t
        .members
        .iter()
        .map(|&m| cx.items[m].occurred_at)
        .filter(|at| *at >= t.start && *at <= t.start + MAX_TRIP)
        .max()
        .map_or(t.end, |last| last.max(t.end));
    Entry {
        id: entry_id(cx.user, "trip", &cx.anchor(&t.members)),
        entry_type: EntryType::Trip,
        title,
        start: t.start,
        end,
        place: Some(EntryPlace {
            name: dest.name.to_string(),
            lat: Some(dest.lat),
            lon: Some(dest.lon),
        }),
        items: roles(cx, &t.members),
        confidence: (confidence as f32).min(0.95),
        rule: "trip.reservations",
    }
}

fn roles(cx: &Ctx, members: &[usize]) -> Vec<(uuid::Uuid, Role)> {
    let mut out: Vec<(uuid::Uuid, Role)> = members
        .iter()
        .map(|&m| {
            let r = &cx.resolved[m];
            let role = if r.reservation.is_some() || r.booking.is_some() {
                Role::Reservation
            } else {
                Role::of(cx.items[m].kind)
            };
            (cx.items[m].id, role)
        })
        .collect();
    out.sort();
    out.dedup_by_key(|(id, _)| *id);
    out
}

fn events(cx: &mut Ctx, trips: &[TripDraft]) -> Vec<Entry> {
    let (items, resolved, g) = (cx.items, cx.resolved, cx.g);
    let mut bookings: Vec<usize> = (0..items.len())
        .filter(|&i| resolved[i].booking.is_some())
        .collect();
    bookings.sort_by_key(|&i| {
        (
            resolved[i].booking.as_ref().expect("filtered").start,
            items[i].id,
        )
    });
    // Groups of bookings that are one event.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in bookings {
        let b = resolved[i].booking.as_ref().expect("filtered");
        let same = groups.iter_mut().rev().take(8).find(|grp| {
            let first = resolved[grp[0]].booking.as_ref().expect("booking");
            (b.code.is_some() && first.code == b.code)
                || (b.venue.is_some()
                    && b.venue.as_deref().map(gazetteer::fold)
                        == first.venue.as_deref().map(gazetteer::fold)
                    && (b.start - first.start).abs() <= Duration::hours(2))
        });
        match same {
            Some(grp) => grp.push(i),
            None => groups.push(vec![i]),
        }
    }
    let mut out = Vec::new();
    for mut members in groups {
        let first = resolved[members[0]].booking.clone().expect("booking");
        let mut start = first.start;
        let zoned = members
            .iter()
            .any(|&m| resolved[m].booking.as_ref().is_some_and(|b| b.zoned));
        let venue = members
            .iter()
            .find_map(|&m| resolved[m].booking.as_ref().and_then(|b| b.venue.clone()));
        let city = members
            .iter()
            .find_map(|&m| resolved[m].booking.as_ref().and_then(|b| b.city))
            .or_else(|| {
                trips
                    .iter()
                    .find(|t| start >= t.start - Duration::hours(12) && start <= t.end)
                    .map(|t| t.dest)
            });
        if first.unplaced {
            // Local time where it happens: the trip's destination, else home.
            let offset = match city {
                Some(c) => g.city(c).offset_min,
                None => cx.home.map_or(0, |h| home_offset(g, h)),
            };
            start -= Duration::minutes(i64::from(offset));
        }
        let coords = match city {
            Some(c) => Some((g.city(c).lat, g.city(c).lon)),
            None => cx.home.map(|h| (h.lat, h.lon)),
        };
        let venue_folded = venue.as_deref().map(gazetteer::fold);
        let mut last = start;
        let candidates: Vec<usize> = cx
            .social_between(start - Duration::hours(6), start + Duration::hours(6))
            .to_vec();
        for i in candidates {
            if cx.claimed[i] {
                continue;
            }
            let names_venue = |s: &str| {
                venue_folded
                    .as_deref()
                    .is_some_and(|v| v.len() >= 4 && gazetteer::fold(s).contains(v))
            };
            let joins = match &resolved[i].point {
                Some(p) => {
                    coords.is_some_and(|c| distance_km(c, (p.lat, p.lon)) <= EVENT_KM)
                        || p.name.as_deref().is_some_and(names_venue)
                }
                None => names_venue(&items[i].text),
            };
            if joins {
                cx.claimed[i] = true;
                last = last.max(items[i].occurred_at);
                members.push(i);
            }
        }
        for &m in &members {
            cx.claimed[m] = true;
        }
        let (rule, what) = match first.booking {
            Booking::Ticket => ("event.ticket", "Event"),
            Booking::Restaurant => ("event.restaurant", "Meal"),
        };
        let city_name = city.map(|c| g.city(c).name);
        let title = match (&venue, city_name) {
            (Some(v), _) => format!("{what} at {v}"),
            (None, Some(c)) => format!("{what} in {c}"),
            (None, None) => what.to_string(),
        };
        let place_name = venue.clone().or(city_name.map(String::from));
        let joined = members.iter().any(|&m| resolved[m].booking.is_none());
        let confidence = 0.7
            + if venue.is_some() { 0.1 } else { 0.0 }
            + if zoned { 0.05 } else { 0.0 }
            + if joined { 0.1 } else { 0.0 };
        out.push(Entry {
            id: entry_id(cx.user, "event", &cx.anchor(&members)),
            entry_type: EntryType::Event,
            title,
            start,
            end: last.max(start + Duration::hours(2)),
            place: place_name.map(|name| EntryPlace {
                name,
                lat: coords.map(|c| c.0),
                lon: coords.map(|c| c.1),
            }),
            items: roles(cx, &members),
            confidence: (confidence as f32).min(0.95),
            rule,
        });
    }
    out
}

/// Home's standard UTC offset, minutes: its city's, else from its longitude.
fn home_offset(g: &Gazetteer, h: Home) -> i32 {
    g.nearest(h.lat, h.lon, 150.0)
        .map_or(((h.lon / 15.0).round() * 60.0) as i32, |c| {
            g.city(c).offset_min
        })
}

fn moments(cx: &mut Ctx) -> Vec<Entry> {
    let (items, resolved, g) = (cx.items, cx.resolved, cx.g);
    // (local day, place key) → members
    let mut days: BTreeMap<(chrono::NaiveDate, i64, i64), Vec<usize>> = BTreeMap::new();
    for &i in &cx.social {
        if cx.claimed[i] {
            continue;
        }
        let Some(p) = &resolved[i].point else {
            continue;
        };
        let (offset, key) = match p.city {
            Some(c) => (g.city(c).offset_min, (i64::MIN, c as i64)),
            None => (
                ((p.lon / 15.0).round() * 60.0) as i32,
                ((p.lat * 10.0).round() as i64, (p.lon * 10.0).round() as i64),
            ),
        };
        let local = (items[i].occurred_at + Duration::minutes(i64::from(offset))).date_naive();
        days.entry((local, key.0, key.1)).or_default().push(i);
    }
    let mut out = Vec::new();
    for ((day, k0, k1), members) in days {
        // Cross-posts of one another count once.
        let ids: HashSet<uuid::Uuid> = members.iter().map(|&m| items[m].id).collect();
        let distinct = members
            .iter()
            .filter(|&&m| !items[m].duplicate_of.is_some_and(|d| ids.contains(&d)))
            .count();
        if distinct < 2 {
            continue;
        }
        for &m in &members {
            cx.claimed[m] = true;
        }
        let first = resolved[members[0]].point.as_ref().expect("located");
        let (name, lat, lon, title) = match first.city {
            Some(c) => {
                let c = g.city(c);
                (
                    c.name.to_string(),
                    c.lat,
                    c.lon,
                    format!("Day in {}", c.name),
                )
            }
            None => {
                let n = members.len() as f64;
                let lat = members
                    .iter()
                    .filter_map(|&m| resolved[m].point.as_ref().map(|p| p.lat))
                    .sum::<f64>()
                    / n;
                let lon = members
                    .iter()
                    .filter_map(|&m| resolved[m].point.as_ref().map(|p| p.lon))
                    .sum::<f64>()
                    / n;
                let name = first
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{lat:.2}, {lon:.2}"));
                (name, lat, lon, "Day out".to_string())
            }
        };
        let start = items[members[0]].occurred_at;
        let end = items[*members.last().expect("members")].occurred_at;
        out.push(Entry {
            id: entry_id(cx.user, "moment", &format!("{day}|{k0}|{k1}")),
            entry_type: EntryType::Moment,
            title,
            start,
            end,
            place: Some(EntryPlace {
                name,
                lat: Some(lat),
                lon: Some(lon),
            }),
            items: roles(cx, &members),
            confidence: (0.5 + 0.05 * distinct.min(6) as f32).min(0.8),
            rule: "moment.located_day",
        });
    }
    out
}

fn cross_posts(cx: &mut Ctx, entries: &mut [Entry]) {
    let index: HashMap<uuid::Uuid, usize> = cx
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| (item.id, i))
        .collect();
    // original → its copies
    let mut copies: HashMap<uuid::Uuid, Vec<usize>> = HashMap::new();
    for (i, item) in cx.items.iter().enumerate() {
        if let Some(d) = item.duplicate_of {
            copies.entry(d).or_default().push(i);
        }
    }
    if copies.is_empty() {
        return;
    }
    for e in entries {
        let mut add = Vec::new();
        for (id, _) in &e.items {
            if let Some(c) = copies.get(id) {
                add.extend(c.iter().copied());
            }
            if let Some(orig) = index.get(id).and_then(|&i| cx.items[i].duplicate_of) {
                if let Some(&o) = index.get(&orig) {
                    add.push(o);
                }
            }
        }
        let mut changed = false;
        for i in add {
            if !cx.claimed[i] {
                cx.claimed[i] = true;
                e.items.push((cx.items[i].id, Role::of(cx.items[i].kind)));
                changed = true;
            }
        }
        if changed {
            e.items.sort();
            e.items.dedup_by_key(|(id, _)| *id);
        }
    }
}
