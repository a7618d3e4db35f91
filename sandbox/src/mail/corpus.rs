//! The mail corpus behind Gmail and Outlook: ~126 emails per account, deterministic per (seed,
//! account), covering the seven categories with schema.org JSON-LD reservations in the HTML
//! bodies, PII in the text, and non-ASCII text. Provider-neutral: each stand-in renders an
//! [`Email`] in its own wire shape.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::fnv;

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

/// A per-(seed, account) mixing value.
pub fn mix(seed: u64, account: &str) -> u64 {
    (fnv(account) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

pub(crate) fn html_escape(s: &str) -> String {
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
