//! schema.org reservation markup in email HTML: JSON-LD and microdata, read into one JSON
//! shape, then the reservation's type, start, location and confirmation code.
//!
//! - JSON-LD: every `<script type="application/ld+json">` block; a single object, an array of
//!   objects, or an object with `@graph`; nested nodes are searched too. `@type` may be a
//!   string or an array, bare (`FlightReservation`) or prefixed (`http://schema.org/…`,
//!   `https://schema.org/…`, `schema:…`).
//! - Microdata: elements with `itemscope itemtype="http(s)://schema.org/…"`; `itemprop`
//!   values come from `content`, `datetime`, `href`/`src`, or the element's text up to the
//!   next tag; nested `itemscope` elements with an `itemprop` become nested objects. The
//!   first value of a repeated property wins.
//!
//! The first node whose type ends in `Reservation` is used; failing that an `Order` or
//! `ParcelDelivery`. Both Gmail's and schema.org's property variants are read, in this order:
//! - start: `reservationFor.departureTime`, `checkinTime`, `checkinDate`,
//!   `reservationFor.startDate`, `startTime`, `startDate`, `pickupTime`,
//!   `reservationFor.startTime`, `reservationFor.checkinTime`, `reservationFor.checkinDate`;
//!   the local wall-clock time as written (any UTC offset is dropped; a bare date is
//!   midnight);
//! - location: the departure airport (`iataCode`, else `name`), departure train station or
//!   bus stop, the event's `location` (`name`, else `address.addressLocality`), the pickup
//!   location, else the reserved place's `name` (not for events, whose `name` is the event's)
//!   or `address.addressLocality`;
//! - confirmation code: `reservationNumber`, `confirmationNumber`, `reservationId`,
//!   `orderNumber`.
//!
//! The person fields (`underName`, `customer`, emails, phone numbers) are never read.

use chrono::{NaiveDate, NaiveDateTime};
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// A reservation read from markup.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    /// The schema.org type without prefix, e.g. `FlightReservation`.
    pub schema_type: String,
    pub start: Option<NaiveDateTime>,
    pub location: Option<String>,
    pub confirmation_code: Option<String>,
}

static SCRIPT_OPEN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<script[^>]*type\s*=\s*["']?application/ld\+json["']?[^>]*>"#)
        .expect("script regex compiles")
});
static SCRIPT_CLOSE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)</script\s*>").expect("script end regex compiles"));
static TAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"</?[a-zA-Z][^>]*>").expect("tag regex compiles"));
static ATTR_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"#)
        .expect("attribute regex compiles")
});
static SCHEMA_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)schema\.org|schema:").expect("schema regex compiles"));
static LD_JSON_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)application/ld\+json").expect("ld+json regex compiles"));
static ITEMSCOPE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)itemscope").expect("itemscope regex compiles"));

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Reads the reservation described by schema.org markup in `html`, if any.
pub fn find_reservation(html: &str) -> Option<Reservation> {
    if !SCHEMA_RE.is_match(html) {
        return None;
    }
    let mut nodes = Vec::new();
    if LD_JSON_RE.is_match(html) {
        let mut pos = 0;
        while let Some(open) = SCRIPT_OPEN_RE.find_at(html, pos) {
            let Some(close) = SCRIPT_CLOSE_RE.find_at(html, open.end()) else {
                break;
            };
            if let Ok(v) = serde_json::from_str::<Value>(html[open.end()..close.start()].trim()) {
                nodes.push(v);
            }
            pos = close.end();
        }
    }
    if let Some(first) = ITEMSCOPE_RE.find(html) {
        // Tags before the first itemscope element cannot hold microdata.
        let from = html[..first.start()].rfind('<').unwrap_or(0);
        nodes.extend(microdata(&html[from..]));
    }
    let nodes = Value::Array(nodes);
    let node = find_node(&nodes, &|t| t.ends_with("Reservation"))
        .or_else(|| find_node(&nodes, &|t| t == "Order" || t == "ParcelDelivery"))?;
    Some(read_reservation(node))
}

fn strip_type(t: &str) -> &str {
    let t = t.trim();
    for p in [
        "http://schema.org/",
        "https://schema.org/",
        "schema:",
        "http://schema.org",
        "https://schema.org",
    ] {
        if let Some(rest) = t.strip_prefix(p) {
            return rest.trim_start_matches('/');
        }
    }
    t
}

fn types(v: &Value) -> Vec<&str> {
    match v.get("@type") {
        Some(Value::String(s)) => vec![strip_type(s)],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(strip_type).collect(),
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
    .find_map(|p| text_at(node, p).and_then(|s| parse_datetime(&s)));
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

/// Parses `2027-03-04T10:15:00-08:00`, `…Z`, `2027-03-04T10:15`, `2027-03-04 10:15:00` or
/// `2027-03-04` into the local wall-clock time as written.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    let rest = &s[10..];
    if rest.is_empty() {
        return date.and_hms_opt(0, 0, 0);
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    let hh: u32 = rest.get(..2)?.parse().ok()?;
    let mm: u32 = rest.get(3..5)?.parse().ok()?;
    if rest.as_bytes().get(2) != Some(&b':') {
        return None;
    }
    let ss: u32 = match rest.as_bytes().get(5) {
        Some(b':') => rest.get(6..8)?.parse().ok()?,
        _ => 0,
    };
    date.and_hms_opt(hh, mm, ss)
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.trim().to_string();
    }
    s.replace("&nbsp;", " ")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

struct Scope {
    itemprop: Option<String>,
    map: Map<String, Value>,
}

struct Open {
    tag: String,
    scope: bool,
}

/// Reads microdata into JSON objects (one per top-level `itemscope`).
fn microdata(html: &str) -> Vec<Value> {
    let mut roots = Vec::new();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let close_scope = |scopes: &mut Vec<Scope>, roots: &mut Vec<Value>| {
        if let Some(s) = scopes.pop() {
            let v = Value::Object(s.map);
            match (scopes.last_mut(), s.itemprop) {
                (Some(parent), Some(props)) => {
                    for p in props.split_whitespace() {
                        parent.map.entry(p.to_string()).or_insert_with(|| v.clone());
                    }
                }
                _ => roots.push(v),
            }
        }
    };
    for m in TAG_RE.find_iter(html) {
        let tag = &m.as_str()[1..m.len() - 1];
        let closing = tag.starts_with('/');
        let tag = tag.trim_start_matches('/');
        let name_len = tag
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tag.len());
        let name = tag[..name_len].to_ascii_lowercase();
        let self_closing = tag.ends_with('/');
        let attrs_src = tag[name_len..].trim_end_matches('/');
        if closing {
            if let Some(i) = open.iter().rposition(|o| o.tag == name) {
                for o in open.drain(i..).rev().collect::<Vec<_>>() {
                    if o.scope {
                        close_scope(&mut scopes, &mut roots);
                    }
                }
            }
            continue;
        }
        let void = VOID.contains(&name.as_str()) || self_closing;
        if !attrs_src.contains("item") {
            if !void {
                open.push(Open {
                    tag: name,
                    scope: false,
                });
            }
            continue;
        }
        let mut itemscope = false;
        let mut itemtype = None;
        let mut itemprop = None;
        let mut value = None;
        for a in ATTR_RE.captures_iter(attrs_src) {
            let key = a[1].to_ascii_lowercase();
            let val = a.get(2).or(a.get(3)).or(a.get(4)).map(|v| v.as_str());
            match key.as_str() {
                "itemscope" => itemscope = true,
                "itemtype" => itemtype = val.map(str::to_string),
                "itemprop" => itemprop = val.map(str::to_string),
                "content" | "datetime" => value = val.map(decode_entities),
                "href" | "src" if value.is_none() => value = val.map(decode_entities),
                _ => {}
            }
        }
        if itemscope {
            let mut map = Map::new();
            if let Some(t) = itemtype {
                map.insert("@type".into(), Value::String(t));
            }
            scopes.push(Scope { itemprop, map });
            if void {
                close_scope(&mut scopes, &mut roots);
            } else {
                open.push(Open {
                    tag: name,
                    scope: true,
                });
            }
            continue;
        }
        if let (Some(props), Some(scope)) = (itemprop, scopes.last_mut()) {
            let v = value.unwrap_or_else(|| {
                let after = &html[m.end()..];
                decode_entities(&after[..after.find('<').unwrap_or(after.len())])
            });
            for p in props.split_whitespace() {
                scope
                    .map
                    .entry(p.to_string())
                    .or_insert_with(|| Value::String(v.clone()));
            }
        }
        if !void {
            open.push(Open {
                tag: name,
                scope: false,
            });
        }
    }
    while !scopes.is_empty() {
        close_scope(&mut scopes, &mut roots);
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Option<NaiveDateTime> {
        parse_datetime(s)
    }

    #[test]
    fn json_ld_flight_gmail_style() {
        let html = r#"<html><script type="application/ld+json">{"@context":"http://schema.org","@type":"FlightReservation","reservationNumber":"RXJ34P","underName":{"@type":"Person","name":"Eva Green"},"reservationFor":{"@type":"Flight","flightNumber":"110","airline":{"@type":"Airline","iataCode":"UA"},"departureAirport":{"@type":"Airport","name":"San Francisco Airport","iataCode":"SFO"},"departureTime":"2027-03-04T20:15:00-08:00","arrivalAirport":{"@type":"Airport","iataCode":"JFK"}}}</script></html>"#;
        let r = find_reservation(html).unwrap();
        assert_eq!(r.schema_type, "FlightReservation");
        assert_eq!(r.start, dt("2027-03-04T20:15:00"));
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
        assert_eq!(r.start, dt("2027-05-01T15:00:00"));
        let arr = r#"<script type="application/ld+json">[{"@type":"Thing"},{"@context":"http://schema.org","@type":"EventReservation","reservationNumber":"E1","reservationFor":{"@type":"Event","name":"Concert","startDate":"2027-06-01T20:00:00+02:00","location":{"@type":"Place","name":"Olympiastadion"}}}]</script>"#;
        let r = find_reservation(arr).unwrap();
        assert_eq!(r.location.as_deref(), Some("Olympiastadion"));
        assert_eq!(r.start, dt("2027-06-01T20:00:00"));
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
        assert_eq!(r.start, dt("2027-03-04T20:15:00"));
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

    #[test]
    fn datetimes() {
        assert_eq!(
            dt("2027-03-04"),
            NaiveDate::from_ymd_opt(2027, 3, 4)
                .unwrap()
                .and_hms_opt(0, 0, 0)
        );
        assert_eq!(
            dt("2027-03-04 10:15:30Z"),
            NaiveDate::from_ymd_opt(2027, 3, 4)
                .unwrap()
                .and_hms_opt(10, 15, 30)
        );
        assert_eq!(dt("March 4"), None);
    }
}
