//! Email categorization: schema.org markup first, keyword and sender heuristics otherwise.
//!
//! Markup (see [`crate::schema_org`]) decides when present: `FlightReservation` →
//! `TRAVEL_FLIGHT`, `LodgingReservation` → `TRAVEL_HOTEL`, `EventReservation` →
//! `EVENT_TICKET`, every other reservation (`FoodEstablishmentReservation`,
//! `RentalCarReservation`, `TrainReservation`, `BusReservation`, `TaxiReservation`,
//! `BoatReservation`, plain `Reservation`, …) and `Order` / `ParcelDelivery` → `BOOKING`.
//! Trains, buses and taxis are BOOKING, not TRAVEL_FLIGHT: TRAVEL_FLIGHT means a flight.
//!
//! Without markup each category collects points from keywords in the (sanitized) subject and
//! snippet, in English, German, French and Spanish (each keyword counts once), and from the
//! sender: its domain (airlines, hotel chains and hotel platforms, ticket sellers, booking
//! services, professional tools) and its local part (`newsletter`, `marketing`, `deals`, …
//! point to OTHER). Mail from a personal-mail domain (gmail.com, gmx.de, orange.fr, …) gets
//! PERSONAL points, more with a greeting, and costs the four event categories points
//! (reservations do not come from personal mailboxes). A person (not a role address like
//! `noreply@`, `info@`, `travel@`; a display name of two or more words or a local part like
//! `jane.doe`) writing from an organization's domain that is not a known service gets
//! PROFESSIONAL points; a reply/forward subject (`Re:`, `AW:`, `Fwd:`, `TR:`, `RV:`, …) adds
//! a point to PERSONAL (personal domain) or PROFESSIONAL. The highest score wins; ties go to the earlier of
//! TRAVEL_FLIGHT, TRAVEL_HOTEL, EVENT_TICKET, BOOKING, PROFESSIONAL, PERSONAL, OTHER; no
//! points at all is OTHER. The sender's local part is read here and never stored.
//!
//! Event categories get an [`Event`]: from markup its type, start, location and confirmation
//! code; from heuristics the category's schema.org type and a confirmation code when the text
//! names one (`confirmation code: K7PX2Q`, `Buchungsnummer 4711AB`, `localizador: ZX9QW1`);
//! the start is not guessed (the dates found are in `Normalized::dates`).

use crate::schema_org;
use crate::{Category, Event};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

use Category::*;

/// (keyword, category, points). Keywords are matched lowercase, on word boundaries where the
/// keyword's edge is a letter or digit.
const KEYWORDS: &[(&str, Category, i32)] = &[
    // flights
    ("boarding pass", TravelFlight, 4),
    ("boarding", TravelFlight, 2),
    ("flight", TravelFlight, 3),
    ("flights", TravelFlight, 2),
    ("flug", TravelFlight, 3),
    ("flugnummer", TravelFlight, 3),
    ("abflug", TravelFlight, 3),
    ("bordkarte", TravelFlight, 4),
    ("vol", TravelFlight, 2),
    ("carte d'embarquement", TravelFlight, 4),
    ("embarquement", TravelFlight, 3),
    ("vuelo", TravelFlight, 3),
    ("tarjeta de embarque", TravelFlight, 4),
    ("embarque", TravelFlight, 3),
    ("itinerary", TravelFlight, 2),
    ("itinéraire", TravelFlight, 2),
    ("reiseplan", TravelFlight, 2),
    ("itinerario", TravelFlight, 2),
    ("e-ticket", TravelFlight, 2),
    ("record locator", TravelFlight, 3),
    ("gate", TravelFlight, 2),
    ("terminal", TravelFlight, 1),
    ("airport", TravelFlight, 2),
    ("flughafen", TravelFlight, 2),
    ("aéroport", TravelFlight, 2),
    ("aeropuerto", TravelFlight, 2),
    ("layover", TravelFlight, 2),
    ("departure", TravelFlight, 1),
    ("check in for your flight", TravelFlight, 4),
    ("online check-in", TravelFlight, 2),
    ("baggage", TravelFlight, 2),
    ("gepäck", TravelFlight, 2),
    ("general admission", EventTicket, 4),
    ("qr code", EventTicket, 1),
    ("doors", EventTicket, 2),
    // hotels
    ("hotel", TravelHotel, 3),
    ("hôtel", TravelHotel, 3),
    ("check-in", TravelHotel, 1),
    ("check-out", TravelHotel, 2),
    ("checkout date", TravelHotel, 2),
    ("your stay", TravelHotel, 3),
    ("ihr aufenthalt", TravelHotel, 3),
    ("votre séjour", TravelHotel, 3),
    ("su estancia", TravelHotel, 3),
    ("estancia", TravelHotel, 2),
    ("séjour", TravelHotel, 2),
    ("aufenthalt", TravelHotel, 2),
    ("room", TravelHotel, 1),
    ("zimmer", TravelHotel, 2),
    ("chambre", TravelHotel, 2),
    ("habitación", TravelHotel, 2),
    ("nights", TravelHotel, 2),
    ("nächte", TravelHotel, 2),
    ("nuits", TravelHotel, 2),
    ("noches", TravelHotel, 2),
    ("guest house", TravelHotel, 2),
    ("hostel", TravelHotel, 3),
    ("resort", TravelHotel, 2),
    ("apartment", TravelHotel, 1),
    ("übernachtung", TravelHotel, 3),
    ("hébergement", TravelHotel, 3),
    ("alojamiento", TravelHotel, 3),
    // event tickets
    ("tickets", EventTicket, 3),
    ("ticket", EventTicket, 2),
    ("your tickets", EventTicket, 2),
    ("concert", EventTicket, 3),
    ("konzert", EventTicket, 3),
    ("concierto", EventTicket, 3),
    ("billets", EventTicket, 3),
    ("billet", EventTicket, 2),
    ("entradas", EventTicket, 3),
    ("karten", EventTicket, 2),
    ("eintrittskarte", EventTicket, 3),
    ("festival", EventTicket, 2),
    ("venue", EventTicket, 2),
    ("doors open", EventTicket, 3),
    ("einlass", EventTicket, 3),
    ("admission", EventTicket, 2),
    ("stadium", EventTicket, 2),
    ("theater", EventTicket, 2),
    ("theatre", EventTicket, 2),
    ("théâtre", EventTicket, 2),
    ("teatro", EventTicket, 2),
    ("show", EventTicket, 1),
    ("spectacle", EventTicket, 2),
    ("match", EventTicket, 1),
    ("section", EventTicket, 1),
    ("row", EventTicket, 1),
    // bookings and orders
    ("your order", Booking, 4),
    ("order confirmation", Booking, 4),
    ("order", Booking, 2),
    ("ihre bestellung", Booking, 4),
    ("bestellung", Booking, 3),
    ("votre commande", Booking, 4),
    ("commande", Booking, 3),
    ("su pedido", Booking, 4),
    ("pedido", Booking, 3),
    ("reservation at", Booking, 4),
    ("table for", Booking, 4),
    ("tisch", Booking, 2),
    ("restaurant", Booking, 2),
    ("reservation", Booking, 1),
    ("reservierung", Booking, 1),
    ("réservation", Booking, 1),
    ("reserva", Booking, 1),
    ("booking", Booking, 1),
    ("buchung", Booking, 1),
    ("rental car", Booking, 4),
    ("car rental", Booking, 4),
    ("mietwagen", Booking, 4),
    ("location de voiture", Booking, 4),
    ("alquiler de coche", Booking, 4),
    ("pick-up", Booking, 2),
    ("pickup", Booking, 2),
    ("your ride", Booking, 3),
    ("taxi", Booking, 3),
    ("prise en charge", Booking, 2),
    ("recogida", Booking, 2),
    ("abholung", Booking, 2),
    ("train", Booking, 3),
    ("zug", Booking, 3),
    ("bahn", Booking, 2),
    ("tren", Booking, 3),
    ("bus", Booking, 2),
    ("appointment", Booking, 3),
    ("termin", Booking, 2),
    ("rendez-vous", Booking, 3),
    ("cita", Booking, 3),
    ("shipped", Booking, 3),
    ("has shipped", Booking, 2),
    ("delivery", Booking, 2),
    ("versandt", Booking, 3),
    ("lieferung", Booking, 2),
    ("livraison", Booking, 2),
    ("expédiée", Booking, 3),
    ("envío", Booking, 2),
    ("enviado", Booking, 3),
    // professional
    ("meeting", Professional, 3),
    ("besprechung", Professional, 3),
    ("réunion", Professional, 3),
    ("reunión", Professional, 3),
    ("invoice", Professional, 4),
    ("rechnung", Professional, 4),
    ("facture", Professional, 4),
    ("factura", Professional, 4),
    ("interview", Professional, 3),
    ("vorstellungsgespräch", Professional, 3),
    ("entretien", Professional, 3),
    ("entrevista", Professional, 3),
    ("recruiter", Professional, 3),
    ("position", Professional, 2),
    ("role", Professional, 1),
    ("job", Professional, 2),
    ("stelle", Professional, 2),
    ("poste", Professional, 2),
    ("puesto", Professional, 2),
    ("application", Professional, 2),
    ("bewerbung", Professional, 3),
    ("candidature", Professional, 3),
    ("candidatura", Professional, 3),
    ("agenda", Professional, 2),
    ("tagesordnung", Professional, 3),
    ("ordre du jour", Professional, 3),
    ("orden del día", Professional, 3),
    ("deadline", Professional, 2),
    ("project", Professional, 2),
    ("projekt", Professional, 2),
    ("projet", Professional, 2),
    ("proyecto", Professional, 2),
    ("contract", Professional, 2),
    ("vertrag", Professional, 2),
    ("contrat", Professional, 2),
    ("contrato", Professional, 2),
    ("quarterly", Professional, 2),
    ("q1", Professional, 2),
    ("q2", Professional, 2),
    ("q3", Professional, 2),
    ("q4", Professional, 2),
    ("standup", Professional, 2),
    ("stand-up", Professional, 2),
    ("sync", Professional, 1),
    ("connection request", Professional, 3),
    ("linkedin", Professional, 3),
    ("colleague", Professional, 2),
    ("kollegen", Professional, 2),
    ("offer letter", Professional, 3),
    ("payroll", Professional, 3),
    ("client", Professional, 1),
    ("kunde", Professional, 2),
    ("proposal", Professional, 2),
    ("angebot anbei", Professional, 3),
    ("purchase order", Professional, 4),
    ("slides", Professional, 2),
    ("quarterly review", Professional, 2),
    ("onboarding", Professional, 2),
    ("expense report", Professional, 4),
    ("business trip", Professional, 3),
    ("travel request", Professional, 4),
    ("reisekosten", Professional, 3),
    ("reisekostenabrechnung", Professional, 4),
    ("dienstreise", Professional, 3),
    ("note de frais", Professional, 4),
    ("gastos de viaje", Professional, 4),
    ("your manager", Professional, 2),
    ("videoconference", Professional, 3),
    ("visioconférence", Professional, 3),
    ("videollamada", Professional, 3),
    ("videokonferenz", Professional, 3),
    ("budget", Professional, 2),
    ("presupuesto", Professional, 2),
    ("recrutement", Professional, 2),
    ("contratación", Professional, 2),
    ("recruiting", Professional, 2),
    ("jour fixe", Professional, 3),
    ("spreadsheet", Professional, 2),
    // personal
    ("hi mom", Personal, 4),
    ("hi dad", Personal, 4),
    ("love you", Personal, 4),
    ("love,", Personal, 3),
    ("miss you", Personal, 4),
    ("xoxo", Personal, 4),
    ("hugs", Personal, 3),
    ("birthday", Personal, 2),
    ("geburtstag", Personal, 2),
    ("anniversaire", Personal, 2),
    ("cumpleaños", Personal, 2),
    ("family", Personal, 2),
    ("familie", Personal, 2),
    ("famille", Personal, 2),
    ("familia", Personal, 2),
    ("kids", Personal, 2),
    ("grandma", Personal, 3),
    ("oma", Personal, 3),
    ("mamie", Personal, 3),
    ("abuela", Personal, 3),
    ("weekend", Personal, 1),
    ("wochenende", Personal, 1),
    ("week-end", Personal, 1),
    ("fin de semana", Personal, 1),
    ("dinner", Personal, 1),
    ("photos", Personal, 1),
    ("bisous", Personal, 4),
    ("besos", Personal, 4),
    ("küsschen", Personal, 4),
    ("liebe grüße", Personal, 3),
    ("lg", Personal, 2),
    ("gros bisous", Personal, 2),
    ("un abrazo", Personal, 3),
    ("abrazos", Personal, 3),
    // other: newsletters, promotions
    ("unsubscribe", Other, 4),
    ("newsletter", Other, 4),
    ("% off", Other, 4),
    ("sale", Other, 2),
    ("deal", Other, 2),
    ("deals", Other, 3),
    ("promo", Other, 3),
    ("promo code", Other, 3),
    ("discount", Other, 3),
    ("coupon", Other, 3),
    ("rabatt", Other, 3),
    ("angebote", Other, 2),
    ("gutschein", Other, 3),
    ("abmelden", Other, 4),
    ("soldes", Other, 3),
    ("promotion", Other, 2),
    ("se désabonner", Other, 4),
    ("désinscrire", Other, 4),
    ("oferta", Other, 2),
    ("ofertas", Other, 3),
    ("descuento", Other, 3),
    ("darse de baja", Other, 4),
    ("limited time", Other, 3),
    ("free shipping", Other, 3),
    ("webinar", Other, 2),
    ("digest", Other, 3),
    ("weekly", Other, 2),
    ("this week's", Other, 2),
    ("new arrivals", Other, 3),
    ("last chance", Other, 3),
    ("security alert", Other, 3),
    ("password", Other, 2),
    ("verify your", Other, 3),
    ("statement is ready", Other, 3),
    ("statement is now available", Other, 3),
    ("monthly statement", Other, 3),
    ("relevé", Other, 3),
    ("espace client", Other, 3),
    ("kundenportal", Other, 3),
    ("monatliche übersicht", Other, 3),
    ("notifications", Other, 2),
    ("liked your", Other, 3),
    ("log in to view", Other, 3),
    ("abbestellen", Other, 4),
];

/// (domain suffix, category, points).
const SENDER_DOMAINS: &[(&str, Category, i32)] = &[
    ("united.com", TravelFlight, 4),
    ("delta.com", TravelFlight, 4),
    ("aa.com", TravelFlight, 4),
    ("southwest.com", TravelFlight, 4),
    ("jetblue.com", TravelFlight, 4),
    ("alaskaair.com", TravelFlight, 4),
    ("aircanada.ca", TravelFlight, 4),
    ("lufthansa.com", TravelFlight, 4),
    ("eurowings.com", TravelFlight, 4),
    ("condor.com", TravelFlight, 4),
    ("britishairways.com", TravelFlight, 4),
    ("ba.com", TravelFlight, 4),
    ("airfrance.fr", TravelFlight, 4),
    ("airfrance.com", TravelFlight, 4),
    ("klm.com", TravelFlight, 4),
    ("iberia.com", TravelFlight, 4),
    ("vueling.com", TravelFlight, 4),
    ("easyjet.com", TravelFlight, 4),
    ("ryanair.com", TravelFlight, 4),
    ("emirates.com", TravelFlight, 4),
    ("qantas.com", TravelFlight, 4),
    ("swiss.com", TravelFlight, 4),
    ("tap.pt", TravelFlight, 4),
    ("flytap.com", TravelFlight, 4),
    ("norwegian.com", TravelFlight, 4),
    ("marriott.com", TravelHotel, 4),
    ("hilton.com", TravelHotel, 4),
    ("hyatt.com", TravelHotel, 4),
    ("ihg.com", TravelHotel, 4),
    ("accor.com", TravelHotel, 4),
    ("all.accor.com", TravelHotel, 4),
    ("booking.com", TravelHotel, 3),
    ("airbnb.com", TravelHotel, 3),
    ("hotels.com", TravelHotel, 4),
    ("motel-one.com", TravelHotel, 4),
    ("nh-hotels.com", TravelHotel, 4),
    ("melia.com", TravelHotel, 4),
    ("ticketmaster.com", EventTicket, 4),
    ("ticketmaster.de", EventTicket, 4),
    ("ticketmaster.fr", EventTicket, 4),
    ("eventbrite.com", EventTicket, 4),
    ("livenation.com", EventTicket, 4),
    ("stubhub.com", EventTicket, 4),
    ("seatgeek.com", EventTicket, 4),
    ("axs.com", EventTicket, 4),
    ("eventim.de", EventTicket, 4),
    ("fnacspectacles.com", EventTicket, 4),
    ("opentable.com", Booking, 4),
    ("resy.com", Booking, 4),
    ("thefork.com", Booking, 4),
    ("lafourchette.com", Booking, 4),
    ("uber.com", Booking, 3),
    ("lyft.com", Booking, 3),
    ("amazon.com", Booking, 3),
    ("amazon.de", Booking, 3),
    ("amazon.fr", Booking, 3),
    ("amazon.es", Booking, 3),
    ("hertz.com", Booking, 4),
    ("sixt.com", Booking, 4),
    ("avis.com", Booking, 4),
    ("europcar.com", Booking, 4),
    ("bahn.de", Booking, 4),
    ("sncf-connect.com", Booking, 4),
    ("renfe.com", Booking, 4),
    ("amtrak.com", Booking, 4),
    ("flixbus.com", Booking, 4),
    ("doctolib.fr", Booking, 4),
    ("doctolib.de", Booking, 4),
    ("linkedin.com", Professional, 4),
    ("greenhouse.io", Professional, 4),
    ("lever.co", Professional, 4),
    ("myworkday.com", Professional, 4),
    ("zoom.us", Professional, 3),
    ("calendly.com", Professional, 3),
    ("slack.com", Professional, 3),
    ("atlassian.com", Professional, 3),
    ("xing.com", Professional, 4),
    ("welcometothejungle.com", Professional, 4),
    ("indeed.com", Professional, 3),
];

/// Free personal-mail domains.
const PERSONAL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.fr",
    "yahoo.es",
    "yahoo.de",
    "ymail.com",
    "hotmail.com",
    "hotmail.fr",
    "hotmail.es",
    "outlook.com",
    "outlook.de",
    "outlook.fr",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "gmx.at",
    "web.de",
    "t-online.de",
    "freenet.de",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "wanadoo.fr",
    "telefonica.net",
    "movistar.es",
    "fastmail.com",
];

/// Local parts that mark bulk mail.
const BULK_LOCAL: &[&str] = &[
    "newsletter",
    "newsletters",
    "news",
    "marketing",
    "deals",
    "offers",
    "promo",
    "promotions",
    "angebote",
    "info",
    "hello",
    "digest",
];

/// Local parts (or their first word) of role and machine addresses: mail from them is not
/// one person writing to another.
const ROLE_LOCAL: &[&str] = &[
    "noreply",
    "no-reply",
    "no",
    "donotreply",
    "do-not-reply",
    "info",
    "service",
    "support",
    "orders",
    "order",
    "receipts",
    "travel",
    "news",
    "newsletter",
    "hello",
    "team",
    "booking",
    "bookings",
    "reservations",
    "reservas",
    "reservierung",
    "tickets",
    "notifications",
    "notification",
    "mailer",
    "alerts",
    "billing",
    "accounts",
    "contact",
    "sales",
    "marketing",
    "deals",
    "offers",
    "promo",
    "admin",
    "help",
    "auto-confirm",
    "ship-confirm",
    "bounce",
    "frontdesk",
    "stay",
    "vermietung",
    "termine",
    "buchung",
    "crew",
    "customer_support",
    "messages-noreply",
    "automated",
    "jobs",
    "careers",
    "hr",
    "office",
    "mail",
    "digest",
];

/// Reply and forward prefixes of a conversation, in the four languages.
const CONVERSATION_PREFIXES: &[&str] = &["re:", "aw:", "fwd:", "fw:", "wg:", "tr:", "rv:", "réf:"];

const GREETINGS: &[&str] = &[
    "hi ", "hey", "hello ", "hallo", "liebe ", "lieber ", "salut", "coucou", "chère ", "cher ",
    "hola", "querida", "querido", "dear ",
];

struct Keywords {
    re: Regex,
    index: HashMap<&'static str, (usize, Category, i32)>,
}

static KEYWORDS_RE: LazyLock<Keywords> = LazyLock::new(|| {
    let mut kws: Vec<&str> = KEYWORDS.iter().map(|(k, _, _)| *k).collect();
    kws.sort_by_key(|k| std::cmp::Reverse(k.len()));
    let alts: Vec<String> = kws
        .iter()
        .map(|k| {
            // ASCII word boundaries keep the whole scan in the DFA; a non-ASCII edge letter
            // (`übernachtung`) goes without one.
            let starts = k.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
            let ends = k.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
            format!(
                "{}{}{}",
                if starts { r"(?-u:\b)" } else { "" },
                regex::escape(k),
                if ends { r"(?-u:\b)" } else { "" }
            )
        })
        .collect();
    let index = KEYWORDS
        .iter()
        .enumerate()
        .map(|(i, &(k, c, p))| (k, (i, c, p)))
        .collect();
    Keywords {
        re: Regex::new(&alts.join("|")).expect("keyword regex compiles"),
        index,
    }
});

static CONFIRMATION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i:confirmation|booking|reservation|record locator|buchungsnummer|buchungscode|",
        r"reservierungsnummer|référence|reference|localizador|código de reserva|order|bestellnummer)",
        r"(?i:\s*(?:code|number|no\.?|nr\.?|n°|#|de réservation|ref\.?))?",
        r"(?i:\s*(?:is|ist|est|es))?\s*[:#]?\s*",
        r"([A-Z0-9][A-Z0-9\-]{4,14})\b"
    ))
    .expect("confirmation regex compiles")
});

/// Categorizes an email; `subject` and `text` are the sanitized subject and snippet/body.
pub fn categorize(
    sender: Option<&str>,
    subject: Option<&str>,
    text: &str,
    html: Option<&str>,
) -> (Category, Option<Event>) {
    if let Some(r) = html.and_then(schema_org::find_reservation) {
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
    let category = heuristic(sender, subject, text);
    let event = category.is_event().then(|| Event {
        event_type: match category {
            TravelFlight => "FlightReservation",
            TravelHotel => "LodgingReservation",
            EventTicket => "EventReservation",
            _ => "Reservation",
        }
        .to_string(),
        start: None,
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
    subject.and_then(find).or_else(|| find(text))
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
    if ROLE_LOCAL.contains(&local_base)
        || ROLE_LOCAL.contains(&local)
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
    let words = display
        .split_whitespace()
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .count();
    words >= 2 || local.contains(['.', '_', '-'])
}

fn domain_matches(domain: &str, suffix: &str) -> bool {
    domain == suffix
        || (domain.ends_with(suffix) && domain.as_bytes()[domain.len() - suffix.len() - 1] == b'.')
}

fn heuristic(sender: Option<&str>, subject: Option<&str>, text: &str) -> Category {
    const ORDER: [Category; 7] = [
        TravelFlight,
        TravelHotel,
        EventTicket,
        Booking,
        Professional,
        Personal,
        Other,
    ];
    let mut score = [0i32; 7];
    let slot = |c: Category| ORDER.iter().position(|&o| o == c).unwrap_or(6);
    let mut hay = String::with_capacity(text.len() + 64);
    if let Some(s) = subject {
        hay.push_str(s);
        hay.push('\n');
    }
    hay.push_str(text);
    let hay = hay.to_lowercase();

    let kw = &*KEYWORDS_RE;
    let mut seen = vec![false; KEYWORDS.len()];
    for m in kw.re.find_iter(&hay) {
        if let Some(&(i, c, p)) = kw.index.get(m.as_str()) {
            if !seen[i] {
                seen[i] = true;
                score[slot(c)] += p;
            }
        }
    }

    if let Some((domain, local)) = sender.and_then(split_sender) {
        if let Some(&(_, c, p)) = SENDER_DOMAINS
            .iter()
            .find(|(d, _, _)| domain_matches(&domain, d))
        {
            score[slot(c)] += p;
        }
        if PERSONAL_DOMAINS.iter().any(|d| domain == *d) {
            score[slot(Personal)] += 4;
            let body = hay.trim_start();
            let text_start = text.trim_start().to_lowercase();
            if GREETINGS
                .iter()
                .any(|g| body.starts_with(g) || text_start.starts_with(g))
            {
                score[slot(Personal)] += 2;
            }
        }
        let local_base = local.split(['+', '.', '-', '_']).next().unwrap_or("");
        if BULK_LOCAL.contains(&local_base) || BULK_LOCAL.contains(&local.as_str()) {
            score[slot(Other)] += 3;
        }
        let personal_domain = PERSONAL_DOMAINS.iter().any(|d| domain == *d);
        if personal_domain {
            // Reservations and orders do not come from personal mailboxes.
            for c in [TravelFlight, TravelHotel, EventTicket, Booking] {
                score[slot(c)] -= 3;
            }
        }
        let known_service = SENDER_DOMAINS
            .iter()
            .any(|(d, _, _)| domain_matches(&domain, d));
        let person = is_person(sender.unwrap_or(""), &local, local_base);
        let conversation = subject.is_some_and(|s| {
            let s = s.trim_start().to_lowercase();
            CONVERSATION_PREFIXES.iter().any(|p| s.starts_with(p))
        });
        if person && !personal_domain && !known_service {
            // One person at an organization writing to another.
            score[slot(Professional)] += 3;
        }
        if conversation {
            score[slot(if personal_domain {
                Personal
            } else {
                Professional
            })] += 1;
        }
    }
    let (best, &max) = score
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(sender: &str, subject: &str, text: &str) -> Category {
        categorize(Some(sender), Some(subject), text, None).0
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
                Some(&html(t)),
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
        );
        assert_eq!(c, TravelFlight);
        assert_eq!(ev.unwrap().confirmation_code.as_deref(), Some("K7PX2Q"));
        let (_, ev) = categorize(
            Some("x@bahn.de"),
            Some("Ihre Buchung"),
            "Buchungsnummer: 4711AB, Zug ICE 597",
            None,
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
        assert!(domain_matches("mail.united.com", "united.com"));
        assert!(!domain_matches("notunited.com", "united.com"));
    }
}
