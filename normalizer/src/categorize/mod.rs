//! Email categorization: schema.org markup first, then language-independent signals, then
//! words.
//!
//! Markup (see [`crate::schema_org`]) decides when present: `FlightReservation` →
//! `TRAVEL_FLIGHT`, `LodgingReservation` → `TRAVEL_HOTEL`, `EventReservation` →
//! `EVENT_TICKET`, every other reservation (`FoodEstablishmentReservation`,
//! `RentalCarReservation`, `TrainReservation`, `BusReservation`, `TaxiReservation`,
//! `BoatReservation`, plain `Reservation`, …) and `Order` / `ParcelDelivery` → `BOOKING`.
//! Trains, buses and taxis are BOOKING, not TRAVEL_FLIGHT: TRAVEL_FLIGHT means a flight.
//!
//! Without markup each category collects points, in this order of sources:
//! 1. the sender's domain against a maintained table of airlines, rail, hotel chains and
//!    lodging platforms, travel agencies, ticket sellers, restaurant booking, car rental,
//!    parcel carriers, shops, recruiting and work tools, media, social networks and account
//!    senders (`senders`); a personal-mail domain (gmail.com, naver.com, qq.com, mail.ru, …)
//!    gives PERSONAL points and costs the four event categories points;
//! 2. the shape of the content (`shapes`): a route between two IATA airport codes, a flight
//!    number with a known airline designator, a confirmation code next to its label;
//! 3. the mailbox's own signals (`signals`): Gmail's `CATEGORY_*` labels, Outlook's
//!    `inferenceClassification`, `List-Unsubscribe` / `List-Id` / `Precedence: bulk`;
//! 4. the sender's local part (`newsletter@`, `deals@` point to OTHER) and whether a person
//!    writes (a display name of two or more words, or a local part like `jane.doe`, from an
//!    organisation's domain that is no known service: PROFESSIONAL points); a reply or forward
//!    subject (`Re:`, `AW:`, `Fwd:`, `回复：`, `답장:`, …) adds a point to PERSONAL (personal
//!    domain) or PROFESSIONAL;
//! 5. keywords in the subject and snippet in fifteen languages (`keywords`): English,
//!    German, French, Spanish, Portuguese, Italian, Dutch, Polish, Turkish, Russian, Arabic,
//!    Hindi, Japanese, Chinese (simplified and traditional) and Korean; scripts without word
//!    spaces are matched without word boundaries.
//!
//! The highest score wins; ties go to the earlier of TRAVEL_FLIGHT, TRAVEL_HOTEL,
//! EVENT_TICKET, BOOKING, PROFESSIONAL, PERSONAL, OTHER; no points at all is OTHER. The
//! sender's local part is read here and never stored.
//!
//! Event categories get an [`Event`]: from markup its type, start, location and confirmation
//! code; from heuristics the category's schema.org type and a confirmation code when the text
//! names one next to its label in any of the fifteen languages (`confirmation code: K7PX2Q`,
//! `Buchungsnummer 4711AB`, `予約番号：NEMR63`, `订单号 X1Y2Z3`, `예약번호 AB12CD`,
//! `код бронирования ZX9QW1`); the start is not guessed (the dates found are in
//! `Normalized::dates`).

mod keywords;
mod senders;
mod shapes;
mod signals;

use crate::schema_org;
use crate::{Category, Event, MailSignals};
use regex::Regex;
use std::sync::LazyLock;

use Category::*;

/// Reply and forward prefixes of a conversation.
const CONVERSATION_PREFIXES: &[&str] = &[
    "re:",
    "aw:",
    "fwd:",
    "fw:",
    "wg:",
    "tr:",
    "rv:",
    "réf:",
    "r:",
    "ynt:",
    "odp:",
    "res:",
    "enc:",
    "doorst:",
    "回复：",
    "回复:",
    "回覆：",
    "答复：",
    "転送：",
    "답장:",
    "전달:",
    "رد:",
    "отв:",
    "пересл:",
];

const GREETINGS: &[&str] = &[
    "hi ",
    "hey",
    "hello ",
    "hallo",
    "liebe ",
    "lieber ",
    "salut",
    "coucou",
    "chère ",
    "cher ",
    "hola",
    "querida",
    "querido",
    "dear ",
    "oi ",
    "olá",
    "ciao",
    "hoi",
    "cześć",
    "merhaba",
    "selam",
    "привет",
    "مرحبا",
    "अरे",
    "やあ",
    "久しぶり",
    "嗨",
    "안녕",
];

static CONFIRMATION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i:confirmation|booking|reservation|record locator|itinerary|buchungsnummer|buchungscode|",
        r"reservierungsnummer|auftragsnummer|référence|reference|réf\.|localizador|código de reserva|",
        r"código da reserva|codice (?:di )?prenotazione|numero di conferma|boekingscode|boekingsnummer|",
        r"reserveringsnummer|kod rezerwacji|numer rezerwacji|rezervasyon (?:kodu|numarası|no)|pnr|",
        r"код бронирования|номер бронирования|номер брони|бронирования|رمز الحجز|رقم الحجز|",
        r"बुकिंग आईडी|बुकिंग कोड|बुकिंग संख्या|बुकिंग|order|bestellnummer|bestelnummer|pedido|commande|",
        r"予約番号|予約確認番号|受付番号|お預かり番号|订单号|訂單編號|订单编号|预订号|预订编号|确认号|",
        r"訂位代號|訂房代號|订位代号|예약번호|예매번호|ordine|sipariş(?: no| numarası)?|заказ|",
        r"zamówienie(?: nr)?|bestelling|注文番号|주문번호|رقم الطلب|الطلب)",
        r"(?i:\s*(?:code|number|no\.?|nr\.?|n°|n\.?º|#|de réservation|ref\.?|\(pnr\)))?",
        r"(?i:\s*(?:is|ist|est|es))?\s*[:#：№]?\s*",
        r"([A-Z0-9][A-Z0-9\-]{4,14})(?-u:\b)"
    ))
    .expect("confirmation regex compiles")
});

/// Categorizes an email; `subject` and `text` are the sanitized subject and snippet/body,
/// `markup` the reservation its HTML body's schema.org markup describes
/// ([`schema_org::from_body`]).
pub fn categorize(
    sender: Option<&str>,
    subject: Option<&str>,
    text: &str,
    markup: Option<schema_org::Reservation>,
    signals: &MailSignals,
) -> (Category, Option<Event>) {
    if let Some(r) = markup {
        let category = match r.schema_type.as_str() {
            "FlightReservation" => TravelFlight,
            "LodgingReservation" => TravelHotel,
            "EventReservation" => EventTicket,
            _ => Booking,
        };
        let event = Event {
            event_type: r.schema_type,
            start: r.start,
            location: r.location,
            confirmation_code: r.confirmation_code,
        };
        return (category, Some(event));
    }
    let category = heuristic(sender, subject, text, signals);
    let event = category.is_event().then(|| Event {
        event_type: match category {
            TravelFlight => "FlightReservation",
            TravelHotel => "LodgingReservation",
            EventTicket => "EventReservation",
            _ => "Reservation",
        }
        .to_string(),
        start: crate::text_start::find(subject, text),
        location: None,
        confirmation_code: confirmation_code(subject, text),
    });
    (category, event)
}

fn confirmation_code(subject: Option<&str>, text: &str) -> Option<String> {
    let find = |t: &str| {
        CONFIRMATION_RE
            .captures_iter(t)
            .map(|c| c[1].trim_end_matches('-').to_string())
            .find(|c| c.bytes().any(|b| b.is_ascii_digit()) || c.len() == 6)
    };
    subject
        .and_then(find)
        .or_else(|| find(text))
        .or_else(|| subject.and_then(bare_code))
        .or_else(|| bare_code(text))
        .or_else(|| subject.and_then(trailing_code))
}

/// A six-letter booking code closing a subject written in lower case or a script without
/// case (`Uçuş rezervasyonunuz ZCCEDJ`, `Маршрутная квитанция LNXWCJ`).
fn trailing_code(subject: &str) -> Option<String> {
    let last = subject.split_whitespace().next_back()?;
    let has_lower = subject
        .chars()
        .any(|c| c.is_lowercase() || (c.is_alphabetic() && !c.is_uppercase()));
    (last.len() == 6 && last.bytes().all(|b| b.is_ascii_uppercase()) && has_lower)
        .then(|| last.to_string())
}

static BARE_CODE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)[A-Z0-9]{6}(?-u:\b)").expect("bare code regex compiles"));

/// A booking code written without its label (`Je reisbevestiging 7YYKS7`): six capitals and
/// digits, both present, standing alone; flight numbers (`UA1234`) are not codes.
fn bare_code(t: &str) -> Option<String> {
    BARE_CODE_RE
        .find_iter(t)
        .map(|m| m.as_str())
        .find(|c| {
            c.bytes().any(|b| b.is_ascii_digit())
                && c.bytes().any(|b| b.is_ascii_uppercase())
                && !shapes::flight_number(c)
        })
        .map(str::to_string)
}

/// (domain, local part) of a sender `Name <local@domain>` or `local@domain`, lowercase.
pub fn split_sender(sender: &str) -> Option<(String, String)> {
    let addr = match (sender.rfind('<'), sender.rfind('>')) {
        (Some(a), Some(b)) if a < b => &sender[a + 1..b],
        _ => sender,
    };
    let addr = addr.trim().trim_matches(|c| c == '"' || c == '\'');
    let (local, domain) = addr.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain.is_empty()
        || !domain.contains('.')
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    {
        return None;
    }
    Some((domain, local.trim().to_lowercase()))
}

/// True when the sender looks like a person rather than a role or machine address: the local
/// part is not a role word and either the display name has two or more words or the local
/// part joins names (`jane.doe`, `jean-luc_martin`).
fn is_person(sender: &str, local: &str, local_base: &str) -> bool {
    if senders::ROLE_LOCAL.contains(&local_base)
        || senders::ROLE_LOCAL.contains(&local)
        || local.contains("noreply")
        || local.contains("no-reply")
        || local.contains("no.reply")
    {
        return false;
    }
    let display = sender
        .split('<')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    // A name word starts with a capital, or is written in a script without case (Han,
    // Hangul, kana, Arabic, Devanagari: `佐藤 健`, `김민준`, `أحمد العتيبي`).
    let name_word = |w: &str| {
        w.chars().next().is_some_and(|c| {
            c.is_uppercase() || (c.is_alphabetic() && !c.is_lowercase() && !c.is_ascii())
        })
    };
    let words: Vec<&str> = display.split_whitespace().collect();
    if words.iter().any(|w| {
        senders::ORG_WORDS.contains(
            &w.to_lowercase()
                .trim_matches(|c: char| !c.is_alphanumeric()),
        )
    }) {
        return false;
    }
    let named = words.iter().filter(|w| name_word(w)).count();
    // `王伟`, `최도윤`: one short word of a script without spaces is a full name.
    let one_cjk_name = words.len() == 1
        && (2..=4).contains(&words[0].chars().count())
        && words[0]
            .chars()
            .all(|c| c.is_alphabetic() && !c.is_ascii() && !c.is_lowercase());
    named >= 2 || one_cjk_name || local.contains(['.', '_', '-'])
}

/// The points of every category, in [`ORDER`].
struct Scores([i32; 7]);

const ORDER: [Category; 7] = [
    TravelFlight,
    TravelHotel,
    EventTicket,
    Booking,
    Professional,
    Personal,
    Other,
];

impl Scores {
    fn add(&mut self, c: Category, points: i32) {
        let slot = ORDER.iter().position(|&o| o == c).unwrap_or(6);
        self.0[slot] += points;
    }

    /// The highest score, ties to the earlier category; no points at all is OTHER.
    fn best(&self) -> Category {
        let (best, &max) = self
            .0
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .expect("seven scores");
        if max <= 0 {
            Other
        } else {
            ORDER[best]
        }
    }
}

fn heuristic(
    sender: Option<&str>,
    subject: Option<&str>,
    text: &str,
    signals: &MailSignals,
) -> Category {
    let mut score = Scores([0; 7]);
    let mut hay = String::with_capacity(text.len() + 64);
    if let Some(s) = subject {
        hay.push_str(s);
        hay.push('\n');
    }
    hay.push_str(text);

    // Shapes are read before lowercasing: IATA codes and designators are capitals.
    if shapes::airport_pair(&hay) {
        score.add(TravelFlight, 3);
    }
    if shapes::flight_number(&hay) {
        score.add(TravelFlight, 2);
    }
    if confirmation_code(subject, text).is_some() {
        for c in [TravelFlight, TravelHotel, EventTicket, Booking] {
            score.add(c, 1);
        }
    }
    signals::score(signals, |c, p| score.add(c, p));

    let hay = hay.to_lowercase();
    keywords::KEYWORDS_AC.scan(&hay, |c, p| score.add(c, p));

    if let Some((domain, local)) = sender.and_then(split_sender) {
        let group = senders::group(&domain);
        for &(c, p) in group.map_or(&[][..], senders::Group::points) {
            score.add(c, p);
        }
        let personal_domain = senders::personal(&domain);
        if personal_domain {
            score.add(Personal, 4);
            let body = hay.trim_start();
            let text_start = text.trim_start().to_lowercase();
            if GREETINGS
                .iter()
                .any(|g| body.starts_with(g) || text_start.starts_with(g))
            {
                score.add(Personal, 2);
            }
            // Reservations and orders do not come from personal mailboxes.
            for c in [TravelFlight, TravelHotel, EventTicket, Booking] {
                score.add(c, -3);
            }
        }
        let local_base = local.split(['+', '.', '-', '_']).next().unwrap_or("");
        if senders::BULK_LOCAL.contains(&local_base)
            || senders::BULK_LOCAL.contains(&local.as_str())
        {
            score.add(Other, 3);
        }
        let person = is_person(sender.unwrap_or(""), &local, local_base);
        if person && !personal_domain && group.is_none() {
            // One person at an organization writing to another.
            score.add(Professional, 3);
        }
        let conversation = subject.is_some_and(|s| {
            let s = s.trim_start().to_lowercase();
            CONVERSATION_PREFIXES.iter().any(|p| s.starts_with(p))
        });
        if conversation {
            score.add(
                if personal_domain {
                    Personal
                } else {
                    Professional
                },
                1,
            );
        }
    }
    score.best()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(sender: &str, subject: &str, text: &str) -> Category {
        categorize(Some(sender), Some(subject), text, None, &MailSignals::NONE).0
    }

    #[test]
    fn markup_wins_and_maps() {
        let html = |t: &str| {
            format!(
                r#"<script type="application/ld+json">{{"@context":"https://schema.org","@type":"{t}","reservationNumber":"X1Y2Z3"}}</script>"#
            )
        };
        for (t, c) in [
            ("FlightReservation", TravelFlight),
            ("LodgingReservation", TravelHotel),
            ("EventReservation", EventTicket),
            ("FoodEstablishmentReservation", Booking),
            ("RentalCarReservation", Booking),
            ("TrainReservation", Booking),
            ("TaxiReservation", Booking),
        ] {
            let (got, ev) = categorize(
                Some("x@example.com"),
                Some("Hi"),
                "newsletter",
                schema_org::find_reservation(&html(t)),
                &MailSignals::NONE,
            );
            assert_eq!(got, c, "{t}");
            let ev = ev.unwrap();
            assert_eq!(ev.event_type, t);
            assert_eq!(ev.confirmation_code.as_deref(), Some("X1Y2Z3"));
        }
    }

    #[test]
    fn heuristics() {
        assert_eq!(
            cat(
                "United <unitedairlines@united.com>",
                "Your boarding pass for UA 110",
                "Gate B12"
            ),
            TravelFlight
        );
        assert_eq!(
            cat(
                "Lufthansa <noreply@lufthansa.com>",
                "Ihr Flug LH 401 am 04.03.2026",
                "Online Check-in ist geöffnet"
            ),
            TravelFlight
        );
        assert_eq!(
            cat(
                "reservations@marriott.com",
                "Your stay at the Marriott",
                "Check-in March 3, 2026, 2 nights"
            ),
            TravelHotel
        );
        assert_eq!(
            cat(
                "hotel@example.fr",
                "Votre séjour à l'Hôtel du Parc",
                "Votre chambre"
            ),
            TravelHotel
        );
        assert_eq!(
            cat(
                "tickets@ticketmaster.com",
                "Your tickets for Coldplay",
                "Doors open 7pm"
            ),
            EventTicket
        );
        assert_eq!(
            cat(
                "OpenTable <no-reply@opentable.com>",
                "Your reservation at Nopa",
                "Table for 2"
            ),
            Booking
        );
        assert_eq!(
            cat(
                "auto-confirm@amazon.de",
                "Ihre Bestellung 302-1234567-1234567",
                "versandt"
            ),
            Booking
        );
        assert_eq!(
            cat(
                "Jane Recruiter <jane@acme-corp.com>",
                "Interview for the Senior Engineer position",
                "Hi, are you free"
            ),
            Professional
        );
        assert_eq!(
            cat(
                "notifications@linkedin.com",
                "You have a new connection request",
                ""
            ),
            Professional
        );
        assert_eq!(
            cat(
                "Mom <mom1957@gmail.com>",
                "Sunday",
                "Hi sweetie, dinner on Sunday? Love, Mom"
            ),
            Personal
        );
        assert_eq!(
            cat("Pablo <pablo.r@yahoo.es>", "¿Qué tal?", "Hola, un abrazo"),
            Personal
        );
        assert_eq!(
            cat(
                "news@united.com",
                "50% off fares to Hawaii",
                "Limited time. Unsubscribe"
            ),
            Other
        );
        assert_eq!(
            cat("newsletter@shop.example", "Weekly digest", "New arrivals"),
            Other
        );
        assert_eq!(cat("someone@example.com", "", ""), Other);
    }

    #[test]
    fn sender_signals() {
        // A colleague with no keywords at all.
        assert_eq!(
            cat(
                "Mark Chen <mark.chen@northwind.example>",
                "Re: numbers",
                "Thanks, will do."
            ),
            Professional
        );
        // The same words from a role address are not a person writing.
        assert_eq!(
            cat(
                "Northwind <info@northwind.example>",
                "numbers",
                "Thanks, will do."
            ),
            Other
        );
        // A friend writing about concert tickets is still personal.
        assert_eq!(
            cat(
                "Tom <tommy.b@gmail.com>",
                "got them",
                "I got us two tickets for the concert on Saturday"
            ),
            Personal
        );
        assert!(is_person("Jane Doe <jd@x.com>", "jd", "jd"));
        assert!(!is_person("Jane Doe <noreply@x.com>", "noreply", "noreply"));
    }

    #[test]
    fn heuristic_event_code() {
        let (c, ev) = categorize(
            Some("x@delta.com"),
            Some("Your flight"),
            "Confirmation code: K7PX2Q. Gate B12",
            None,
            &MailSignals::NONE,
        );
        assert_eq!(c, TravelFlight);
        assert_eq!(ev.unwrap().confirmation_code.as_deref(), Some("K7PX2Q"));
        let (_, ev) = categorize(
            Some("x@bahn.de"),
            Some("Ihre Buchung"),
            "Buchungsnummer: 4711AB, Zug ICE 597",
            None,
            &MailSignals::NONE,
        );
        assert_eq!(ev.unwrap().confirmation_code.as_deref(), Some("4711AB"));
    }

    #[test]
    fn senders() {
        assert_eq!(
            split_sender("Jane <Jane.Doe@Mail.Example.COM>"),
            Some(("mail.example.com".into(), "jane.doe".into()))
        );
        assert_eq!(
            split_sender("bob@x.org"),
            Some(("x.org".into(), "bob".into()))
        );
        assert_eq!(split_sender("nobody"), None);
    }
}
