//! Deterministic, realistic items for the benchmark: posts and captions with hashtags,
//! mentions, dates and some PII, and emails with and without JSON-LD or microdata markup.
//! The mix per 20 items: 9 posts, 4 media captions, 7 emails (3 with JSON-LD, 1 with
//! microdata, 3 with plain HTML).

use crate::{Input, Kind};

/// An owned [`Input`], as the benchmark keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedInput {
    pub kind: Kind,
    pub text: String,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub html: Option<String>,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
}

impl OwnedInput {
    pub fn as_input(&self) -> Input<'_> {
        Input {
            kind: self.kind,
            text: &self.text,
            subject: self.subject.as_deref(),
            sender: self.sender.as_deref(),
            html: self.html.as_deref(),
            hashtags: &self.hashtags,
            mentions: &self.mentions,
            signals: crate::MailSignals::NONE,
        }
    }

    /// Bytes of text the normalizer reads: text, subject, sender and HTML.
    pub fn byte_len(&self) -> usize {
        self.text.len()
            + self.subject.as_ref().map_or(0, String::len)
            + self.sender.as_ref().map_or(0, String::len)
            + self.html.as_ref().map_or(0, String::len)
    }
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const WORDS: &[&str] = &[
    "sunset",
    "beach",
    "coffee",
    "morning",
    "with",
    "the",
    "best",
    "crew",
    "finally",
    "back",
    "home",
    "after",
    "amazing",
    "week",
    "in",
    "trip",
    "mountains",
    "city",
    "lights",
    "dinner",
    "friends",
    "and",
    "family",
    "new",
    "project",
    "launch",
    "today",
    "so",
    "proud",
    "of",
    "team",
    "weekend",
    "vibes",
    "hiking",
    "trail",
    "view",
    "from",
    "top",
    "rainy",
    "day",
    "reading",
    "book",
    "concert",
    "last",
    "night",
    "was",
    "incredible",
    "thanks",
    "everyone",
    "who",
    "came",
    "by",
    "café",
    "Straße",
    "très",
    "bien",
    "mañana",
    "über",
];
const TAGS: &[&str] = &[
    "travel",
    "foodie",
    "sunset",
    "photography",
    "nature",
    "tbt",
    "weekend",
    "love",
    "rustlang",
    "hiking",
    "berlin",
    "paris",
    "madrid",
    "nyc",
    "concert",
    "family",
];
const HANDLES: &[&str] = &[
    "alice",
    "bob_smith",
    "carla.m",
    "dev_team",
    "lifesync",
    "nasa",
    "marco",
];
const PII: &[&str] = &[
    "call me at 415-555-0132",
    "reach me on +44 20 7946 0958",
    "email jane.doe@example.com",
    "my number (212) 555-0187",
    "ping me at marco.rossi@gmail.com",
    "WhatsApp +49 151 23456789",
];
const LOOKALIKES: &[&str] = &[
    "order #112-3456789-1234567",
    "flight LH 401 at 10:15",
    "only $1,299.99",
    "v2.10.3 is out",
    "since 2019",
    "on 03/04/2026",
    "status/1790000000000000000",
    "on 4 March 2026",
];

fn sentence(r: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(r.pick(WORDS));
    }
    s
}

fn post(r: &mut Rng, kind: Kind) -> OwnedInput {
    let words = 10 + r.below(40);
    let mut text = sentence(r, words);
    if r.below(3) == 0 {
        text.push_str(". ");
        text.push_str(r.pick(LOOKALIKES));
    }
    if r.below(6) == 0 {
        text.push_str(", ");
        text.push_str(r.pick(PII));
    }
    let mut hashtags = Vec::new();
    for _ in 0..r.below(5) {
        let t = r.pick(TAGS);
        text.push_str(" #");
        text.push_str(t);
        if r.below(2) == 0 {
            hashtags.push(t.to_string());
        }
    }
    let mut mentions = Vec::new();
    for _ in 0..r.below(3) {
        let h = r.pick(HANDLES);
        text.push_str(" @");
        text.push_str(h);
        mentions.push(h.to_string());
    }
    OwnedInput {
        kind,
        text,
        subject: None,
        sender: None,
        html: None,
        hashtags,
        mentions,
    }
}

fn html_page(r: &mut Rng, markup: &str) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>td{padding:4px}</style></head><body><table width=\"100%\">",
    );
    let rows = 8 + r.below(16);
    for _ in 0..rows {
        h.push_str("<tr><td class=\"content\"><p>");
        h.push_str(&sentence(r, 12));
        h.push_str("</p></td></tr>");
    }
    h.push_str(markup);
    h.push_str("<p style=\"font-size:11px\">You received this email because you have an account. Unsubscribe | Privacy</p></body></html>");
    h
}

fn email(r: &mut Rng, variant: usize) -> OwnedInput {
    let code: String = (0..6).map(|_| (b'A' + r.below(26) as u8) as char).collect();
    let day = 1 + r.below(28);
    let (sender, subject, snippet, markup) = match variant {
        0 => (
            "United Airlines <notifications@united.com>",
            format!("Your trip confirmation: SFO to JFK on March {day}, 2027"),
            format!("Confirmation {code}. Flight UA 110 departs 8:15 PM. Questions? Call 1-800-555-0199."),
            format!(r#"<script type="application/ld+json">{{"@context":"http://schema.org","@type":"FlightReservation","reservationNumber":"{code}","underName":{{"@type":"Person","name":"Eva Green"}},"reservationFor":{{"@type":"Flight","flightNumber":"110","airline":{{"@type":"Airline","name":"United","iataCode":"UA"}},"departureAirport":{{"@type":"Airport","name":"San Francisco Airport","iataCode":"SFO"}},"departureTime":"2027-03-{day:02}T20:15:00-08:00","arrivalAirport":{{"@type":"Airport","name":"John F. Kennedy International Airport","iataCode":"JFK"}},"arrivalTime":"2027-03-{day:02}T04:30:00-05:00"}}}}</script>"#),
        ),
        1 => (
            "Hotel Adlon <reservations@kempinski.com>",
            format!("Ihre Reservierung {code} – Anreise {day:02}.05.2027"),
            "Vielen Dank für Ihre Buchung. Wir freuen uns auf Ihren Aufenthalt.".to_string(),
            format!(r#"<script type="application/ld+json">{{"@context":"https://schema.org","@graph":[{{"@type":"Organization","name":"Kempinski"}},{{"@type":"LodgingReservation","confirmationNumber":"{code}","checkinTime":"2027-05-{day:02}T15:00:00+02:00","checkoutTime":"2027-05-{d2:02}T11:00:00+02:00","reservationFor":{{"@type":"LodgingBusiness","name":"Hotel Adlon Kempinski","address":{{"@type":"PostalAddress","addressLocality":"Berlin"}}}}}}]}}</script>"#, d2 = day + 1),
        ),
        2 => (
            "Ticketmaster <customer_support@ticketmaster.com>",
            "You got the tickets!".to_string(),
            format!("Order {code}: 2 tickets, Section 112 Row F. Doors open 7pm on Jun {day}, 2027."),
            format!(r#"<script type="application/ld+json">[{{"@context":"https://schema.org","@type":"EventReservation","reservationNumber":"{code}","reservationFor":{{"@type":"Event","name":"Coldplay","startDate":"2027-06-{day:02}T20:00:00-07:00","location":{{"@type":"Place","name":"Rose Bowl","address":"Pasadena, CA"}}}}}}]</script>"#),
        ),
        3 => (
            "OpenTable <no-reply@opentable.com>",
            "Your reservation at Nopa is confirmed".to_string(),
            "Table for 2 on Friday. Need to cancel? Manage your reservation.".to_string(),
            format!(r#"<div itemscope itemtype="http://schema.org/FoodEstablishmentReservation"><meta itemprop="reservationNumber" content="{code}"><meta itemprop="startTime" content="2027-02-{day:02}T19:30:00"><meta itemprop="partySize" content="2"><div itemprop="reservationFor" itemscope itemtype="http://schema.org/FoodEstablishment"><span itemprop="name">Nopa</span><div itemprop="address" itemscope itemtype="http://schema.org/PostalAddress"><meta itemprop="addressLocality" content="San Francisco"></div></div></div>"#),
        ),
        4 => (
            "Marta <marta.lopez@gmail.com>",
            "Fotos del finde".to_string(),
            format!("Hola! Te mando las fotos del {day} de marzo de 2027. Llámame al +34 612 345 678. Un abrazo"),
            String::new(),
        ),
        5 => (
            "Jordan (Recruiter) <jordan@talentbridge.io>",
            "Senior Rust Engineer role - quick chat?".to_string(),
            format!("Hi, I came across your profile on LinkedIn. Would you be free for a 20 minute call on 2027-04-{day:02}? My direct line is (646) 555-0148."),
            String::new(),
        ),
        _ => (
            "Outdoor Gear <newsletter@outdoorgear.example>",
            "Spring sale: 30% off tents".to_string(),
            "Limited time only. Free shipping on orders over $50. Unsubscribe anytime.".to_string(),
            String::new(),
        ),
    };
    OwnedInput {
        kind: Kind::Email,
        text: snippet,
        subject: Some(subject),
        sender: Some(sender.to_string()),
        html: Some(html_page(r, &markup)),
        hashtags: Vec::new(),
        mentions: Vec::new(),
    }
}

/// `n` realistic mixed items, the same for the same `seed`.
pub fn bench_items(n: usize, seed: u64) -> Vec<OwnedInput> {
    let mut r = Rng(seed);
    (0..n)
        .map(|i| match i % 20 {
            0..=8 => post(&mut r, Kind::Post),
            9..=12 => post(&mut r, Kind::Media),
            13..=15 => {
                let v = r.below(3);
                email(&mut r, v)
            }
            16 => email(&mut r, 3),
            _ => {
                let v = 4 + r.below(3);
                email(&mut r, v)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_mixed() {
        let a = bench_items(100, 7);
        assert_eq!(a, bench_items(100, 7));
        assert_ne!(a, bench_items(100, 8));
        assert!(a
            .iter()
            .any(|i| i.kind == Kind::Email
                && i.html.as_deref().is_some_and(|h| h.contains("ld+json"))));
        assert!(a
            .iter()
            .any(|i| i.kind == Kind::Email
                && i.html.as_deref().is_some_and(|h| h.contains("itemscope"))));
        assert!(a
            .iter()
            .any(|i| i.kind == Kind::Post && !i.hashtags.is_empty()));
        for i in &a {
            let n = crate::normalize(&i.as_input());
            assert!(!n.text.contains("555-0132"));
        }
    }
}
