//! Where each item is, and what a reservation says, read once per build:
//! - a post or photo: its location's coordinates (the nearest gazetteer city within 60 km names
//!   it), else its location's name resolved by the gazetteer;
//! - a travel reservation (flight, train, bus, rental car, hotel): its start and its places —
//!   a flight's or train's origin (the markup's departure airport or station) and destination
//!   (the next place the subject and snippet name: `SFO → LIS`, `to Lisboa`), a hotel's or
//!   car's city (its location, else the text);
//! - an event booking (ticket, restaurant table): its start, venue and city.
//!
//! A start written without an offset is local time at its place (the gazetteer's standard
//! offset), else at the origin, else UTC.

use chrono::{DateTime, Duration, Utc};
use lifesync_normalizer::start::EventStart;

use super::{
    gazetteer::{CityId, Gazetteer},
    Item,
};
use crate::domain::ItemKind;

/// A located item's place.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
    pub city: Option<CityId>,
    /// The provider's place name, if any.
    pub name: Option<String>,
}

/// Kinds of travel reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Travel {
    Flight,
    Train,
    Car,
    Hotel,
}

/// A travel reservation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub travel: Travel,
    pub start: DateTime<Utc>,
    pub from: Option<CityId>,
    pub to: Option<CityId>,
    pub code: Option<String>,
}

/// Kinds of event booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booking {
    Ticket,
    Restaurant,
}

/// An event booking.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBooking {
    pub booking: Booking,
    pub start: DateTime<Utc>,
    /// The start carried an offset or a time zone.
    pub zoned: bool,
    /// The start is local time at an unknown place (taken as UTC here; the rules place it).
    pub unplaced: bool,
    pub venue: Option<String>,
    pub city: Option<CityId>,
    pub code: Option<String>,
}

/// What the timeline knows of one item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub point: Option<Point>,
    pub reservation: Option<Reservation>,
    pub booking: Option<EventBooking>,
}

/// Resolves every item (same order as `items`).
pub fn resolve_all(g: &Gazetteer, items: &[Item]) -> Vec<Resolved> {
    items.iter().map(|i| resolve(g, i)).collect()
}

fn resolve(g: &Gazetteer, item: &Item) -> Resolved {
    match item.kind {
        ItemKind::Post | ItemKind::Media => Resolved {
            point: point(g, item.location.as_ref()),
            ..Default::default()
        },
        ItemKind::Email => email(g, item),
    }
}

fn point(g: &Gazetteer, location: Option<&serde_json::Value>) -> Option<Point> {
    let l = location?;
    let name = l["name"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from);
    match (l["lat"].as_f64(), l["lon"].as_f64()) {
        (Some(lat), Some(lon)) if lat.is_finite() && lon.is_finite() => Some(Point {
            lat,
            lon,
            city: g
                .nearest(lat, lon, 60.0)
                .or_else(|| name.as_deref().and_then(|n| g.by_name(n))),
            name,
        }),
        _ => {
            let city = g.by_name(name.as_deref()?)?;
            let c = g.city(city);
            Some(Point {
                lat: c.lat,
                lon: c.lon,
                city: Some(city),
                name,
            })
        }
    }
}

/// Words that make a `BOOKING` without markup a table reservation (not a shop order).
const RESTAURANT_WORDS: &[&str] = &[
    "restaurant",
    "table for",
    "your table",
    "dinner",
    "lunch",
    "brunch",
    "opentable",
    "mesa para",
    "tisch",
    "réservation de table",
    "ristorante",
];

fn email(g: &Gazetteer, item: &Item) -> Resolved {
    let Some(event) = item.event.as_ref() else {
        return Resolved::default();
    };
    let kind = event["type"].as_str().unwrap_or("");
    let location = event["location"]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let code = event["confirmation_code"].as_str().map(String::from);
    let named = g.scan(&item.text);
    let start_raw = event["start"].as_str().and_then(EventStart::parse);
    let category = item.category.as_deref().unwrap_or("");
    let travel = match kind {
        "FlightReservation" => Some(Travel::Flight),
        "TrainReservation" | "BusReservation" => Some(Travel::Train),
        "RentalCarReservation" => Some(Travel::Car),
        "LodgingReservation" => Some(Travel::Hotel),
        _ if category == "TRAVEL_FLIGHT" => Some(Travel::Flight),
        _ if category == "TRAVEL_HOTEL" => Some(Travel::Hotel),
        _ => None,
    };
    if let Some(travel) = travel {
        let located = location.and_then(|l| g.by_name(l));
        let (from, to) = match travel {
            Travel::Flight | Travel::Train => {
                let from = located.or_else(|| named.first().copied());
                let to = named.iter().copied().find(|c| Some(*c) != from);
                (from, to)
            }
            Travel::Hotel | Travel::Car => (None, located.or_else(|| named.first().copied())),
        };
        let offset_city = match travel {
            Travel::Flight | Travel::Train => from,
            _ => to,
        };
        let start = instant(g, start_raw, offset_city).unwrap_or(item.occurred_at);
        return Resolved {
            reservation: Some(Reservation {
                travel,
                start,
                from,
                to,
                code,
            }),
            ..Default::default()
        };
    }
    let lower = item.text.to_lowercase();
    let booking = match kind {
        "EventReservation" => Some(Booking::Ticket),
        "FoodEstablishmentReservation" => Some(Booking::Restaurant),
        _ if category == "EVENT_TICKET" => Some(Booking::Ticket),
        "Reservation" if RESTAURANT_WORDS.iter().any(|w| lower.contains(w)) => {
            Some(Booking::Restaurant)
        }
        _ => None,
    };
    let Some(booking) = booking else {
        return Resolved::default();
    };
    // Without a start, a booking cannot be placed in time.
    let Some(raw) = start_raw else {
        return Resolved::default();
    };
    let city = location
        .and_then(|l| g.by_name(l))
        .or_else(|| named.first().copied());
    let Some(start) = instant(g, Some(raw), city) else {
        return Resolved::default();
    };
    Resolved {
        booking: Some(EventBooking {
            booking,
            start,
            zoned: raw.offset.is_some(),
            unplaced: raw.offset.is_none() && city.is_none(),
            venue: location.map(venue_name),
            city,
            code,
        }),
        ..Default::default()
    }
}

/// A venue name fit for a title: one line, at most 60 characters.
fn venue_name(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

/// The instant of a start: its own offset, else local time at `city`, else UTC.
fn instant(
    g: &Gazetteer,
    start: Option<EventStart>,
    city: Option<CityId>,
) -> Option<DateTime<Utc>> {
    let s = start?;
    if let Some(t) = s.instant() {
        return Some(t.with_timezone(&Utc));
    }
    let offset = city.map_or(0, |c| g.city(c).offset_min);
    Some(s.local.and_utc() - Duration::minutes(i64::from(offset)))
}
