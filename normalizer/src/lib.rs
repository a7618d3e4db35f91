//! lifesync's normalizer: turns one synced item (a post, a photo/video caption, an email) into
//! the privacy-safe, searchable fields the service stores. Pure: no I/O, no async, no clock.
//! This module holds the public types and the [`normalize`] entry point; one module per job:
//! [`sanitize`](mod@sanitize) (PII), [`categorize`](mod@categorize) (email categories),
//! [`html`] (an email's HTML body, read once with an HTML tokenizer), [`schema_org`]
//! (reservation markup), [`start`] (an event's start, offset and time zone kept),
//! [`text_start`] (an event's start from the words, without markup), [`extract`] (dates,
//! mentions, hashtags),
//! [`hash`](mod@hash) (content hash), [`link`](mod@link) (the cross-post link key),
//! [`bench_items`](mod@bench_items) (benchmark data).
//!
//! # What is kept
//! - `text` and `subject`: sanitized. An email's text is its snippet or plain body; when it has
//!   none, the visible text of its HTML body (at most [`html::MAX_TEXT`] bytes; [`mod@html`]).
//!   Emails, phone numbers, Luhn-valid payment cards, valid
//!   US SSNs and IBANs with a valid mod-97 checksum are replaced by `[email]`, `[phone]`,
//!   `[card]`, `[ssn]`, `[iban]` (rules and look-alikes that are left alone — order and
//!   tracking numbers, ISBNs, IBAN-shaped strings failing the checksum: [`mod@sanitize`]). No
//!   raw PII reaches them.
//! - `sender_domain`: only the domain of the sender's address, lowercased
//!   (`Jane <jane@Example.com>` → `example.com`). The local part and the display name
//!   identify a person and are dropped; the domain is enough to tell an airline from a
//!   friend and to group by organization. The local part is read only to recognise bulk
//!   senders (`newsletter@…`) during categorization.
//! - `mentions`: `@handles` (public account names), lowercased, without `@`. Email addresses
//!   are never mentions, not even their domain.
//! - `hashtags`: lowercased, without `#`, merged with the provider's entities.
//! - `dates`: calendar dates written in the subject and text.
//! - `event`: a reservation's type, start (with its UTC offset and IANA time zone when the
//!   markup gives them: [`EventStart`]), location (a venue, airport or station, never a
//!   person's address) and confirmation code; names, emails and phone numbers of the
//!   reservation holder are never read from markup.
//! - `content_hash`: see below.
//!
//! Mentions, hashtags and dates are read from the sanitized subject and text, sorted and
//! de-duplicated.
//!
//! # Canonical form of the content hash
//! `content_hash = SHA-256( kind + "\n" + canon(sanitize(text)) )` where `kind` is `post`,
//! `media` or `email`, and `canon` applies Unicode NFKC, then lowercasing, then folds every
//! run of whitespace to one space and trims both ends. The same content cross-posted to two
//! providers (same kind) hashes the same even if spacing, case, compatibility characters or
//! the PII in it differ. The subject of an email is not part of the hash.
//!
//! # Email categories
//! | category | `as_str()` | from markup | `is_event` |
//! | --- | --- | --- | --- |
//! | [`Category::TravelFlight`] | `TRAVEL_FLIGHT` | `FlightReservation` | yes |
//! | [`Category::TravelHotel`] | `TRAVEL_HOTEL` | `LodgingReservation` | yes |
//! | [`Category::EventTicket`] | `EVENT_TICKET` | `EventReservation` | yes |
//! | [`Category::Booking`] | `BOOKING` | `FoodEstablishmentReservation`, `RentalCarReservation`, `TrainReservation`, `BusReservation`, `TaxiReservation`, any other `…Reservation`, `Order`, `ParcelDelivery` | yes |
//! | [`Category::Professional`] | `PROFESSIONAL` | – | no |
//! | [`Category::Personal`] | `PERSONAL` | – | no |
//! | [`Category::Other`] | `OTHER` | – | no |
//!
//! Markup (JSON-LD or microdata, http or https context, read from the HTML body by an HTML
//! tokenizer, never by patterns over markup: [`mod@html`]) decides first; otherwise, in this
//! order, the sender's domain (a maintained table of airlines, rail, hotels, ticketing,
//! restaurant booking, car rental, carriers, shops, recruiting, media, …), the shape of the
//! content (IATA airport pairs, flight numbers, confirmation codes), the mailbox's signals
//! ([`MailSignals`]: Gmail `CATEGORY_*` labels, Outlook `inferenceClassification`,
//! `List-Unsubscribe` / `List-Id` / `Precedence: bulk`), then keywords in fifteen languages
//! (English, German, French, Spanish, Portuguese, Italian, Dutch, Polish, Turkish, Russian,
//! Arabic, Hindi, Japanese, Chinese simplified and traditional, Korean; no word boundaries
//! around scripts written without spaces) ([`mod@categorize`]). Only emails get a category.
//!
//! # Dates
//! `YYYY-MM-DD`; `A/B/YYYY` is month first (US) unless `A` > 12 and `B` ≤ 12 (then day
//! first); `DD.MM.YYYY` is always day first; written dates with English, German, French or
//! Spanish month names (`March 3, 2026`, `3 Mar 2026`, `Mon, 04 Mar 2024 10:15:00 -0800`,
//! `3. März 2026`, `1er mars 2026`, `3 de marzo de 2026`). Details in [`extract`]. An event's
//! `start` is the wall-clock time written in the markup with the UTC offset and IANA time zone
//! written with it, if any (`2027-03-04T20:15:00-08:00`, `2027-03-04T20:15[America/Los_Angeles]`);
//! a start without either stays local ([`mod@start`]). An event found without markup takes its
//! start from the text: a written date with a time of day next to it, and the UTC offset written
//! with the time, if any ([`text_start`]).

pub mod bench_items;
pub mod categorize;
pub mod extract;
pub mod hash;
pub mod html;
pub mod link;
pub mod sanitize;
pub mod schema_org;
pub mod start;
pub mod text_start;

pub use bench_items::{bench_items, OwnedInput};
pub use hash::content_hash;
pub use sanitize::sanitize;
pub use start::EventStart;

use chrono::NaiveDate;
use serde::Serialize;

/// What kind of item is normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Kind {
    Post,
    Media,
    Email,
}

impl Kind {
    /// `post`, `media` or `email` (the first line of the hashed canonical form).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Media => "media",
            Kind::Email => "email",
        }
    }
}

/// One item to normalize, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub kind: Kind,
    /// Post text, caption, or an email's snippet or plain body (empty: an email's text is read
    /// from its HTML body).
    pub text: &'a str,
    /// Emails: the subject.
    pub subject: Option<&'a str>,
    /// Emails: `Name <addr@domain>` or a bare address.
    pub sender: Option<&'a str>,
    /// Emails: the HTML body (schema.org markup lives here; its text stands in for an empty
    /// `text`).
    pub html: Option<&'a str>,
    /// Provider hashtag entities, if any (`#` optional).
    pub hashtags: &'a [String],
    /// Provider mention entities (`@handles`, `@` optional), if any.
    pub mentions: &'a [String],
    /// Emails: what the mailbox says about the message besides its content.
    pub signals: MailSignals<'a>,
}

/// What a mailbox provider attaches to a message besides its content: Gmail's `labelIds`
/// (`CATEGORY_PROMOTIONS`, `CATEGORY_SOCIAL`, `CATEGORY_UPDATES`, `CATEGORY_FORUMS`,
/// `CATEGORY_PERSONAL`, …), the message's headers (`List-Unsubscribe`, `List-Id`,
/// `Precedence`; only these are read), and Outlook's `inferenceClassification` (`focused`
/// or `other`). All optional: [`MailSignals::NONE`] is a message without them.
#[derive(Debug, Clone, Copy, Default)]
pub struct MailSignals<'a> {
    pub labels: &'a [String],
    /// (name, value) pairs; names compare case-insensitively.
    pub headers: &'a [(String, String)],
    pub inference_classification: Option<&'a str>,
}

/// [`MailSignals`] owned, as a provider's item carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedMailSignals {
    pub labels: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub inference_classification: Option<String>,
}

impl OwnedMailSignals {
    pub fn as_signals(&self) -> MailSignals<'_> {
        MailSignals {
            labels: &self.labels,
            headers: &self.headers,
            inference_classification: self.inference_classification.as_deref(),
        }
    }
}

impl MailSignals<'_> {
    /// No signals.
    pub const NONE: MailSignals<'static> = MailSignals {
        labels: &[],
        headers: &[],
        inference_classification: None,
    };
}

/// The category of an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    TravelFlight,
    TravelHotel,
    EventTicket,
    Booking,
    Professional,
    Personal,
    Other,
}

impl Category {
    /// All categories, event categories first.
    pub const ALL: [Category; 7] = [
        Category::TravelFlight,
        Category::TravelHotel,
        Category::EventTicket,
        Category::Booking,
        Category::Professional,
        Category::Personal,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::TravelFlight => "TRAVEL_FLIGHT",
            Category::TravelHotel => "TRAVEL_HOTEL",
            Category::EventTicket => "EVENT_TICKET",
            Category::Booking => "BOOKING",
            Category::Professional => "PROFESSIONAL",
            Category::Personal => "PERSONAL",
            Category::Other => "OTHER",
        }
    }

    /// The inverse of [`Category::as_str`].
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// True for TRAVEL_FLIGHT, TRAVEL_HOTEL, EVENT_TICKET and BOOKING.
    pub fn is_event(self) -> bool {
        matches!(
            self,
            Category::TravelFlight
                | Category::TravelHotel
                | Category::EventTicket
                | Category::Booking
        )
    }
}

/// A reservation-like event read from an email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The schema.org type (`FlightReservation`, `FoodEstablishmentReservation`, …).
    pub event_type: String,
    /// The start as written in the markup (or, for an event found without markup, in the text:
    /// [`text_start`]): wall-clock time, with its UTC offset and IANA time zone when given. Serialized as RFC 3339 (with the offset when known).
    pub start: Option<EventStart>,
    /// Departure airport / station, venue, hotel or restaurant name.
    pub location: Option<String>,
    pub confirmation_code: Option<String>,
}

/// The normalized, privacy-safe fields of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Normalized {
    /// Sanitized text (an email without text: its HTML body's visible text).
    pub text: String,
    /// Sanitized subject (emails).
    pub subject: Option<String>,
    /// The sender's domain only, lowercased (emails).
    pub sender_domain: Option<String>,
    /// Emails only.
    pub category: Option<Category>,
    pub is_event: bool,
    pub event: Option<Event>,
    pub mentions: Vec<String>,
    pub hashtags: Vec<String>,
    pub dates: Vec<NaiveDate>,
    pub content_hash: [u8; 32],
    /// The unsanitized text read from the HTML body when the email had none (what `text` was
    /// sanitized from), for keys that need the raw text; never to be stored.
    pub body_text: Option<String>,
}

/// Normalizes one item: sanitize, categorize (emails), extract, hash.
pub fn normalize(input: &Input) -> Normalized {
    let email = input.kind == Kind::Email;
    // The HTML body is read once: its markup for the category and event, its text when the
    // email has no other.
    let want = html::Want {
        markup: email,
        text: email && input.text.trim().is_empty(),
    };
    let body = input.html.map(|h| html::read(h, want)).unwrap_or_default();
    let body_text = body.text.clone().filter(|t| !t.is_empty());
    let text = sanitize(body_text.as_deref().unwrap_or(input.text));
    let subject = input.subject.map(sanitize);
    let sender_domain = input
        .sender
        .and_then(categorize::split_sender)
        .map(|(domain, _)| domain);

    let (category, event) = if email {
        let (c, e) = categorize::categorize(
            input.sender,
            subject.as_deref(),
            &text,
            schema_org::from_body(&body),
            &input.signals,
        );
        (Some(c), e)
    } else {
        (None, None)
    };

    let (mut mentions, mut hashtags, mut dates) = (
        extract::mentions(&text),
        extract::hashtags(&text),
        extract::dates(&text),
    );
    if let Some(s) = subject.as_deref() {
        mentions.extend(extract::mentions(s));
        hashtags.extend(extract::hashtags(s));
        dates.extend(extract::dates(s));
        dates.sort_unstable();
        dates.dedup();
    }
    let mentions = extract::merge_entities(mentions, input.mentions, '@');
    let hashtags = extract::merge_entities(hashtags, input.hashtags, '#');
    let content_hash = hash::hash_sanitized(input.kind, &text);

    Normalized {
        text: text.into_owned(),
        subject: subject.map(|s| s.into_owned()),
        sender_domain,
        is_event: category.is_some_and(Category::is_event),
        category,
        event,
        mentions,
        hashtags,
        dates,
        content_hash,
        body_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_post() {
        let n = normalize(&Input {
            kind: Kind::Post,
            text: "Landed! #Travel with @Bob, call me 415-555-0132 or me@x.com on 2026-03-03",
            subject: None,
            sender: None,
            html: None,
            hashtags: &["#travel".into(), "Paris".into()],
            mentions: &["@alice".into()],
            signals: MailSignals::NONE,
        });
        assert_eq!(
            n.text,
            "Landed! #Travel with @Bob, call me [phone] or [email] on 2026-03-03"
        );
        assert_eq!(n.hashtags, vec!["paris", "travel"]);
        assert_eq!(n.mentions, vec!["alice", "bob"]);
        assert_eq!(n.dates, vec![NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()]);
        assert_eq!(n.category, None);
        assert!(!n.is_event);
        assert_eq!(n.content_hash, content_hash(Kind::Post, n.text.as_str()));
    }

    #[test]
    fn normalize_email() {
        let n = normalize(&Input {
            kind: Kind::Email,
            text: "Your flight UA 110 departs March 4, 2027. Questions? +1 800 555 0199",
            subject: Some("Boarding pass for jane.doe@example.com"),
            sender: Some("United <Notifications@United.com>"),
            html: None,
            hashtags: &[],
            mentions: &[],
            signals: MailSignals::NONE,
        });
        assert_eq!(n.subject.as_deref(), Some("Boarding pass for [email]"));
        assert_eq!(n.sender_domain.as_deref(), Some("united.com"));
        assert_eq!(n.category, Some(Category::TravelFlight));
        assert!(n.is_event);
        assert_eq!(n.event.unwrap().event_type, "FlightReservation");
        assert!(!n.text.contains("555"));
    }

    /// An event found without markup takes its start, offset kept, from the text.
    #[test]
    fn event_without_markup_has_its_start_from_the_text() {
        let email = |text| {
            normalize(&Input {
                kind: Kind::Email,
                text,
                subject: Some("Your booking confirmation"),
                sender: Some("Iberia <noreply@iberia.com>"),
                html: Some("<p>Thank you for flying with us</p>"),
                hashtags: &[],
                mentions: &[],
                signals: MailSignals::NONE,
            })
            .event
            .expect("a flight")
        };
        let ev = email("Flight IB102 departs FRA on 04/13/2027 at 09:50 +02:00. Seat 14C.");
        assert_eq!(ev.event_type, "FlightReservation");
        let start = ev.start.expect("a start");
        assert_eq!(start.to_string(), "2027-04-13T09:50:00+02:00");
        assert!(start.instant().is_some());
        assert_eq!(email("Flight IB102 departs FRA on 04/13/2027.").start, None);
    }

    #[test]
    fn category_strings() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }
}
