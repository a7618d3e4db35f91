//! The life timeline, built from one user's normalized items: **trips** (travel reservations
//! joined with what was posted at the destination meanwhile), **events** (tickets and
//! restaurant bookings joined with what was posted there ±6 h) and **moments** (located posts
//! and media in one place on one day, outside trips and events). Pure: no I/O, no clock — the
//! same items always give the same entries, under the same ids.
//!
//! - [`gazetteer`]: the embedded cities and airports (names in several languages, IATA codes),
//!   so `Lisboa`, `LIS` and a coordinate in Lisbon are one place;
//! - [`place`]: where an item is (its location, a reservation's airport, hotel or venue);
//! - [`home`]: the home place — where most located items outside travel are; never a
//!   destination;
//! - [`rules`]: the three rules, in order events → trips → moments for the items they claim.
//!
//! Every entry names the rule that formed it and a confidence in 0–1. Its id is derived from
//! the user, the rule and its anchor (a trip's first reservation, an event's ticket, a
//! moment's day and place), so rebuilding keeps ids. Titles are made only of gazetteer names,
//! venue names from reservation markup and fixed words — never item text.

pub mod gazetteer;
pub mod home;
pub mod place;
pub mod rules;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::ItemKind;

/// An item as the timeline reads it (a stored, normalized item).
#[derive(Debug, Clone)]
pub struct Item {
    pub id: Uuid,
    pub kind: ItemKind,
    pub occurred_at: DateTime<Utc>,
    /// Sanitized text (emails: subject — snippet).
    pub text: String,
    pub hashtags: Vec<String>,
    /// Emails' category (`TRAVEL_FLIGHT`, …).
    pub category: Option<String>,
    /// The normalizer's event: `{type, start, time_zone, location, confirmation_code}`.
    pub event: Option<serde_json::Value>,
    /// `{name, lat, lon}`, any part null.
    pub location: Option<serde_json::Value>,
    pub duplicate_of: Option<Uuid>,
}

/// The three kinds of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryType {
    Trip,
    Event,
    Moment,
}

impl EntryType {
    pub const ALL: [EntryType; 3] = [Self::Trip, Self::Event, Self::Moment];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trip => "trip",
            Self::Event => "event",
            Self::Moment => "moment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What an item is to its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Reservation,
    Photo,
    Post,
    Email,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reservation => "reservation",
            Self::Photo => "photo",
            Self::Post => "post",
            Self::Email => "email",
        }
    }

    /// The role of an item that is not a reservation.
    pub fn of(kind: ItemKind) -> Self {
        match kind {
            ItemKind::Media => Self::Photo,
            ItemKind::Post => Self::Post,
            ItemKind::Email => Self::Email,
        }
    }
}

/// A named place with coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryPlace {
    pub name: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: Uuid,
    pub entry_type: EntryType,
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub place: Option<EntryPlace>,
    /// Sorted by item id.
    pub items: Vec<(Uuid, Role)>,
    pub confidence: f32,
    /// The rule that formed it (`trip.reservations`, `event.ticket`, `event.restaurant`,
    /// `moment.located_day`).
    pub rule: &'static str,
}

/// Home, as a coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Home {
    pub lat: f64,
    pub lon: f64,
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// Sorted by start, then id.
    pub entries: Vec<Entry>,
    /// The home place used (found, or the one given).
    pub home: Option<Home>,
}

/// Builds the timeline of `user_id` from `items`. With `home` given (an incremental build over
/// a window of items), that home is used; without, it is found from the items.
pub fn build(user_id: &str, items: &[Item], home: Option<Home>) -> Built {
    let g = gazetteer::get();
    // One order whatever the caller's: the same items always give the same entries.
    let mut sorted: Vec<Item> = items.to_vec();
    sorted.sort_by_key(|i| (i.occurred_at, i.id));
    let items = &sorted[..];
    let resolved = place::resolve_all(g, items);
    let home = home.or_else(|| home::detect(g, items, &resolved));
    let mut entries = rules::apply(user_id, g, items, &resolved, home);
    entries.sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
    Built { entries, home }
}

/// An entry id from the user, the rule and its anchor: stable across rebuilds, unique per user.
pub fn entry_id(user_id: &str, rule: &str, anchor: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(user_id.as_bytes())
        .chain_update([0])
        .chain_update(rule.as_bytes())
        .chain_update([0])
        .chain_update(anchor.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // RFC 9562 version 8 (custom), variant 10.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}
