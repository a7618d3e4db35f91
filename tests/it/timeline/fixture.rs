//! The labelled fixture: synthetic people, one year each (2026), as the normalizer stores their
//! items from the six providers (emails with the normalizer's categories and event objects;
//! posts and photos with or without a location, hashtags, cross-posts marked `duplicate_of`),
//! with the timeline a person would draw by hand: each trip and event with its dates and items.
//!
//! Each person has a home city and time zone, a language their mail and posts are written in,
//! trips (flight or train out, hotel, sometimes a second city, flight or train back; some
//! reservations without markup, some starts without an offset, hotel names without their city,
//! one trip whose outbound mail is missing),
//! events (concert tickets with a reminder carrying the same code, restaurant tables, some
//! found without markup; some abroad during trips) with the photos taken there, and noise: a
//! photo 300 km away during each event, everyday posts at home (located
//! or not), newsletters naming cities, shop orders, a ticket mail without a date, unlocated
//! chatter during trips. Deterministic (a fixed seed per person).

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use lifesync::{domain::ItemKind, timeline::Item};
use serde_json::json;
use uuid::Uuid;

/// What a person's timeline should hold.
#[derive(Debug, Clone)]
pub struct Expected {
    pub entry_type: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub items: HashSet<Uuid>,
    pub what: String,
}

pub struct Person {
    pub name: &'static str,
    pub items: Vec<Item>,
    pub expected: Vec<Expected>,
}

struct City {
    /// How this person writes it.
    written: &'static str,
    iata: &'static str,
    lat: f64,
    lon: f64,
    offset_h: i64,
    hotel: &'static str,
    venue: &'static str,
}

const fn city(
    written: &'static str,
    iata: &'static str,
    lat: f64,
    lon: f64,
    offset_h: i64,
    hotel: &'static str,
    venue: &'static str,
) -> City {
    City {
        written,
        iata,
        lat,
        lon,
        offset_h,
        hotel,
        venue,
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn jitter(&mut self, km: f64) -> f64 {
        (self.below(2001) as f64 / 1000.0 - 1.0) * km / 111.0
    }
}

/// Phrases per language: (flight subject, hotel subject, photo caption, ticket subject,
/// table subject, everyday post).
struct Lang {
    flight: &'static str,
    hotel: &'static str,
    photo: &'static str,
    ticket: &'static str,
    table: &'static str,
    daily: &'static str,
}

const EN: Lang = Lang {
    flight: "Your flight confirmation",
    hotel: "Reservation confirmed",
    photo: "What a view in",
    ticket: "Your tickets",
    table: "Your table is booked",
    daily: "Coffee and emails, as usual",
};
const PT: Lang = Lang {
    flight: "Confirmação do seu voo",
    hotel: "Reserva confirmada",
    photo: "Que vista em",
    ticket: "Os seus bilhetes",
    table: "Mesa para dois reservada, restaurant",
    daily: "Café e trabalho, como sempre",
};
const DE: Lang = Lang {
    flight: "Ihre Flugbestätigung",
    hotel: "Buchungsbestätigung",
    photo: "Was für ein Blick in",
    ticket: "Ihre Tickets",
    table: "Ihr Tisch ist reserviert",
    daily: "Kaffee und Arbeit wie immer",
};
const JA: Lang = Lang {
    flight: "ご搭乗便のご案内",
    hotel: "ご予約確認",
    photo: "最高の景色",
    ticket: "チケットのご案内",
    table: "ご予約ありがとうございます restaurant",
    daily: "今日もコーヒー",
};

struct Spec {
    name: &'static str,
    seed: u64,
    lang: Lang,
    home: City,
    /// (destination, second city, month, day, nights, by train)
    trips: Vec<(City, Option<City>, u32, u32, i64, bool)>,
    /// (month, day, hour local, restaurant)
    events_home: Vec<(u32, u32, u32, bool)>,
}

fn specs() -> Vec<Spec> {
    let sf = || {
        city(
            "San Francisco",
            "SFO",
            37.77,
            -122.42,
            -8,
            "Hotel Zephyr",
            "The Fillmore",
        )
    };
    let lis = || {
        city(
            "Lisboa",
            "LIS",
            38.72,
            -9.14,
            0,
            "Hotel Avenida",
            "Coliseu dos Recreios",
        )
    };
    let opo = || {
        city(
            "Porto",
            "OPO",
            41.15,
            -8.61,
            0,
            "Hotel Infante",
            "Casa da Música",
        )
    };
    let ber = || {
        city(
            "Berlin",
            "BER",
            52.52,
            13.40,
            1,
            "Hotel Adlon",
            "Columbiahalle",
        )
    };
    let muc = || {
        city(
            "München",
            "MUC",
            48.14,
            11.58,
            1,
            "Hotel Bayerischer Hof",
            "Olympiahalle",
        )
    };
    let par = || {
        city(
            "Paris",
            "CDG",
            48.86,
            2.35,
            1,
            "Hôtel Lutetia",
            "Olympia Bruno Coquatrix",
        )
    };
    let tyo = || city("東京", "HND", 35.68, 139.69, 9, "Park Hyatt", "Budokan");
    let osa = || city("大阪", "KIX", 34.69, 135.50, 9, "Hotel Nikko", "Zepp Namba");
    let nyc = || {
        city(
            "New York",
            "JFK",
            40.71,
            -74.01,
            -5,
            "The Standard",
            "Madison Square Garden",
        )
    };
    let rom = || {
        city(
            "Roma",
            "FCO",
            41.90,
            12.50,
            1,
            "Hotel Artemide",
            "Auditorium Parco della Musica",
        )
    };
    let bcn = || {
        city(
            "Barcelona",
            "BCN",
            41.39,
            2.17,
            1,
            "Hotel Arts",
            "Palau Sant Jordi",
        )
    };
    let sao = || {
        city(
            "São Paulo",
            "GRU",
            -23.55,
            -46.63,
            -3,
            "Hotel Unique",
            "Allianz Parque",
        )
    };
    let lon = || city("London", "LHR", 51.51, -0.13, 0, "The Savoy", "O2 Arena");
    let sea = || {
        city(
            "Seattle",
            "SEA",
            47.61,
            -122.33,
            -8,
            "Hotel Sorrento",
            "Climate Pledge Arena",
        )
    };
    vec![
        Spec {
            name: "ana (San Francisco, English)",
            seed: 11,
            lang: EN,
            home: sf(),
            trips: vec![
                (lis(), Some(opo()), 3, 10, 7, false),
                (nyc(), None, 6, 2, 4, false),
                (tyo(), None, 9, 14, 8, false),
                (sea(), None, 11, 20, 3, true),
            ],
            events_home: vec![
                (2, 14, 20, true),
                (4, 22, 19, false),
                (8, 8, 21, false),
                (12, 5, 20, true),
            ],
        },
        Spec {
            name: "bruno (Lisboa, Portuguese)",
            seed: 23,
            lang: PT,
            home: lis(),
            trips: vec![
                (par(), None, 2, 5, 4, false),
                (sao(), None, 5, 1, 10, false),
                (bcn(), None, 7, 17, 3, false),
                (lon(), None, 10, 9, 5, false),
            ],
            events_home: vec![(1, 24, 21, false), (6, 13, 20, true), (9, 26, 22, false)],
        },
        Spec {
            name: "clara (Berlin, German)",
            seed: 37,
            lang: DE,
            home: ber(),
            trips: vec![
                (muc(), None, 3, 20, 2, true),
                (rom(), None, 5, 28, 5, false),
                (lis(), None, 8, 1, 6, false),
                (nyc(), None, 10, 30, 5, false),
            ],
            events_home: vec![
                (2, 7, 20, false),
                (4, 11, 19, true),
                (11, 14, 21, false),
                (12, 19, 20, true),
            ],
        },
        Spec {
            name: "daichi (Tokyo, Japanese)",
            seed: 41,
            lang: JA,
            home: tyo(),
            trips: vec![
                (osa(), None, 4, 3, 2, true),
                (sf(), None, 7, 7, 6, false),
                (par(), Some(lon()), 10, 1, 8, false),
            ],
            events_home: vec![
                (1, 31, 19, false),
                (5, 16, 20, true),
                (8, 29, 18, false),
                (12, 24, 19, true),
            ],
        },
        Spec {
            name: "eve (New York, English)",
            seed: 53,
            lang: EN,
            home: nyc(),
            trips: vec![
                (lon(), None, 1, 15, 5, false),
                (bcn(), Some(par()), 4, 18, 9, false),
                (sf(), None, 8, 20, 4, false),
                (sao(), None, 11, 2, 6, false),
            ],
            events_home: vec![(3, 3, 20, false), (6, 21, 19, true), (9, 12, 21, false)],
        },
    ]
}

struct Gen {
    person: u64,
    n: u64,
    rng: Rng,
    items: Vec<Item>,
}

impl Gen {
    fn id(&mut self) -> Uuid {
        self.n += 1;
        Uuid::from_u128((u128::from(self.person) << 64) | u128::from(self.n))
    }

    fn push(&mut self, mut item: Item) -> Uuid {
        item.id = self.id();
        let id = item.id;
        self.items.push(item);
        id
    }

    fn post(
        &mut self,
        kind: ItemKind,
        at: DateTime<Utc>,
        text: String,
        loc: Option<(f64, f64, Option<&str>)>,
        tags: &[&str],
    ) -> Uuid {
        self.push(Item {
            id: Uuid::nil(),
            kind,
            occurred_at: at,
            text,
            hashtags: tags.iter().map(|t| t.to_string()).collect(),
            category: None,
            event: None,
            location: loc.map(|(lat, lon, name)| json!({"name": name, "lat": lat, "lon": lon})),
            duplicate_of: None,
        })
    }

    fn mail(
        &mut self,
        at: DateTime<Utc>,
        text: String,
        category: &str,
        event: Option<serde_json::Value>,
    ) -> Uuid {
        self.push(Item {
            id: Uuid::nil(),
            kind: ItemKind::Email,
            occurred_at: at,
            text,
            hashtags: vec![],
            category: Some(category.into()),
            event,
            location: None,
            duplicate_of: None,
        })
    }

    fn code(&mut self) -> String {
        const A: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        (0..6)
            .map(|_| A[self.rng.below(A.len() as u64) as usize] as char)
            .collect()
    }
}

/// A local wall-clock time in a city → the instant, and the stored start (with or without
/// its offset).
fn local(c: &City, m: u32, d: u32, h: u32, with_offset: bool) -> (DateTime<Utc>, String) {
    let date = NaiveDate::from_ymd_opt(2026, m, 1).unwrap() + Duration::days(i64::from(d) - 1);
    let naive = date.and_hms_opt(h, 0, 0).unwrap();
    let at = Utc.from_utc_datetime(&naive) - Duration::hours(c.offset_h);
    let start = if with_offset {
        let sign = if c.offset_h < 0 { '-' } else { '+' };
        format!(
            "{}{sign}{:02}:00",
            naive.format("%Y-%m-%dT%H:%M:%S"),
            c.offset_h.abs()
        )
    } else {
        naive.format("%Y-%m-%dT%H:%M:%S").to_string()
    };
    (at, start)
}

fn build(s: Spec, index: u64) -> Person {
    let mut g = Gen {
        person: index + 1,
        n: 0,
        rng: Rng(s.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        items: Vec::new(),
    };
    let mut expected = Vec::new();
    let home = &s.home;
    let year_start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    // Busy intervals (trips, ±8 h around events): no everyday noise at home then.
    let mut busy: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();

    for (t, (dest, second, m, d, nights, train)) in s.trips.iter().enumerate() {
        let mut items = HashSet::new();
        let markup = t % 3 != 2; // every third trip's flight mail has no markup
        let (out_at, out_start) = local(home, *m, *d, 9 + (t as u32 % 3), t % 2 == 0);
        let code = g.code();
        let (kind, verb) = if *train {
            ("TrainReservation", "Train")
        } else {
            ("FlightReservation", "Flight")
        };
        let out = g.mail(
            out_at - Duration::days(20 + t as i64),
            format!(
                "{} {code} — {verb} {} → {} ",
                s.lang.flight, home.iata, dest.iata
            ),
            if *train { "BOOKING" } else { "TRAVEL_FLIGHT" },
            Some(json!({"type": kind, "start": out_start, "time_zone": null,
                        "location": if markup { Some(home.iata) } else { None },
                        "confirmation_code": code})),
        );
        // The fourth trip's outbound mail never reached this mailbox: the trip starts at the
        // hotel.
        let (in_at, in_start) = local(dest, *m, *d, 15, false);
        let trip_start = if t == 3 {
            g.items.retain(|i| i.id != out);
            in_at
        } else {
            items.insert(out);
            out_at
        };
        // Hotel: its name only in the markup; the city in the text.
        let hcode = g.code();
        let hotel = g.mail(
            out_at - Duration::days(18),
            format!(
                "{} {hcode} — {}, {}",
                s.lang.hotel, dest.hotel, dest.written
            ),
            "TRAVEL_HOTEL",
            Some(
                json!({"type": "LodgingReservation", "start": in_start, "time_zone": null,
                        "location": dest.hotel, "confirmation_code": hcode}),
            ),
        );
        items.insert(hotel);
        let mut last_city = dest;
        let mut day_cities: Vec<&City> = (0..*nights).map(|_| dest).collect();
        if let Some(second) = second {
            // Halfway: a train to the second city and a hotel there.
            let half = (*nights / 2) as u32;
            let (tr_at, tr_start) = local(dest, *m, *d + half, 10, true);
            let trc = g.code();
            let leg = g.mail(
                tr_at - Duration::days(10),
                format!("{} {trc} — {} → {}", s.lang.flight, dest.iata, second.iata),
                "TRAVEL_FLIGHT",
                Some(
                    json!({"type": "FlightReservation", "start": tr_start, "time_zone": null,
                            "location": dest.iata, "confirmation_code": trc}),
                ),
            );
            items.insert(leg);
            let (h2_at, h2_start) = local(second, *m, *d + half, 15, false);
            let h2c = g.code();
            let h2 = g.mail(
                h2_at - Duration::days(9),
                format!(
                    "{} {h2c} — {}, {}",
                    s.lang.hotel, second.hotel, second.written
                ),
                "TRAVEL_HOTEL",
                Some(
                    json!({"type": "LodgingReservation", "start": h2_start, "time_zone": null,
                            "location": second.hotel, "confirmation_code": h2c}),
                ),
            );
            items.insert(h2);
            for c in day_cities.iter_mut().skip(half as usize) {
                *c = second;
            }
            last_city = second;
        }
        // Back home.
        let back_day = *d + *nights as u32;
        let (back_at, back_start) = local(last_city, *m, back_day, 12, t % 2 == 1);
        let bcode = g.code();
        let back = g.mail(
            out_at - Duration::days(20 + t as i64) + Duration::minutes(5),
            format!(
                "{} {bcode} — {verb} {} → {}",
                s.lang.flight, last_city.iata, home.iata
            ),
            if *train { "BOOKING" } else { "TRAVEL_FLIGHT" },
            Some(json!({"type": kind, "start": back_start, "time_zone": null,
                        "location": last_city.iata, "confirmation_code": bcode})),
        );
        items.insert(back);
        // Photos and posts at the destination, each day: located (Twitter, Facebook), named
        // only in a caption or hashtag (Instagram has no location), cross-posted.
        for (day, c) in day_cities.iter().enumerate() {
            let (at, _) = local(c, *m, *d + day as u32 + 1, 9 + g.rng.below(4) as u32, false);
            let (lat, lon) = (c.lat + g.rng.jitter(4.0), c.lon + g.rng.jitter(4.0));
            let p = g.post(
                ItemKind::Media,
                at,
                format!("{} {}", s.lang.photo, c.written),
                Some((lat, lon, None)),
                &[],
            );
            items.insert(p);
            if day % 2 == 0 {
                let tag = crate::timeline::fixture::hashtag(c.written);
                let ig = g.post(
                    ItemKind::Media,
                    at + Duration::hours(2),
                    "☀️".into(),
                    None,
                    &[&tag],
                );
                items.insert(ig);
            }
            if day == 1 {
                let text = format!("Last evening in {} was unforgettable, truly", c.written);
                let tw = g.post(
                    ItemKind::Post,
                    at + Duration::hours(5),
                    text.clone(),
                    Some((lat, lon, Some(c.written))),
                    &[],
                );
                let mut fb = Item {
                    id: Uuid::nil(),
                    kind: ItemKind::Post,
                    occurred_at: at + Duration::hours(5) + Duration::minutes(3),
                    text,
                    hashtags: vec![],
                    category: None,
                    event: None,
                    location: None,
                    duplicate_of: Some(tw),
                };
                fb.id = Uuid::nil();
                let fb = g.push(fb);
                items.insert(tw);
                items.insert(fb);
            }
            // Chatter without a place: not part of the trip.
            g.post(
                ItemKind::Post,
                at + Duration::hours(3),
                "brb, battery at 3%".into(),
                None,
                &[],
            );
        }
        // A dinner booked abroad: an event inside the trip.
        if *nights >= 4 {
            let (ev_at, ev_start) = local(dest, *m, *d + 1, 20, true);
            let rc = g.code();
            let r = g.mail(
                ev_at - Duration::days(3),
                format!("{} {rc} — {}", s.lang.table, dest.venue),
                "BOOKING",
                Some(json!({"type": "FoodEstablishmentReservation", "start": ev_start, "time_zone": null,
                            "location": dest.venue, "confirmation_code": rc})),
            );
            let (dlat, dlon) = (g.rng.jitter(2.0), g.rng.jitter(2.0));
            let ph = g.post(
                ItemKind::Media,
                ev_at + Duration::hours(1),
                "🍷".into(),
                Some((dest.lat + dlat, dest.lon + dlon, Some(dest.venue))),
                &[],
            );
            expected.push(Expected {
                entry_type: "event",
                start: ev_at,
                end: ev_at + Duration::hours(2),
                items: [r, ph].into_iter().collect(),
                what: format!("{}: dinner in {}", s.name, dest.written),
            });
            busy.push((ev_at - Duration::hours(8), ev_at + Duration::hours(8)));
        }
        expected.push(Expected {
            entry_type: "trip",
            start: trip_start,
            end: back_at,
            items,
            what: format!("{}: trip to {}", s.name, dest.written),
        });
        busy.push((out_at - Duration::hours(12), back_at + Duration::hours(12)));
    }

    for (e, (m, d, h, restaurant)) in s.events_home.iter().enumerate() {
        let zoned = e % 2 == 0;
        let (at, start) = local(home, *m, *d, *h, zoned);
        let code = g.code();
        let (kind, subject, category) = if *restaurant {
            ("FoodEstablishmentReservation", s.lang.table, "BOOKING")
        } else {
            ("EventReservation", s.lang.ticket, "EVENT_TICKET")
        };
        let venue = home.venue;
        let mut ev = json!({"type": kind, "start": start, "time_zone": null, "location": venue,
                            "confirmation_code": code});
        if *restaurant && !zoned {
            // No markup: the normalizer found a booking and its start in the words only.
            ev = json!({"type": "Reservation", "start": start, "time_zone": null,
                        "location": null, "confirmation_code": code});
        }
        let mut items = HashSet::new();
        items.insert(g.mail(
            at - Duration::days(30),
            format!("{subject} {code} — {venue}"),
            category,
            Some(ev.clone()),
        ));
        if !restaurant {
            // The reminder, same code.
            items.insert(g.mail(
                at - Duration::days(1),
                format!("Reminder: {subject} {code} — {venue}"),
                category,
                Some(ev),
            ));
        }
        for k in 0..(1 + e as i64 % 3) {
            let (dlat, dlon) = (g.rng.jitter(3.0), g.rng.jitter(3.0));
            let p = g.post(
                ItemKind::Media,
                at + Duration::minutes(40 + 50 * k),
                "🎶".into(),
                Some((home.lat + dlat, home.lon + dlon, None)),
                &[],
            );
            items.insert(p);
        }
        // Posted meanwhile 300 km away (a friend's photo re-shared with its place): not there.
        g.post(
            ItemKind::Media,
            at + Duration::hours(2),
            "📷".into(),
            Some((home.lat + 2.7, home.lon, None)),
            &[],
        );
        expected.push(Expected {
            entry_type: "event",
            start: at,
            end: at + Duration::hours(3),
            items,
            what: format!(
                "{}: {} at {}",
                s.name,
                if *restaurant { "dinner" } else { "show" },
                venue
            ),
        });
        busy.push((at - Duration::hours(8), at + Duration::hours(8)));
    }

    // Everyday noise at home, outside trips and events.
    for day in 0..365 {
        let base = year_start + Duration::days(day) + Duration::hours(10 - home.offset_h);
        if busy
            .iter()
            .any(|(a, b)| base + Duration::hours(10) >= *a && base <= *b)
        {
            continue;
        }
        let n = g.rng.below(3);
        for k in 0..n {
            let at =
                base + Duration::hours(3 * k as i64) + Duration::minutes(g.rng.below(60) as i64);
            let located = g.rng.below(2) == 0;
            let loc = located.then(|| {
                (
                    home.lat + g.rng.jitter(8.0),
                    home.lon + g.rng.jitter(8.0),
                    None,
                )
            });
            g.post(
                if k % 2 == 0 {
                    ItemKind::Post
                } else {
                    ItemKind::Media
                },
                at,
                s.lang.daily.into(),
                loc,
                &[],
            );
        }
        if day % 9 == 0 {
            // Newsletters naming cities, shop orders: no reservation.
            g.mail(
                base,
                "Flash sale: fly to Paris, Lisbon or Tokyo from 49 €".into(),
                "OTHER",
                None,
            );
        }
        if day % 31 == 5 {
            g.mail(
                base,
                "Your order has shipped".into(),
                "BOOKING",
                Some(json!({"type": "Reservation", "start": null, "location": null, "confirmation_code": "112-3456789"})),
            );
            g.mail(
                base,
                "Tickets on sale now for the summer season".into(),
                "EVENT_TICKET",
                Some(json!({"type": "EventReservation", "start": null, "location": null, "confirmation_code": null})),
            );
        }
    }
    Person {
        name: s.name,
        items: g.items,
        expected,
    }
}

/// A city as a hashtag (`#lisboa`, `#newyork`, `#東京`).
pub fn hashtag(written: &str) -> String {
    written
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

pub fn people() -> Vec<Person> {
    specs()
        .into_iter()
        .enumerate()
        .map(|(i, s)| build(s, i as u64))
        .collect()
}
