//! schema.org reservation markup in email HTML: JSON-LD and microdata, read by the HTML
//! tokenizer of [`crate::html`] into one JSON shape, then the reservation's type, start,
//! location and confirmation code.
//!
//! - JSON-LD: every `<script type="application/ld+json">` block; a single object, an array of
//!   objects, or an object with `@graph`; nested nodes are searched too. `@type` may be a
//!   string or an array, bare (`FlightReservation`) or prefixed (`http://schema.org/…`,
//!   `https://schema.org/…`, `schema:…`); another vocabulary's types are not read.
//! - Microdata: elements with `itemscope itemtype="http(s)://schema.org/…"`; an `itemprop`'s
//!   value is its `content` attribute, else the element's own (`<time datetime>`, `<a href>`,
//!   `<img src>`, `<data value>`, …), else its text; nested `itemscope` elements with an
//!   `itemprop` become nested objects. The first value of a repeated property wins
//!   ([`crate::html`] has the details).
//!
//! The first node whose type ends in `Reservation` is used; failing that an `Order` or
//! `ParcelDelivery`. Both Gmail's and schema.org's property variants are read, in this order:
//! - start: `reservationFor.departureTime`, `checkinTime`, `checkinDate`,
//!   `reservationFor.startDate`, `startTime`, `startDate`, `pickupTime`,
//!   `reservationFor.startTime`, `reservationFor.checkinTime`, `reservationFor.checkinDate`;
//!   the wall-clock time as written with its UTC offset and IANA time zone when given (a bare
//!   date is midnight; [`EventStart`]);
//! - location: the departure airport (`iataCode`, else `name`), departure train station or
//!   bus stop, the event's `location` (`name`, else `address.addressLocality`), the pickup
//!   location, else the reserved place's `name` (not for events, whose `name` is the event's)
//!   or `address.addressLocality`;
//! - confirmation code: `reservationNumber`, `confirmationNumber`, `reservationId`,
//!   `orderNumber`.
//!
//! The person fields (`underName`, `customer`, emails, phone numbers) are never read.

use crate::start::EventStart;
use serde_json::Value;

/// A reservation read from markup.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    /// The schema.org type without prefix, e.g. `FlightReservation`.
    pub schema_type: String,
    pub start: Option<EventStart>,
    pub location: Option<String>,
    pub confirmation_code: Option<String>,
}

/// Reads the reservation described by schema.org markup in `html`, if any.
pub fn find_reservation(html: &str) -> Option<Reservation> {
    from_body(&crate::html::read(
        html,
        crate::html::Want {
            markup: true,
            text: false,
        },
    ))
}

/// The reservation described by the markup of a body already read.
pub fn from_body(body: &crate::html::Body) -> Option<Reservation> {
    if body.json_ld.is_empty() && body.microdata.is_empty() {
        return None;
    }
    let nodes: Vec<&Value> = body.json_ld.iter().chain(&body.microdata).collect();
    let node = nodes
        .iter()
        .find_map(|n| find_node(n, &|t| t.ends_with("Reservation")))
        .or_else(|| {
            nodes
                .iter()
                .find_map(|n| find_node(n, &|t| t == "Order" || t == "ParcelDelivery"))
        })?;
    Some(read_reservation(node))
}

/// A schema.org type without its prefix; `None` for another vocabulary's type.
fn strip_type(t: &str) -> Option<&str> {
    let t = t.trim();
    for p in ["http://schema.org", "https://schema.org", "schema:"] {
        if t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)) {
            return Some(t[p.len()..].trim_start_matches('/'));
        }
    }
    (!t.contains([':', '/'])).then_some(t)
}

fn types(v: &Value) -> Vec<&str> {
    match v.get("@type") {
        Some(Value::String(s)) => strip_type(s).into_iter().collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter_map(strip_type)
            .collect(),
        _ => Vec::new(),
    }
}

fn find_node<'v>(v: &'v Value, want: &dyn Fn(&str) -> bool) -> Option<&'v Value> {
    match v {
        Value::Array(a) => a.iter().find_map(|x| find_node(x, want)),
        Value::Object(o) => {
            if types(v).into_iter().any(want) {
                return Some(v);
            }
            o.iter()
                .filter(|(k, _)| k.as_str() != "@context")
                .find_map(|(_, c)| find_node(c, want))
        }
        _ => None,
    }
}

/// The value at a dotted path; arrays on the way resolve to their first element.
fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for key in path.split('.') {
        cur = first(cur).get(key)?;
    }
    Some(first(cur))
}

fn first(v: &Value) -> &Value {
    match v {
        Value::Array(a) if !a.is_empty() => &a[0],
        _ => v,
    }
}

fn text_at(v: &Value, path: &str) -> Option<String> {
    let s = match at(v, path)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn read_reservation(node: &Value) -> Reservation {
    let schema_type = types(node)
        .into_iter()
        .find(|t| t.ends_with("Reservation") || *t == "Order" || *t == "ParcelDelivery")
        .unwrap_or("Reservation")
        .to_string();
    let start = [
        "reservationFor.departureTime",
        "checkinTime",
        "checkinDate",
        "reservationFor.startDate",
        "startTime",
        "startDate",
        "pickupTime",
        "reservationFor.startTime",
        "reservationFor.checkinTime",
        "reservationFor.checkinDate",
    ]
    .iter()
    .find_map(|p| text_at(node, p).and_then(|s| EventStart::parse(&s)));
    let is_event = schema_type == "EventReservation";
    let mut location_paths = vec![
        "reservationFor.departureAirport.iataCode",
        "reservationFor.departureAirport.name",
        "reservationFor.departureStation.name",
        "reservationFor.departureBusStop.name",
        "reservationFor.location.name",
        "reservationFor.location.address.addressLocality",
        "reservationFor.location",
        "pickupLocation.name",
        "pickupLocation.address.addressLocality",
    ];
    if !is_event {
        location_paths.push("reservationFor.name");
    }
    location_paths.push("reservationFor.address.addressLocality");
    let location = location_paths.iter().find_map(|p| text_at(node, p));
    let confirmation_code = [
        "reservationNumber",
        "confirmationNumber",
        "reservationId",
        "orderNumber",
    ]
    .iter()
    .find_map(|p| text_at(node, p));
    Reservation {
        schema_type,
        start,
        location,
        confirmation_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(r: &Reservation) -> Option<String> {
        r.start.map(|s| s.to_string())
    }

    #[test]
    fn json_ld_flight_gmail_style() {
        let html = r#"<html><script type="application/ld+json">{"@context":"http://schema.org","@type":"FlightReservation","reservationNumber":"RXJ34P","underName":{"@type":"Person","name":"Eva Green"},"reservationFor":{"@type":"Flight","flightNumber":"110","airline":{"@type":"Airline","iataCode":"UA"},"departureAirport":{"@type":"Airport","name":"San Francisco Airport","iataCode":"SFO"},"departureTime":"2027-03-04T20:15:00-08:00","arrivalAirport":{"@type":"Airport","iataCode":"JFK"}}}</script></html>"#;
        let r = find_reservation(html).unwrap();
        assert_eq!(r.schema_type, "FlightReservation");
        assert_eq!(start(&r).as_deref(), Some("2027-03-04T20:15:00-08:00"));
        assert_eq!(r.location.as_deref(), Some("SFO"));
        assert_eq!(r.confirmation_code.as_deref(), Some("RXJ34P"));
    }

    #[test]
    fn json_ld_graph_and_array_https() {
        let html = r#"<script type='application/ld+json'>{"@context":"https://schema.org","@graph":[{"@type":"Organization","name":"X"},{"@type":["https://schema.org/LodgingReservation"],"confirmationNumber":12345,"checkinTime":"2027-05-01T15:00","reservationFor":{"@type":"LodgingBusiness","name":"Hotel Adlon"}}]}</script>"#;
        let r = find_reservation(html).unwrap();
        assert_eq!(r.schema_type, "LodgingReservation");
        assert_eq!(r.confirmation_code.as_deref(), Some("12345"));
        assert_eq!(r.location.as_deref(), Some("Hotel Adlon"));
        assert_eq!(start(&r).as_deref(), Some("2027-05-01T15:00:00"));
        let arr = r#"<script type="application/ld+json">[{"@type":"Thing"},{"@context":"http://schema.org","@type":"EventReservation","reservationNumber":"E1","reservationFor":{"@type":"Event","name":"Concert","startDate":"2027-06-01T20:00:00+02:00","location":{"@type":"Place","name":"Olympiastadion"}}}]</script>"#;
        let r = find_reservation(arr).unwrap();
        assert_eq!(r.location.as_deref(), Some("Olympiastadion"));
        assert_eq!(start(&r).as_deref(), Some("2027-06-01T20:00:00+02:00"));
    }

    #[test]
    fn microdata_flight() {
        let html = r#"<div itemscope itemtype="http://schema.org/FlightReservation">
  <meta itemprop="reservationNumber" content="RXJ34P"/>
  <div itemprop="underName" itemscope itemtype="http://schema.org/Person"><meta itemprop="name" content="Eva Green"/></div>
  <div itemprop="reservationFor" itemscope itemtype="http://schema.org/Flight">
    <meta itemprop="flightNumber" content="110"/>
    <div itemprop="departureAirport" itemscope itemtype="http://schema.org/Airport"><span itemprop="name">San Francisco</span><meta itemprop="iataCode" content="SFO"/></div>
    <time itemprop="departureTime" datetime="2027-03-04T20:15:00-08:00">Mar 4</time>
    <div itemprop="arrivalAirport" itemscope itemtype="http://schema.org/Airport"><meta itemprop="iataCode" content="JFK"/></div>
  </div>
</div>"#;
        let r = find_reservation(html).unwrap();
        assert_eq!(r.schema_type, "FlightReservation");
        assert_eq!(r.location.as_deref(), Some("SFO"));
        assert_eq!(start(&r).as_deref(), Some("2027-03-04T20:15:00-08:00"));
        assert_eq!(r.confirmation_code.as_deref(), Some("RXJ34P"));
    }

    #[test]
    fn microdata_food_with_text_values() {
        let html = r#"<div itemscope itemtype="https://schema.org/FoodEstablishmentReservation"><p>Number: <span itemprop="reservationNumber">OT-1234</span></p><meta itemprop="startTime" content="2027-02-14T19:30:00"><div itemprop="reservationFor" itemscope itemtype="https://schema.org/FoodEstablishment"><span itemprop="name">Chez Panisse &amp; Co</span></div></div>"#;
        let r = find_reservation(html).unwrap();
        assert_eq!(r.schema_type, "FoodEstablishmentReservation");
        assert_eq!(r.location.as_deref(), Some("Chez Panisse & Co"));
        assert_eq!(r.confirmation_code.as_deref(), Some("OT-1234"));
    }

    #[test]
    fn no_markup() {
        assert_eq!(find_reservation("<p>Your flight to Paris</p>"), None);
        assert_eq!(
            find_reservation(r#"<div itemscope itemtype="http://schema.org/Person"></div>"#),
            None
        );
    }
}
