//! `lifesync bench timeline --items N`: the timeline build of one user holding N items, in a
//! throw-away database: a full build (read every live item, build, replace every entry, one
//! transaction) and the incremental build after a sync of 100 new items (the window around
//! them), each the median of 5 runs, and after 100 items in the middle of the history (median
//! of 3); plus the pure builder alone on the same items.
//!
//! The user's items span five years from one home city: everyday posts (half located), a trip
//! every three weeks (flight out, hotel, flight back; located photos, captions naming the
//! city), a ticket or table booking every week with photos there, newsletters.

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{
    config::Config,
    db,
    domain::ItemKind,
    timeline::{self, Item},
    workers::build_timeline,
};

/// The figures of one run.
pub struct TimelineBench {
    pub items: usize,
    pub entries: usize,
    pub full_s: f64,
    pub pure_s: f64,
    pub incremental_ms: f64,
    pub incremental_mid_ms: f64,
}

const DESTINATIONS: [(&str, &str, f64, f64); 8] = [
    ("Lisboa", "LIS", 38.72, -9.14),
    ("Paris", "CDG", 48.86, 2.35),
    ("New York", "JFK", 40.71, -74.01),
    ("東京", "HND", 35.68, 139.69),
    ("Roma", "FCO", 41.90, 12.50),
    ("Barcelona", "BCN", 41.39, 2.17),
    ("München", "MUC", 48.14, 11.58),
    ("London", "LHR", 51.51, -0.13),
];

/// A deterministic item generator.
struct Gen {
    n: u64,
    rng: u64,
    items: Vec<Item>,
}

impl Gen {
    fn rand(&mut self, below: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % below
    }

    fn jitter(&mut self) -> f64 {
        (self.rand(2001) as f64 / 1000.0 - 1.0) * 0.05
    }

    fn push(
        &mut self,
        kind: ItemKind,
        at: DateTime<Utc>,
        text: String,
        location: Option<(f64, f64)>,
        category: Option<&str>,
        event: Option<serde_json::Value>,
    ) {
        self.n += 1;
        self.items.push(Item {
            id: Uuid::from_u128(u128::from(self.n) | (0xbe4c_u128 << 96)),
            kind,
            occurred_at: at,
            text,
            hashtags: vec![],
            category: category.map(String::from),
            event,
            location: location.map(|(lat, lon)| json!({"name": null, "lat": lat, "lon": lon})),
            duplicate_of: None,
        });
    }

    /// Items from `from` on until `count` are made.
    fn fill(&mut self, from: DateTime<Utc>, count: usize) {
        let home = (37.77, -122.42);
        let mut day = 0i64;
        while self.items.len() < count {
            let base = from + Duration::days(day);
            if day % 21 == 5 {
                let (name, code, lat, lon) = DESTINATIONS[(day / 21) as usize % DESTINATIONS.len()];
                let out = base + Duration::hours(17);
                let back = out + Duration::days(5);
                let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                self.push(
                    ItemKind::Email,
                    out - Duration::days(20),
                    format!("Your flight SFO → {code}"),
                    None,
                    Some("TRAVEL_FLIGHT"),
                    Some(
                        json!({"type": "FlightReservation", "start": fmt(out), "location": "SFO"}),
                    ),
                );
                self.push(ItemKind::Email, out - Duration::days(19), format!("Reservation confirmed — Hotel, {name}"), None, Some("TRAVEL_HOTEL"),
                    Some(json!({"type": "LodgingReservation", "start": fmt(out + Duration::hours(14)), "location": "Hotel Central"})));
                self.push(
                    ItemKind::Email,
                    out - Duration::days(20),
                    format!("Your flight {code} → SFO"),
                    None,
                    Some("TRAVEL_FLIGHT"),
                    Some(
                        json!({"type": "FlightReservation", "start": fmt(back), "location": code}),
                    ),
                );
                for d in 1..5 {
                    for k in 0..4 {
                        let (a, b) = (self.jitter(), self.jitter());
                        self.push(
                            ItemKind::Media,
                            out + Duration::days(d) + Duration::hours(k),
                            format!("What a day in {name}"),
                            Some((lat + a, lon + b)),
                            None,
                            None,
                        );
                    }
                }
                day += 6;
                continue;
            }
            if day % 7 == 3 {
                let at = base + Duration::hours(27);
                self.push(ItemKind::Email, at - Duration::days(14), "Your tickets — The Fillmore".into(), None, Some("EVENT_TICKET"),
                    Some(json!({"type": "EventReservation", "start": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "location": "The Fillmore"})));
                for k in 0..3 {
                    let (a, b) = (self.jitter(), self.jitter());
                    self.push(
                        ItemKind::Media,
                        at + Duration::minutes(30 + 40 * k),
                        "🎶".into(),
                        Some((home.0 + a, home.1 + b)),
                        None,
                        None,
                    );
                }
            }
            for k in 0..20 {
                let at = base + Duration::hours(15) + Duration::minutes(25 * k);
                let located = self.rand(2) == 0;
                let loc = if located {
                    Some((home.0 + self.jitter(), home.1 + self.jitter()))
                } else {
                    None
                };
                let kind = if k % 3 == 0 {
                    ItemKind::Media
                } else {
                    ItemKind::Post
                };
                self.push(
                    kind,
                    at,
                    "Coffee and emails, as usual".into(),
                    loc,
                    None,
                    None,
                );
            }
            self.push(
                ItemKind::Email,
                base + Duration::hours(14),
                "Flash sale: fly to Paris from 49 €".into(),
                None,
                Some("OTHER"),
                None,
            );
            day += 1;
        }
        self.items.truncate(count);
    }
}

async fn insert(
    pool: &sqlx::PgPool,
    source: Uuid,
    user: &str,
    items: &[Item],
) -> anyhow::Result<()> {
    for chunk in items.chunks(5_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|i| i.id).collect();
        let kinds: Vec<&str> = chunk.iter().map(|i| i.kind.as_str()).collect();
        let at: Vec<DateTime<Utc>> = chunk.iter().map(|i| i.occurred_at).collect();
        let texts: Vec<&str> = chunk.iter().map(|i| i.text.as_str()).collect();
        let categories: Vec<Option<&str>> = chunk.iter().map(|i| i.category.as_deref()).collect();
        let events: Vec<Option<serde_json::Value>> =
            chunk.iter().map(|i| i.event.clone()).collect();
        let locations: Vec<Option<serde_json::Value>> =
            chunk.iter().map(|i| i.location.clone()).collect();
        sqlx::query(
            "INSERT INTO items (id, data_source_id, user_id, provider, kind, external_id, occurred_at,
                                text, category, is_event, event, location, content_hash)
             SELECT x.id, $1, $2, 'twitter', x.kind, x.id::text, x.at, x.text, x.category,
                    x.event IS NOT NULL, x.event, x.location, sha256(x.id::text::bytea)
               FROM unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                           $8::jsonb[], $9::jsonb[])
                 AS x(id, kind, at, text, category, event, location)",
        )
        .bind(source)
        .bind(user)
        .bind(&ids)
        .bind(&kinds)
        .bind(&at)
        .bind(&texts)
        .bind(&categories)
        .bind(&events)
        .bind(&locations)
        .execute(pool)
        .await?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(config: &Config, count: usize) -> anyhow::Result<TimelineBench> {
    let scratch = super::scratch::Scratch::create(config).await?;
    let bench_db = scratch.database.clone();
    let result = async {
        let pool = db::connect_with(&bench_db, 4).await?;
        db::migrate(&pool).await?;
        let user = "bench-user";
        let source = Uuid::new_v4();
        sqlx::query("INSERT INTO users (id) VALUES ($1)").bind(user).execute(&pool).await?;
        sqlx::query("INSERT INTO data_sources (id, user_id, provider, account_id) VALUES ($1, $2, 'twitter', 'bench')")
            .bind(source)
            .bind(user)
            .execute(&pool)
            .await?;
        let start = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).single().expect("a date");
        let mut gen = Gen { n: 0, rng: 0x2545_f491_4f6c_dd1d, items: Vec::new() };
        gen.fill(start, count);
        eprintln!("bench timeline: storing {} items", gen.items.len());
        insert(&pool, source, user, &gen.items).await?;
        sqlx::query("ANALYZE items").execute(&pool).await?;

        let t = Instant::now();
        let built = timeline::build(user, &gen.items, None);
        let pure_s = t.elapsed().as_secs_f64();
        eprintln!("bench timeline: pure build {} entries in {pure_s:.3} s", built.entries.len());

        let mut full = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let o = build_timeline::build_user(&pool, user, true).await?;
            full.push(t.elapsed().as_secs_f64());
            eprintln!("bench timeline: full build {:.3} s ({} items read, {} entries)", full.last().expect("pushed"), o.items_read, o.entries_written);
        }
        let mut incremental = Vec::new();
        let last = gen.items.iter().map(|i| i.occurred_at).max().expect("items");
        for round in 0..5 {
            // A sync of 100 new items (the latest days: posts, a trip's mails and photos).
            let mut more = Gen { n: gen.n + 1_000_000 * (round + 1), rng: 0x9e37_79b9 + round, items: Vec::new() };
            more.fill(last + Duration::days(30 * (round as i64 + 1)), 100);
            insert(&pool, source, user, &more.items).await?;
            let t = Instant::now();
            let o = build_timeline::build_user(&pool, user, false).await?;
            incremental.push(t.elapsed().as_secs_f64() * 1000.0);
            eprintln!("bench timeline: incremental build after 100 items {:.1} ms ({} items read, full={:?})", incremental.last().expect("pushed"), o.items_read, o.full);
        }
        let mut middle = Vec::new();
        for round in 0..3u64 {
            // 100 items in the middle of the history (a late-arriving mailbox, an old album).
            let mut more = Gen {
                n: gen.n + 10_000_000 * (round + 1),
                rng: 0x51_7cc1 + round,
                items: Vec::new(),
            };
            more.fill(start + Duration::days(900 + 40 * round as i64), 100);
            insert(&pool, source, user, &more.items).await?;
            let t = Instant::now();
            let o = build_timeline::build_user(&pool, user, false).await?;
            middle.push(t.elapsed().as_secs_f64() * 1000.0);
            eprintln!(
                "bench timeline: incremental build after 100 items mid-history {:.1} ms ({} items read, full={:?})",
                middle.last().expect("pushed"),
                o.items_read,
                o.full
            );
        }
        let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_entries").fetch_one(&pool).await?;
        pool.close().await;
        anyhow::Ok(TimelineBench {
            items: count,
            entries: entries as usize,
            full_s: median(full),
            pure_s,
            incremental_ms: median(incremental),
            incremental_mid_ms: median(middle),
        })
    }
    .await;
    scratch.remove(config, "timeline").await?;
    result
}
