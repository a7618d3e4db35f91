//! Google (Gmail) stand-in: OAuth at `/o/oauth2/v2/auth`, `/token` (PKCE when a challenge was
//! sent, refresh tokens without rotation, `invalid_grant` bodies) and `/revoke`; Gmail's data
//! API under `/gmail/v1/users/me/`: `profile` (the mailbox's current `historyId`), `messages`
//! (newest first, `maxResults` default 100 clamped to 500, numeric `pageToken`, no `messages`
//! key when empty), `messages/{id}` (`format=minimal|metadata|full`, repeated
//! `metadataHeaders`, base64url bodies, `internalDate` epoch-millis string), `history`
//! (`startHistoryId`, repeated `historyTypes`, no `history` key when unchanged, 404 for an id
//! older than the history horizon or while cursors are expired) and the batch endpoint
//! `POST /batch/gmail/v1` (multipart/mixed, ≤ 100 parts, per-part status). Throttling is
//! Gmail's: `Faults::quota` answers the real 403 `usageLimits` bodies (`userRateLimitExceeded`,
//! `rateLimitExceeded`, `dailyLimitExceeded`) or 429 `RESOURCE_EXHAUSTED`; `throttle_every`
//! alternately 429 `rateLimitExceeded` (with `Retry-After`) and 403
//! `userRateLimitExceeded` (without), and per-user quota units (15,000 a minute, `getProfile` 1,
//! `messages.list`/`messages.get` 5 each, also inside a batch, `history.list` 2) answered
//! with 429 `rateLimitExceeded`; 5xx carry Google's `backendError` body.
//!
//! The mail corpus ([`sample_email`]) lives here and is shared with the Outlook stand-in: ~126
//! emails per account, deterministic per (seed, account), covering the seven categories with
//! schema.org JSON-LD reservations in the HTML bodies, PII in the text, and non-ASCII text.
//! A [`Mailbox`] keeps a version counter: every add or delete is one change, from which Gmail
//! history ids and Graph delta tokens are derived.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Json, Path},
    Request, Response, Route,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{oauth, truncated, DataFault, SandboxState};
use crate::providers::ProviderId;

/// The demo mailbox.
pub const ACCOUNT: &str = "jane.doe@gmail.com";
/// Emails per account in a fresh data set.
pub const DEFAULT_EMAILS: usize = 126;
/// Gmail's batch limit.
const MAX_BATCH: usize = 100;
/// Gmail's per-user quota (units per minute); quota units per method: `getProfile` 1,
/// `messages.list` 5, `messages.get` 5, `history.list` 2.
const USER_UNITS_PER_MINUTE: u32 = 15_000;

// ------------------------------------------------------------------------------------------
// The mail corpus (shared with the Outlook stand-in)

/// One email of the corpus, provider-neutral.
#[derive(Debug, Clone)]
pub struct Email {
    pub from_name: String,
    pub from_addr: String,
    pub to: String,
    pub subject: String,
    /// The plain-text body (short: the snippet / body preview is all of it).
    pub text: String,
    /// The HTML body (with JSON-LD for reservations).
    pub html: String,
    pub received: DateTime<Utc>,
    /// Gmail labels (`INBOX`, `CATEGORY_*`, `UNREAD`, `IMPORTANT`).
    pub labels: Vec<&'static str>,
    /// The category a correct categorizer gives it (for tests and demos).
    pub category: &'static str,
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// A per-(seed, account) mixing value.
pub fn mix(seed: u64, account: &str) -> u64 {
    (fnv(account) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_body(text: &str, ld: Option<Value>) -> String {
    let script = ld.map_or_else(String::new, |v| {
        format!("<script type=\"application/ld+json\">\n{v}\n</script>\n")
    });
    format!(
        "<html><head><meta charset=\"utf-8\"></head><body>\n{script}<p>{}</p>\n</body></html>",
        html_escape(text).replace('\n', "<br>")
    )
}

const PNR: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn code(k: u64, len: usize) -> String {
    (0..len)
        .map(|i| PNR[((k >> (i * 5)) % PNR.len() as u64) as usize] as char)
        .collect()
}

/// The `i`-th email of an account's corpus (`k` mixes seed and account), received at `when`.
pub fn sample_email(k: u64, i: usize, when: DateTime<Utc>, to: &str) -> Email {
    let v = k.wrapping_add((i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let pnr = code(v, 6);
    let later = |days: i64, h: u32| {
        (when + Duration::days(days))
            .date_naive()
            .and_hms_opt(h, 15, 0)
            .map(|d| d.and_utc())
            .unwrap_or(when)
    };
    let ts = |t: DateTime<Utc>, off: &str| format!("{}{off}", t.format("%Y-%m-%dT%H:%M:%S"));
    let phone = format!("+1 415 555 {:04}", v % 10_000);
    let friend = ["Marie", "Kenji", "Lukas", "Aisha", "Tom"][(v % 5) as usize];
    let (category, from_name, from_addr, subject, text, ld, labels): (
        &'static str,
        String,
        String,
        String,
        String,
        Option<Value>,
        Vec<&'static str>,
    ) = match i % 16 {
        0 => {
            let dep = later(21, 20);
            (
                "TRAVEL_FLIGHT",
                "United Airlines".into(),
                "unitedairlines@united.com".into(),
                format!("Your trip confirmation: {pnr}"),
                format!("Your trip confirmation {pnr}: San Francisco (SFO) to New York (JFK) on {}. Questions? Call 1-800-864-8331.", dep.format("%b %-d")),
                Some(json!({"@context": "http://schema.org", "@type": "FlightReservation",
                    "reservationNumber": pnr, "reservationStatus": "http://schema.org/Confirmed",
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "Flight", "flightNumber": "110",
                        "airline": {"@type": "Airline", "name": "United", "iataCode": "UA"},
                        "departureAirport": {"@type": "Airport", "name": "San Francisco Airport", "iataCode": "SFO"},
                        "departureTime": ts(dep, "-08:00"),
                        "arrivalAirport": {"@type": "Airport", "name": "John F. Kennedy International Airport", "iataCode": "JFK"},
                        "arrivalTime": ts(dep + Duration::hours(7), "-05:00")}})),
                vec!["INBOX", "CATEGORY_UPDATES", "IMPORTANT"],
            )
        }
        1 => {
            let dep = later(40, 9);
            (
                "TRAVEL_FLIGHT",
                "Lufthansa".into(),
                "online@booking-lufthansa.com".into(),
                format!("Ihre Buchungsbestätigung – LH 400 Frankfurt → New York ({pnr})"),
                format!("Vielen Dank für Ihre Buchung! Buchungscode {pnr}, Abflug {} ab Frankfurt (FRA). Gepäck: 1 × 23 kg. Grüße aus München 🛫", dep.format("%d.%m.%Y")),
                Some(json!({"@context": "https://schema.org", "@type": "FlightReservation",
                    "reservationNumber": pnr, "reservationStatus": "https://schema.org/ReservationConfirmed",
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "Flight", "flightNumber": "400",
                        "airline": {"@type": "Airline", "name": "Lufthansa", "iataCode": "LH"},
                        "departureAirport": {"@type": "Airport", "name": "Frankfurt am Main", "iataCode": "FRA"},
                        "departureTime": ts(dep, "+01:00"),
                        "arrivalAirport": {"@type": "Airport", "name": "John F. Kennedy International Airport", "iataCode": "JFK"},
                        "arrivalTime": ts(dep + Duration::hours(9), "-05:00")}})),
                vec!["INBOX", "CATEGORY_UPDATES"],
            )
        }
        2 => {
            let dep = later(60, 11);
            (
                "TRAVEL_FLIGHT",
                "日本航空 JAL".into(),
                "info@jal.com".into(),
                format!("【JAL】ご予約確認 JL005 東京(羽田) → ニューヨーク 予約番号 {pnr}"),
                format!("ご搭乗ありがとうございます。予約番号 {pnr}、{} 羽田空港 出発。✈️", dep.format("%Y年%m月%d日")),
                Some(json!([{"@context": "http://schema.org", "@type": "FlightReservation",
                    "reservationNumber": pnr, "reservationStatus": "http://schema.org/Confirmed",
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "Flight", "flightNumber": "5",
                        "airline": {"@type": "Airline", "name": "Japan Airlines", "iataCode": "JL"},
                        "departureAirport": {"@type": "Airport", "name": "東京国際空港", "iataCode": "HND"},
                        "departureTime": ts(dep, "+09:00"),
                        "arrivalAirport": {"@type": "Airport", "name": "John F. Kennedy International Airport", "iataCode": "JFK"},
                        "arrivalTime": ts(dep + Duration::hours(13), "-05:00")}}])),
                vec!["INBOX", "CATEGORY_UPDATES"],
            )
        }
        3 => {
            let cin = later(14, 16);
            (
                "TRAVEL_HOTEL",
                "Hilton".into(),
                "reservations@hilton.com".into(),
                "Your reservation at Hilton San Francisco Union Square".into(),
                format!("Confirmation {pnr}: check-in {} after 4 PM, 2 nights. Call the hotel at 415-771-1400.", cin.format("%A, %B %-d")),
                Some(json!({"@context": "http://schema.org", "@type": "LodgingReservation",
                    "reservationNumber": pnr, "reservationStatus": "http://schema.org/Confirmed",
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "LodgingBusiness", "name": "Hilton San Francisco Union Square",
                        "address": {"@type": "PostalAddress", "streetAddress": "333 O'Farrell St", "addressLocality": "San Francisco",
                            "addressRegion": "CA", "postalCode": "94102", "addressCountry": "US"},
                        "telephone": "415-771-1400"},
                    "checkinDate": ts(cin, "-08:00"), "checkoutDate": ts(cin + Duration::days(2), "-08:00")})),
                vec!["INBOX", "CATEGORY_UPDATES", "IMPORTANT"],
            )
        }
        4 => {
            let cin = later(30, 15);
            (
                "TRAVEL_HOTEL",
                "Booking.com".into(),
                "noreply@booking.com".into(),
                "Votre réservation à l'Hôtel du Marais est confirmée ✅".into(),
                format!("Merci, Jane ! Votre réservation {pnr} à Paris est confirmée. Arrivée le {} — à bientôt !", cin.format("%d/%m/%Y")),
                Some(json!({"@context": "https://schema.org", "@graph": [{"@type": "LodgingReservation",
                    "reservationNumber": pnr, "reservationStatus": "https://schema.org/ReservationConfirmed",
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "LodgingBusiness", "name": "Hôtel du Marais",
                        "address": {"@type": "PostalAddress", "streetAddress": "12 Rue de Turenne", "addressLocality": "Paris",
                            "postalCode": "75004", "addressCountry": "FR"}},
                    "checkinTime": ts(cin, "+01:00"), "checkoutTime": ts(cin + Duration::days(3), "+01:00")}]})),
                vec!["INBOX", "CATEGORY_UPDATES"],
            )
        }
        5 => {
            let start = later(45, 19);
            (
                "EVENT_TICKET",
                "Ticketmaster".into(),
                "customer_support@email.ticketmaster.com".into(),
                "You got the tickets! Coldplay – Music of the Spheres 🎶".into(),
                format!("Order {pnr}: 2 tickets, Section 104, Row K. Doors open at 6:30 PM at Levi's Stadium."),
                Some(json!({"@context": "http://schema.org", "@type": "EventReservation",
                    "reservationNumber": pnr,
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "Event", "name": "Coldplay – Music of the Spheres World Tour",
                        "startDate": ts(start, "-08:00"),
                        "location": {"@type": "Place", "name": "Levi's Stadium",
                            "address": {"@type": "PostalAddress", "streetAddress": "4900 Marie P DeBartolo Way",
                                "addressLocality": "Santa Clara", "addressRegion": "CA", "postalCode": "95054", "addressCountry": "US"}}}})),
                vec!["INBOX", "CATEGORY_PROMOTIONS"],
            )
        }
        6 => {
            let start = later(20, 20);
            (
                "EVENT_TICKET",
                "EVENTIM".into(),
                "tickets@eventim.de".into(),
                format!("Deine Tickets für Die Ärzte – Berlin ({pnr})"),
                format!("Hallo Jane, hier sind deine E-Tickets für Die Ärzte in der Waldbühne am {}. Einlass ab 18:00 Uhr. Viel Spaß! 🤘", start.format("%d.%m.%Y")),
                Some(json!({"@context": "http://schema.org", "@type": "EventReservation",
                    "reservationNumber": pnr, "reservationStatus": "http://schema.org/Confirmed",
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "MusicEvent", "name": "Die Ärzte – Live",
                        "startDate": ts(start, "+01:00"),
                        "location": {"@type": "Place", "name": "Waldbühne",
                            "address": {"@type": "PostalAddress", "streetAddress": "Glockenturmstraße 1",
                                "addressLocality": "Berlin", "postalCode": "14053", "addressCountry": "DE"}}}})),
                vec!["INBOX", "CATEGORY_PROMOTIONS"],
            )
        }
        7 => {
            let at = later(3, 19);
            (
                "BOOKING",
                "OpenTable".into(),
                "member_services@opentable.com".into(),
                "Your reservation at Nopa is confirmed".into(),
                format!("Table for 4 on {} at 7:15 PM, confirmation #{}. Need to change it? Call (415) 864-8643.", at.format("%A, %B %-d"), v % 100_000),
                Some(json!({"@context": "http://schema.org", "@type": "FoodEstablishmentReservation",
                    "reservationNumber": format!("{}", v % 100_000), "reservationStatus": "http://schema.org/Confirmed",
                    "underName": {"@type": "Person", "name": "Jane Doe"},
                    "reservationFor": {"@type": "FoodEstablishment", "name": "Nopa",
                        "address": {"@type": "PostalAddress", "streetAddress": "560 Divisadero St", "addressLocality": "San Francisco",
                            "addressRegion": "CA", "postalCode": "94117", "addressCountry": "US"}},
                    "startTime": ts(at, "-08:00"), "partySize": 4})),
                vec!["INBOX", "CATEGORY_UPDATES"],
            )
        }
        8 => (
            "BOOKING",
            "Doctolib".into(),
            "no-reply@doctolib.fr".into(),
            "Rendez-vous confirmé chez Dr. Lefèvre".into(),
            format!(
                "Votre rendez-vous du {} à 10h30 est confirmé. Référence {pnr}. Pour annuler : 01 42 68 53 00.",
                later(9, 10).format("%d/%m/%Y")
            ),
            None,
            vec!["INBOX", "CATEGORY_UPDATES"],
        ),
        9 => (
            "PROFESSIONAL",
            "Priya Raman".into(),
            "priya.raman@acme-corp.com".into(),
            "Q3 roadmap review – agenda".into(),
            format!("Hi Jane, agenda for Thursday's review attached. If the VPN acts up again, call me on {phone} or write to priya.raman@acme-corp.com."),
            None,
            vec!["INBOX", "IMPORTANT"],
        ),
        10 => (
            "PROFESSIONAL",
            "Klaus Becker".into(),
            "k.becker@lieferwerk.de".into(),
            "Re: Vertragsentwurf – Rückmeldung bis Freitag".into(),
            format!("Hallo Frau Doe, anbei die Änderungen zum Vertrag (Vorgang {}). Rückfragen gerne unter +49 30 901820. Mit freundlichen Grüßen, Klaus Becker", v % 10_000),
            None,
            vec!["INBOX"],
        ),
        11 => (
            "PROFESSIONAL",
            "LinkedIn".into(),
            "messages-noreply@linkedin.com".into(),
            "Tom Becker sent you a message about a Staff Engineer role".into(),
            format!("Hi Jane, I'm recruiting for a Staff Engineer role (Rust, distributed systems), req #{}. Reach me at tom.recruiter@talentfirm.io.", v % 10_000),
            None,
            vec!["INBOX", "CATEGORY_SOCIAL"],
        ),
        12 => (
            "PERSONAL",
            friend.to_string(),
            format!("{}.{}@gmail.com", friend.to_lowercase(), v % 97),
            "Dinner Saturday? 🍝".into(),
            format!("Hey! Dinner at ours on Saturday? Bring the kids. My new number is {phone}, text me 😊"),
            None,
            vec!["INBOX", "UNREAD"],
        ),
        13 => (
            "PERSONAL",
            "Mama".into(),
            "helga.doe@web.de".into(),
            "Geburtstag von Oma 🎂".into(),
            format!("Liebe Jane, vergiss nicht Omas Geburtstag am {}! Kuss, Mama. PS: meine neue Handynummer ist 0171 2345678.", later(5, 12).format("%d.%m.")),
            None,
            vec!["INBOX"],
        ),
        14 => (
            "OTHER",
            "Chase".into(),
            "no.reply.alerts@chase.com".into(),
            "Your statement is ready".into(),
            format!("Your statement for card 4111 1111 1111 {:04} is ready. For your security we never ask for your SSN (e.g. 123-45-6789) by email.", v % 10_000),
            None,
            vec!["INBOX", "CATEGORY_UPDATES"],
        ),
        _ => (
            "OTHER",
            "The Rust Weekly".into(),
            "newsletter@rustweekly.dev".into(),
            format!("This week in Rust #{}", 500 + v % 100),
            format!("Issue #{}: async closures, a new borrow-checker talk, and {} crates you'll love. Unsubscribe: https://rustweekly.dev/u", 500 + v % 100, 10 + v % 40),
            None,
            vec!["INBOX", "CATEGORY_PROMOTIONS"],
        ),
    };
    Email {
        html: html_body(&text, ld),
        from_name,
        from_addr,
        to: to.to_string(),
        subject,
        text,
        received: when,
        labels,
        category,
    }
}

/// One message of a mailbox and the changes that made and unmade it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub id: String,
    pub email: Email,
    /// The mailbox version that added it (0: the initial data set).
    pub added_v: u64,
    /// The mailbox version that deleted it.
    pub deleted_v: Option<u64>,
    /// Moves between folders (Outlook), oldest first: (version, folder's well-known name).
    /// Before the first it is in `inbox`.
    pub moves: Vec<(u64, String)>,
    /// The mailbox version that marked it read (Gmail: `UNREAD` removed; Graph: `isRead`).
    pub read_v: Option<u64>,
}

impl Mail {
    fn new(id: String, email: Email, added_v: u64) -> Self {
        Self {
            id,
            email,
            added_v,
            deleted_v: None,
            moves: Vec::new(),
            read_v: None,
        }
    }

    pub fn live(&self) -> bool {
        self.deleted_v.is_none()
    }

    /// The folder it was in at mailbox version `v` (Outlook).
    pub fn folder_at(&self, v: u64) -> &str {
        self.moves
            .iter()
            .rev()
            .find(|(at, _)| *at <= v)
            .map_or("inbox", |(_, f)| f.as_str())
    }

    /// The folder it is in now.
    pub fn folder(&self) -> &str {
        self.folder_at(u64::MAX)
    }

    /// Its labels now (`UNREAD` gone once read).
    pub fn labels(&self) -> Vec<&'static str> {
        self.email
            .labels
            .iter()
            .copied()
            .filter(|l| self.read_v.is_none() || *l != "UNREAD")
            .collect()
    }

    /// Whether it was unread before it was marked read (a label change happened).
    pub fn was_unread(&self) -> bool {
        self.email.labels.contains(&"UNREAD")
    }

    /// Whether it existed at mailbox version `v`.
    pub fn live_at(&self, v: u64) -> bool {
        self.added_v <= v && self.deleted_v.is_none_or(|d| d > v)
    }
}

/// An account's mailbox: messages in arrival order and a version counter (one per change).
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub mails: Vec<Mail>,
    pub version: u64,
    pub mix: u64,
}

impl Mailbox {
    /// The initial data set; `id(mix, n)` names the n-th message.
    pub fn generate(
        seed: u64,
        account: &str,
        count: usize,
        id: impl Fn(u64, u64) -> String,
    ) -> Self {
        let mix = mix(seed, account);
        let start = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
        let mails = (0..count)
            .map(|i| {
                let when = start
                    + Duration::hours(17 * i as i64)
                    + Duration::minutes(((mix >> (i % 32)) % 50) as i64);
                Mail::new(id(mix, i as u64), sample_email(mix, i, when, account), 0)
            })
            .collect();
        Self {
            mails,
            version: 0,
            mix,
        }
    }

    pub fn live_ids(&self) -> Vec<String> {
        self.mails
            .iter()
            .filter(|m| m.live())
            .map(|m| m.id.clone())
            .collect()
    }

    /// Adds `n` new messages (one change each); returns their ids.
    pub fn add(&mut self, n: usize, id: impl Fn(u64, u64) -> String) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let i = self.mails.len();
            let last = self
                .mails
                .last()
                .map_or_else(Utc::now, |m| m.email.received);
            self.version += 1;
            let email = sample_email(
                self.mix,
                i,
                last + Duration::minutes(37),
                &self
                    .mails
                    .first()
                    .map_or(String::new(), |m| m.email.to.clone()),
            );
            let mail = Mail::new(id(self.mix, i as u64), email, self.version);
            ids.push(mail.id.clone());
            self.mails.push(mail);
        }
        ids
    }

    /// Deletes the given live messages (one change each); returns those deleted.
    pub fn delete_ids(&mut self, ids: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(m) = self.mails.iter_mut().find(|m| &m.id == id && m.live()) {
                self.version += 1;
                m.deleted_v = Some(self.version);
                out.push(id.clone());
            }
        }
        out
    }

    /// Moves the given live messages to `folder` (one change each); returns those moved.
    pub fn move_ids(&mut self, ids: &[String], folder: &str) -> Vec<String> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(m) = self
                .mails
                .iter_mut()
                .find(|m| &m.id == id && m.live() && m.folder() != folder)
            {
                self.version += 1;
                m.moves.push((self.version, folder.to_string()));
                out.push(id.clone());
            }
        }
        out
    }

    /// Marks the given live unread messages read (one change each); returns those changed.
    pub fn mark_read(&mut self, ids: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(m) = self
                .mails
                .iter_mut()
                .find(|m| &m.id == id && m.live() && m.read_v.is_none() && m.was_unread())
            {
                self.version += 1;
                m.read_v = Some(self.version);
                out.push(id.clone());
            }
        }
        out
    }

    /// Up to `n` live unread messages, oldest first (to mark read in tests).
    pub fn unread(&self, n: usize) -> Vec<String> {
        self.mails
            .iter()
            .filter(|m| m.live() && m.read_v.is_none() && m.was_unread())
            .take(n)
            .map(|m| m.id.clone())
            .collect()
    }

    /// Deletes the `n` oldest live messages; returns their ids.
    pub fn delete_oldest(&mut self, n: usize) -> Vec<String> {
        let mut live: Vec<(DateTime<Utc>, String)> = self
            .mails
            .iter()
            .filter(|m| m.live())
            .map(|m| (m.email.received, m.id.clone()))
            .collect();
        live.sort();
        let ids: Vec<String> = live.into_iter().take(n).map(|(_, id)| id).collect();
        self.delete_ids(&ids)
    }
}

// ------------------------------------------------------------------------------------------
// Gmail's data set

/// Gmail's message id: 16 hex digits, increasing with arrival.
fn gmail_id(mix: u64, n: u64) -> String {
    format!(
        "{:016x}",
        0x18e0_0000_0000_0000u64 + (mix % 0xff_ffff) * 0x1000 + n * 0x3_1d4f_7a2b
    )
}

/// The accounts' mailboxes (deterministic from the seed) with changes made at run time.
pub struct GoogleData {
    pub seed: u64,
    accounts: Mutex<HashMap<String, Mailbox>>,
    throttles: AtomicU64,
    /// Quota spent per (account, window).
    usage: Mutex<HashMap<(String, u64), u32>>,
    /// Quota units charged since start, all accounts (Gmail's per-method costs; a batch is
    /// the sum of its inner calls).
    units: AtomicU64,
}

impl GoogleData {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Mutex::new(HashMap::new()),
            throttles: AtomicU64::new(0),
            usage: Mutex::new(HashMap::new()),
            units: AtomicU64::new(0),
        }
    }

    /// Quota units charged since the sandbox started.
    pub fn units_spent(&self) -> u64 {
        self.units.load(Ordering::SeqCst)
    }

    /// Spends quota; true when the account is over it. Gmail's own limit is in units per
    /// minute; `Faults::rate_limit` (as for every provider) counts requests per 15 minutes.
    fn spend(&self, account: &str, units: u32, rate_limit: Option<u32>, now_ms: i64) -> bool {
        self.units.fetch_add(u64::from(units), Ordering::SeqCst);
        let secs = (now_ms / 1000).max(0) as u64;
        let (window, cost, limit) = match rate_limit {
            Some(l) => (secs / 900, 1, l),
            None => (secs / 60, units, USER_UNITS_PER_MINUTE),
        };
        let mut usage = self.usage.lock().expect("usage");
        let used = usage.entry((account.to_string(), window)).or_insert(0);
        *used += cost;
        *used > limit
    }

    fn with<R>(&self, account: &str, f: impl FnOnce(&mut Mailbox) -> R) -> R {
        let mut accounts = self.accounts.lock().expect("accounts");
        let mb = accounts
            .entry(account.to_string())
            .or_insert_with(|| Mailbox::generate(self.seed, account, DEFAULT_EMAILS, gmail_id));
        f(mb)
    }

    /// The ids of the account's live messages (what a full sync must end with).
    pub fn ids(&self, account: &str) -> Vec<String> {
        self.with(account, |mb| mb.live_ids())
    }

    /// Adds `n` new messages; returns their ids.
    pub fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.with(account, |mb| mb.add(n, gmail_id))
    }

    /// Deletes the `m` oldest live messages; returns their ids.
    pub fn delete(&self, account: &str, m: usize) -> Vec<String> {
        self.with(account, |mb| mb.delete_oldest(m))
    }

    /// Deletes the given messages; returns those that were live.
    pub fn delete_ids(&self, account: &str, ids: &[String]) -> Vec<String> {
        self.with(account, |mb| mb.delete_ids(ids))
    }

    /// Marks the given messages read (`UNREAD` removed, a history record); returns those
    /// changed.
    pub fn mark_read(&self, account: &str, ids: &[String]) -> Vec<String> {
        self.with(account, |mb| mb.mark_read(ids))
    }

    /// Up to `n` unread messages of the account.
    pub fn unread(&self, account: &str, n: usize) -> Vec<String> {
        self.with(account, |mb| mb.unread(n))
    }

    /// The email behind a message id (tests inspect what the client should have read).
    pub fn email(&self, account: &str, id: &str) -> Option<Email> {
        self.with(account, |mb| {
            mb.mails
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.email.clone())
        })
    }
}

/// Gmail's history id of mailbox version `v`: increasing, not contiguous.
fn history_id(mix: u64, v: u64) -> u64 {
    9_800_000 + (mix % 90_000) + v * 13
}

// ------------------------------------------------------------------------------------------
// Replies

fn google_error(status: u16, message: &str, reason: &str, domain: &str, s: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .content_type("application/json; charset=UTF-8")
        .body(
            json!({"error": {"code": status, "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}], "status": s}})
            .to_string(),
        )
}

/// Gmail's quota replies, by `Faults::quota` (None: not a Gmail quota kind).
fn quota_reply(kind: &str) -> Option<Response> {
    Some(match kind {
        "userRateLimitExceeded" => google_error(
            403,
            "User Rate Limit Exceeded",
            kind,
            "usageLimits",
            "PERMISSION_DENIED",
        ),
        "rateLimitExceeded" => google_error(
            403,
            "Rate Limit Exceeded",
            kind,
            "usageLimits",
            "PERMISSION_DENIED",
        ),
        "dailyLimitExceeded" => google_error(
            403,
            "Daily Limit Exceeded",
            kind,
            "usageLimits",
            "PERMISSION_DENIED",
        ),
        "rateLimitExceeded429" => google_error(
            429,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:123456789'.",
            "rateLimitExceeded",
            "global",
            "RESOURCE_EXHAUSTED",
        ),
        _ => return None,
    })
}

fn not_found() -> Response {
    google_error(
        404,
        "Requested entity was not found.",
        "notFound",
        "global",
        "NOT_FOUND",
    )
}

fn bad_request(message: &str) -> Response {
    google_error(
        400,
        message,
        "invalidArgument",
        "global",
        "INVALID_ARGUMENT",
    )
}

fn json_reply(body: &Value, malformed: bool) -> Response {
    let text = body.to_string();
    Response::builder()
        .content_type("application/json; charset=UTF-8")
        .body(if malformed { truncated(&text) } else { text })
}

/// Authenticates, records and applies faults. Err is the reply to send; Ok says whether this
/// reply is to be malformed.
async fn admit(
    state: &SandboxState,
    req: &Request,
    page: bool,
    units: u32,
) -> Result<(String, bool), Response> {
    let what = format!(
        "google {}{}",
        req.uri().path(),
        req.uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let fault = state.before_reply(what, page).await;
    let account = state.authenticate(ProviderId::Google, req)?;
    if let Some(reply) = state.quota_fault().and_then(|q| quota_reply(&q)) {
        return Err(reply);
    }
    let rate_limit = state.faults.lock().expect("faults").rate_limit;
    if state
        .google
        .spend(&account, units, rate_limit, state.now_ms())
    {
        return Err(google_error(
            429,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:123456789'.",
            "rateLimitExceeded",
            "global",
            "RESOURCE_EXHAUSTED",
        ));
    }
    match fault {
        Some(DataFault::Unavailable) => Err(google_error(
            503,
            "The service is currently unavailable.",
            "backendError",
            "global",
            "UNAVAILABLE",
        )),
        Some(DataFault::Throttled { reset_secs }) => {
            // Gmail throttles both ways: 429 (sometimes with Retry-After) and 403.
            if state
                .google
                .throttles
                .fetch_add(1, Ordering::SeqCst)
                .is_multiple_of(2)
            {
                let mut r = google_error(
                    429,
                    "Too many concurrent requests for user",
                    "rateLimitExceeded",
                    "global",
                    "RESOURCE_EXHAUSTED",
                );
                r.headers_mut()
                    .insert("retry-after", reset_secs.max(1).into());
                Err(r)
            } else {
                Err(Response::builder()
                    .status(StatusCode::FORBIDDEN)
                    .content_type("application/json; charset=UTF-8")
                    .body(
                        json!({"error": {"code": 403, "message": "User Rate Limit Exceeded",
                        "errors": [{"message": "User Rate Limit Exceeded", "domain": "usageLimits",
                                    "reason": "userRateLimitExceeded"}]}})
                        .to_string(),
                    ))
            }
        }
        Some(DataFault::Malformed) => Ok((account, true)),
        None => Ok((account, false)),
    }
}

/// A query string's pairs, repeated keys kept.
fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn first<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn all<'a>(q: &'a [(String, String)], k: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `maxResults`: default 100, clamped to 1–500 as Gmail does (not an error).
fn max_results(q: &[(String, String)]) -> Result<usize, Response> {
    match first(q, "maxResults") {
        None => Ok(100),
        Some(s) => s
            .parse::<i64>()
            .map(|n| n.clamp(1, 500) as usize)
            .map_err(|_| bad_request(&format!("Invalid value '{s}'. Values must match the following regular expression: '[0-9]+'"))),
    }
}

fn page_token(q: &[(String, String)]) -> Result<usize, Response> {
    match first(q, "pageToken") {
        None => Ok(0),
        Some(t) => t
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_sub(9_000_000_000_000_000_000))
            .map(|n| n as usize)
            .ok_or_else(|| bad_request("Invalid pageToken")),
    }
}

fn make_token(offset: usize) -> String {
    (9_000_000_000_000_000_000u64 + offset as u64).to_string()
}

#[handler]
async fn profile(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, _) = match admit(&state, req, false, 1).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (total, hid) = state.google.with(&account, |mb| {
        (
            mb.mails.iter().filter(|m| m.live()).count(),
            history_id(mb.mix, mb.version),
        )
    });
    json_reply(
        &json!({"emailAddress": account, "messagesTotal": total, "threadsTotal": total,
                "historyId": hid.to_string()}),
        false,
    )
}

/// `GET /gmail/v1/users/me/messages`: newest first.
#[handler]
async fn list(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, malformed) = match admit(&state, req, true, 5).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = pairs(req.uri().query().unwrap_or(""));
    let (max, offset) = match (max_results(&q), page_token(&q)) {
        (Ok(m), Ok(o)) => (m, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut live: Vec<(DateTime<Utc>, String)> = state.google.with(&account, |mb| {
        mb.mails
            .iter()
            .filter(|m| m.live())
            .map(|m| (m.email.received, m.id.clone()))
            .collect()
    });
    live.sort_by(|a, b| b.cmp(a));
    let page: Vec<Value> = live
        .iter()
        .skip(offset)
        .take(max)
        .map(|(_, id)| json!({"id": id, "threadId": id}))
        .collect();
    let mut body = json!({"resultSizeEstimate": live.len().saturating_sub(offset)});
    if !page.is_empty() {
        body["messages"] = json!(page);
    }
    if offset + max < live.len() {
        body["nextPageToken"] = json!(make_token(offset + max));
    }
    json_reply(&body, malformed)
}

/// A message in the requested format, or (status, error body).
fn message_json(state: &SandboxState, account: &str, id: &str, query: &str) -> (u16, Value) {
    let q = pairs(query);
    let format = first(&q, "format").unwrap_or("full");
    if !["minimal", "metadata", "full"].contains(&format) {
        return (
            400,
            json!({"error": {"code": 400, "message": format!("Invalid value at 'format' ({format})"),
                "errors": [{"message": "Invalid value", "domain": "global", "reason": "invalidArgument"}],
                "status": "INVALID_ARGUMENT"}}),
        );
    }
    let wanted: Vec<String> = all(&q, "metadataHeaders")
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let found = state.google.with(account, |mb| {
        mb.mails
            .iter()
            .find(|m| m.id == id && m.live())
            .map(|m| (m.clone(), history_id(mb.mix, m.added_v)))
    });
    let Some((m, hid)) = found else {
        return (
            404,
            json!({"error": {"code": 404, "message": "Requested entity was not found.",
                "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}],
                "status": "NOT_FOUND"}}),
        );
    };
    let e = &m.email;
    let mut headers = vec![
        ("From", format!("{} <{}>", e.from_name, e.from_addr)),
        ("To", e.to.clone()),
        ("Subject", e.subject.clone()),
        ("Date", e.received.to_rfc2822()),
        ("Message-ID", format!("<{}@mail.sandbox>", m.id)),
    ];
    if e.category == "OTHER" {
        headers.push((
            "List-Unsubscribe",
            format!(
                "<mailto:unsubscribe@{}>",
                e.from_addr.split('@').nth(1).unwrap_or("x")
            ),
        ));
    }
    let snippet: String = html_escape(&e.text)
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let snippet: String = snippet.chars().take(200).collect();
    let mut v = json!({
        "id": m.id, "threadId": m.id, "labelIds": m.labels(),
        "snippet": snippet, "sizeEstimate": e.html.len() + e.text.len() + 900,
        "historyId": hid.to_string(),
        "internalDate": e.received.timestamp_millis().to_string(),
    });
    if format == "minimal" {
        return (200, v);
    }
    let header_json: Vec<Value> = headers
        .iter()
        .filter(|(n, _)| {
            format == "full" || wanted.is_empty() || wanted.contains(&n.to_ascii_lowercase())
        })
        .map(|(n, val)| json!({"name": n, "value": val}))
        .collect();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s.as_bytes());
    v["payload"] = if format == "metadata" {
        json!({"partId": "", "mimeType": "multipart/alternative", "filename": "",
               "headers": header_json, "body": {"size": 0}})
    } else {
        json!({"partId": "", "mimeType": "multipart/alternative", "filename": "",
               "headers": header_json, "body": {"size": 0},
               "parts": [
                 {"partId": "0", "mimeType": "text/plain", "filename": "",
                  "headers": [{"name": "Content-Type", "value": "text/plain; charset=\"UTF-8\""}],
                  "body": {"size": e.text.len(), "data": b64(&e.text)}},
                 {"partId": "1", "mimeType": "text/html", "filename": "",
                  "headers": [{"name": "Content-Type", "value": "text/html; charset=\"UTF-8\""}],
                  "body": {"size": e.html.len(), "data": b64(&e.html)}}]})
    };
    (200, v)
}

/// `GET /gmail/v1/users/me/messages/{id}`.
#[handler]
async fn get(state: Data<&Arc<SandboxState>>, req: &Request, Path(id): Path<String>) -> Response {
    let (account, malformed) = match admit(&state, req, false, 5).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (status, body) = message_json(&state, &account, &id, req.uri().query().unwrap_or(""));
    let mut r = json_reply(&body, malformed);
    r.set_status(StatusCode::from_u16(status).expect("status"));
    r
}

/// `GET /gmail/v1/users/me/history`.
#[handler]
async fn history(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let (account, malformed) = match admit(&state, req, true, 2).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = pairs(req.uri().query().unwrap_or(""));
    let Some(start) = first(&q, "startHistoryId") else {
        return bad_request("Missing required parameter: startHistoryId");
    };
    let Ok(start) = start.parse::<u64>() else {
        return bad_request(&format!("Invalid value '{start}' for startHistoryId"));
    };
    let (max, offset) = match (max_results(&q), page_token(&q)) {
        (Ok(m), Ok(o)) => (m, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let types = all(&q, "historyTypes");
    let want = |t: &str| types.is_empty() || types.contains(&t);
    let reply = state.google.with(&account, |mb| {
        let horizon = history_id(mb.mix, 0);
        let current = history_id(mb.mix, mb.version);
        if start < horizon {
            return None;
        }
        // One record per change after `start`, in history order.
        let mut records: Vec<(u64, Value)> = Vec::new();
        for m in &mb.mails {
            let msg = json!({"id": m.id, "threadId": m.id});
            let added = history_id(mb.mix, m.added_v);
            if m.added_v > 0 && added > start && want("messageAdded") {
                let mut full = msg.clone();
                full["labelIds"] = json!(m.labels());
                records.push((
                    added,
                    json!({"id": added.to_string(), "messages": [msg],
                           "messagesAdded": [{"message": full}]}),
                ));
            }
            if let Some(r) = m.read_v.map(|r| history_id(mb.mix, r)) {
                if r > start && want("labelRemoved") {
                    let mut now = msg.clone();
                    now["labelIds"] = json!(m.labels());
                    records.push((
                        r,
                        json!({"id": r.to_string(), "messages": [msg],
                               "labelsRemoved": [{"message": now, "labelIds": ["UNREAD"]}]}),
                    ));
                }
            }
            if let Some(d) = m.deleted_v.map(|d| history_id(mb.mix, d)) {
                if d > start && want("messageDeleted") {
                    records.push((
                        d,
                        json!({"id": d.to_string(), "messages": [msg],
                               "messagesDeleted": [{"message": msg}]}),
                    ));
                }
            }
        }
        records.sort_by_key(|(h, _)| *h);
        Some((records, current))
    });
    let Some((records, current)) = reply else {
        return not_found();
    };
    if state.cursors_expired() {
        return not_found();
    }
    let page: Vec<Value> = records
        .iter()
        .skip(offset)
        .take(max)
        .map(|(_, r)| r.clone())
        .collect();
    let mut body = json!({"historyId": current.to_string()});
    if !page.is_empty() {
        body["history"] = json!(page);
    }
    if offset + max < records.len() {
        body["nextPageToken"] = json!(make_token(offset + max));
    }
    json_reply(&body, malformed)
}

/// `POST /batch/gmail/v1`: multipart/mixed of `application/http` parts, each a
/// `GET /gmail/v1/users/me/messages/{id}?…` answered in order with its own status.
#[handler]
async fn batch(state: Data<&Arc<SandboxState>>, req: &Request, body: String) -> Response {
    // Every inner call counts against the quota.
    let calls = body.matches("application/http").count().max(1) as u32;
    let (account, malformed) = match admit(&state, req, true, 5 * calls).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(boundary) = ct
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .filter(|_| ct.starts_with("multipart/mixed"))
    else {
        return bad_request("Batch requests must be multipart/mixed with a boundary");
    };
    let delimiter = format!("--{boundary}");
    let parts: Vec<&str> = body
        .split(delimiter.as_str())
        .skip(1)
        .take_while(|p| !p.starts_with("--"))
        .collect();
    if parts.is_empty() {
        return bad_request("Empty batch request");
    }
    if parts.len() > MAX_BATCH {
        return bad_request(&format!(
            "Too many requests in batch: {} (maximum {MAX_BATCH})",
            parts.len()
        ));
    }
    let out_boundary = format!(
        "batch_{:016x}",
        mix(state.seed, &account) ^ parts.len() as u64
    );
    let mut out = String::new();
    for (n, part) in parts.iter().enumerate() {
        let part = part.trim_start_matches(['\r', '\n']);
        let (head, inner) = split_head(part);
        let content_id = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-id")
                    .then(|| v.trim().trim_matches(['<', '>']).to_string())
            })
            .unwrap_or_else(|| format!("item{}", n + 1));
        let request_line = inner.trim_start().lines().next().unwrap_or("");
        let mut words = request_line.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let (status, reply) = match (method, path.strip_prefix("/gmail/v1/users/me/messages/")) {
            ("GET", Some(id)) if !id.is_empty() && !id.contains('/') => {
                message_json(&state, &account, id, query)
            }
            _ => (
                404,
                json!({"error": {"code": 404, "message": "Requested entity was not found.",
                    "errors": [{"message": "Not Found", "domain": "global", "reason": "notFound"}],
                    "status": "NOT_FOUND"}}),
            ),
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            _ => "Not Found",
        };
        out.push_str(&format!(
            "--{out_boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{content_id}>\r\n\r\n\
             HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\nVary: Origin\r\n\r\n{reply}\r\n"
        ));
    }
    out.push_str(&format!("--{out_boundary}--\r\n"));
    Response::builder()
        .content_type(format!("multipart/mixed; boundary={out_boundary}"))
        .body(if malformed { truncated(&out) } else { out })
}

/// Splits a MIME entity at its first blank line: (headers, rest).
fn split_head(s: &str) -> (&str, &str) {
    if let Some(i) = s.find("\r\n\r\n") {
        (&s[..i], &s[i + 4..])
    } else if let Some(i) = s.find("\n\n") {
        (&s[..i], &s[i + 2..])
    } else {
        (s, "")
    }
}

pub fn routes() -> Route {
    Route::new()
        .at("/o/oauth2/v2/auth", poem::get(oauth::authorize))
        .at("/token", poem::post(oauth::token))
        .at("/revoke", poem::post(oauth::revoke))
        .at("/gmail/v1/users/me/profile", poem::get(profile))
        .at("/gmail/v1/users/me/messages", poem::get(list))
        .at("/gmail/v1/users/me/messages/:id", poem::get(get))
        .at("/gmail/v1/users/me/history", poem::get(history))
        .at("/batch/gmail/v1", poem::post(batch))
}

// ------------------------------------------------------------------------------------------
// Control routes

#[derive(Deserialize)]
struct AddBody {
    count: usize,
}

#[derive(Deserialize)]
struct DeleteBody {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    oldest: usize,
}

#[handler]
fn add_messages(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<AddBody>,
) -> Json<Value> {
    Json(json!({"ids": state.google.add(&account, body.count)}))
}

#[handler]
fn delete_messages(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<DeleteBody>,
) -> Json<Value> {
    let mut ids = state.google.delete_ids(&account, &body.ids);
    ids.extend(state.google.delete(&account, body.oldest));
    Json(json!({"ids": ids}))
}

#[derive(Deserialize)]
struct IdsBody {
    #[serde(default)]
    ids: Vec<String>,
    /// Besides `ids`, this many unread messages (oldest first).
    #[serde(default)]
    count: usize,
}

#[handler]
fn read_messages(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<IdsBody>,
) -> Json<Value> {
    let mut ids = body.ids.clone();
    ids.extend(state.google.unread(&account, body.count));
    Json(json!({"ids": state.google.mark_read(&account, &ids)}))
}

#[handler]
fn list_ids(state: Data<&Arc<SandboxState>>, Path(account): Path<String>) -> Json<Value> {
    Json(json!({"ids": state.google.ids(&account)}))
}

/// Sandbox-only control routes under `/_sandbox/google`: `GET accounts/{a}/messages` (live ids),
/// `POST accounts/{a}/messages {"count"}` (add), `POST accounts/{a}/messages/delete
/// {"ids"?, "oldest"?}` (delete by id and/or the oldest n), `POST accounts/{a}/messages/read
/// {"ids"?, "count"?}` (mark read: `UNREAD` removed, a `labelsRemoved` history record); each
/// answers `{"ids": [...]}`.
pub fn control_routes() -> Route {
    Route::new()
        .at(
            "/accounts/:account/messages/read",
            poem::post(read_messages),
        )
        .at(
            "/accounts/:account/messages",
            poem::get(list_ids).post(add_messages),
        )
        .at(
            "/accounts/:account/messages/delete",
            poem::post(delete_messages),
        )
}
