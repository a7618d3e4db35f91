//! `lifesync bench scale --sources N --items M`: PostgreSQL at size. Loads N data sources (users
//! of 6 sources, one per provider) and M items (one extra source of `--big-source` items, the
//! rest spread evenly) with `COPY` into a throw-away database, then measures with the service's
//! own queries (`db::…`):
//! - `GET /api/v1/data-sources` of a user with 6 sources, and an items page with each filter
//!   (p50/p99 over random users);
//! - the plans of the items page: the former catch-all query under a generic plan (what
//!   PostgreSQL switches to after five executions) beside today's, both `EXPLAIN ANALYZE`;
//! - the sync store path (pages of 100: source lock, upsert, relink, the run's counters and
//!   resume point, the reconciliation record; one page a transaction, and the worker's largest
//!   group of pages a transaction), items/s on the loaded table against an empty database,
//!   alternating, and against a raw `COPY` of the same rows on the empty database, alternating;
//! - one daily fan-out over every source (seconds, peak RSS), and deleting the big source.
//!
//! Loading drops the items table's secondary indexes and user triggers, and restores them (and
//! the maintained item counts) afterwards, as a restore would.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use lifesync_jobs::payloads::{ScheduleFanout, SyncMode};
use sqlx::{postgres::PgPoolCopyExt, PgPool};
use uuid::Uuid;

use crate::{
    bootstrap,
    config::Config,
    db::{self, data_sources, duplicates, items, reconcile, sync_runs},
    domain::{ItemKind, NormalizedItem},
    workers::{fanout, sync_data_source::STORE_GROUP_PAGES},
};

/// Each user's six sources: provider and the kind of its items.
const PROVIDERS: [(&str, &str); 6] = [
    ("instagram", "media"),
    ("twitter", "post"),
    ("google", "email"),
    ("facebook", "post"),
    ("linkedin", "post"),
    ("microsoft", "email"),
];
/// The items' times spread over three years before this instant.
const SPAN_SECS: i64 = 3 * 365 * 86_400;

/// What to load and how much to sample (the flags of `lifesync bench scale`).
#[derive(Debug, Clone, clap::Args)]
pub struct ScaleOptions {
    /// Data sources to load.
    #[arg(long, default_value_t = 1_000_000)]
    pub sources: u64,
    /// Items to load.
    #[arg(long, default_value_t = 10_000_000)]
    pub items: u64,
    /// Items of the one big source (deleted at the end), part of `--items`.
    #[arg(long, default_value_t = 100_000)]
    pub big_source: u64,
    /// Samples per read measured (p50/p99).
    #[arg(long, default_value_t = 400)]
    pub samples: usize,
    /// Items stored per store-path and COPY round.
    #[arg(long, default_value_t = 20_000)]
    pub store_items: u64,
    /// Keep the loaded database (its name on stderr) instead of dropping it.
    #[arg(long)]
    pub keep: bool,
}

/// p50 and p99 of samples, in ms.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
}

fn latency(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// A small deterministic generator (xorshift64*), so runs sample alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The user of source `i` (six sources each).
fn user_of(i: u64) -> String {
    format!("user-{}", i / 6)
}

fn source_id(i: u64) -> Uuid {
    Uuid::from_u128(0x5ca1e000_0000_4000_8000_000000000000 | u128::from(i))
}

const BIG_USER: &str = "user-big";

/// One item row in `COPY` text format.
#[allow(clippy::too_many_arguments)]
fn item_line(
    out: &mut String,
    rng: &mut Rng,
    now: DateTime<Utc>,
    source: Uuid,
    user: &str,
    provider: usize,
    n: u64,
) {
    use std::fmt::Write as _;
    let (p, kind) = PROVIDERS[provider];
    let at = now - Duration::seconds(rng.below(SPAN_SECS as u64) as i64);
    let category = if kind == "email" {
        lifesync_normalizer::Category::ALL[rng.below(7) as usize].as_str()
    } else {
        "\\N"
    };
    let _ = writeln!(
        out,
        "{}\t{source}\t{user}\t{p}\t{kind}\t{p}-{n}\t{}\titem {n} of {source}: a line of text as \
         a post or a mail subject would carry, with a #tag and a @mention\t{category}\t\\\\x{:016x}{:016x}{:016x}{:016x}",
        Uuid::new_v4(),
        at.to_rfc3339(),
        rng.next(),
        rng.next(),
        rng.next(),
        rng.next(),
    );
}

const ITEM_COLUMNS: &str = "COPY items (id, data_source_id, user_id, provider, kind, external_id, \
                            occurred_at, text, category, content_hash) FROM STDIN";

/// Streams generated rows into one `COPY`, 4 MB at a time.
async fn copy_rows(
    pool: &PgPool,
    statement: &str,
    total: u64,
    mut line: impl FnMut(&mut String, u64),
) -> anyhow::Result<u64> {
    let mut copy = pool.copy_in_raw(statement).await?;
    let mut buf = String::with_capacity(4 << 20);
    for n in 0..total {
        line(&mut buf, n);
        if buf.len() >= 4 << 20 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    Ok(copy.finish().await?)
}

async fn load(pool: &PgPool, o: &ScaleOptions, rng: &mut Rng) -> anyhow::Result<()> {
    let users = o.sources.div_ceil(6);
    let t = Instant::now();
    copy_rows(pool, "COPY users (id) FROM STDIN", users + 1, |b, n| {
        if n == users {
            b.push_str(BIG_USER);
        } else {
            b.push_str(&format!("user-{n}"));
        }
        b.push('\n');
    })
    .await?;
    copy_rows(
        pool,
        "COPY data_sources (id, user_id, provider, account_id) FROM STDIN",
        o.sources + 1,
        |b, i| {
            let (user, p) = if i == o.sources {
                (BIG_USER.to_string(), 1)
            } else {
                (user_of(i), (i % 6) as usize)
            };
            b.push_str(&format!(
                "{}\t{user}\t{}\taccount-{i}\n",
                source_id(i),
                PROVIDERS[p].0
            ));
        },
    )
    .await?;
    eprintln!(
        "bench scale: {users} users, {} sources in {:.1} s",
        o.sources + 1,
        t.elapsed().as_secs_f64()
    );

    // As a restore: secondary indexes and user triggers off while loading.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i
          WHERE i.tablename = 'items' AND NOT EXISTS
                (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(pool)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(pool)
            .await?;
    }
    sqlx::query("ALTER TABLE items DISABLE TRIGGER USER")
        .execute(pool)
        .await?;
    let t = Instant::now();
    let now = Utc::now();
    let spread = o.items.saturating_sub(o.big_source);
    let (each, extra) = (spread / o.sources.max(1), spread % o.sources.max(1));
    // Source by source, as syncs store them; the big source last.
    let (mut source, mut left) = (0u64, each + u64::from(extra > 0));
    let loaded = copy_rows(pool, ITEM_COLUMNS, spread + o.big_source, |b, n| {
        if n >= spread {
            item_line(b, rng, now, source_id(o.sources), BIG_USER, 1, n);
            return;
        }
        while left == 0 {
            source += 1;
            left = each + u64::from(source < extra);
        }
        left -= 1;
        let user = user_of(source);
        item_line(
            b,
            rng,
            now,
            source_id(source),
            &user,
            (source % 6) as usize,
            n,
        );
        if n > 0 && n % 1_000_000 == 0 {
            eprintln!("bench scale: {n} items copied");
        }
    })
    .await?;
    eprintln!(
        "bench scale: {loaded} items copied in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    for (_, def) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(def.clone()))
            .execute(pool)
            .await?;
    }
    sqlx::query("ALTER TABLE items ENABLE TRIGGER USER")
        .execute(pool)
        .await?;
    sqlx::query(
        "UPDATE data_sources ds SET item_count = c.n
           FROM (SELECT data_source_id, count(*) AS n FROM items
                  WHERE deleted_at IS NULL GROUP BY data_source_id) c
          WHERE ds.id = c.data_source_id",
    )
    .execute(pool)
    .await?;
    for sql in ["VACUUM ANALYZE items", "VACUUM ANALYZE data_sources"] {
        sqlx::query(sql).execute(pool).await?;
    }
    eprintln!(
        "bench scale: {} indexes rebuilt, counts set, vacuumed in {:.1} s",
        indexes.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The items filters measured, for a user whose sources are `sources`.
fn filters(sources: &[Uuid], now: DateTime<Utc>) -> Vec<(&'static str, items::ItemFilter)> {
    let f = items::ItemFilter::default;
    vec![
        ("none", f()),
        (
            "data_source_id",
            items::ItemFilter {
                data_source_id: sources.first().copied(),
                ..f()
            },
        ),
        (
            "provider",
            items::ItemFilter {
                provider: Some("google".into()),
                ..f()
            },
        ),
        (
            "kind",
            items::ItemFilter {
                kind: Some("email".into()),
                ..f()
            },
        ),
        (
            "category",
            items::ItemFilter {
                category: Some("BOOKING".into()),
                ..f()
            },
        ),
        (
            "since_until",
            items::ItemFilter {
                since: Some(now - Duration::days(400)),
                until: Some(now - Duration::days(370)),
                ..f()
            },
        ),
        (
            "cursor",
            items::ItemFilter {
                after: Some((now - Duration::days(200), Uuid::max())),
                ..f()
            },
        ),
    ]
}

/// The catch-all items query as it was before issue 18 (for the plans' A/B).
const CATCH_ALL: &str = "PREPARE catch_all(text, uuid, text, text, text, timestamptz, timestamptz,
        timestamptz, uuid, bigint) AS
    SELECT id, data_source_id, provider, kind, external_id, occurred_at, text, category,
           is_event, event, mentions, hashtags, dates, location, media_url, permalink,
           metrics, duplicate_of
      FROM items
     WHERE user_id = $1 AND deleted_at IS NULL
       AND ($2::uuid IS NULL OR data_source_id = $2)
       AND ($3::text IS NULL OR provider = $3)
       AND ($4::text IS NULL OR kind = $4)
       AND ($5::text IS NULL OR category = $5)
       AND ($6::timestamptz IS NULL OR occurred_at >= $6)
       AND ($7::timestamptz IS NULL OR occurred_at < $7)
       AND ($8::timestamptz IS NULL OR (occurred_at, id) < ($8, $9))
     ORDER BY occurred_at DESC, id DESC
     LIMIT $10";

fn literal<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("NULL".into(), |v| format!("'{v}'"))
}

/// Before/after plans of each filter, on stderr.
async fn explain(pool: &PgPool, user: &str, sources: &[Uuid]) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await?;
    sqlx::query(CATCH_ALL).execute(&mut *conn).await?;
    for (name, f) in filters(sources, Utc::now()) {
        let sql = format!(
            "EXPLAIN (ANALYZE, COSTS OFF) EXECUTE catch_all('{user}', {}, {}, {}, {}, {}, {}, {}, {}, 51)",
            literal(f.data_source_id),
            literal(f.provider.as_deref()),
            literal(f.kind.as_deref()),
            literal(f.category.as_deref()),
            literal(f.since.map(|t| t.to_rfc3339())),
            literal(f.until.map(|t| t.to_rfc3339())),
            literal(f.after.map(|a| a.0.to_rfc3339())),
            literal(f.after.map(|a| a.1)),
        );
        let before: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await?;
        let after = items::explain_list_for_user(&mut conn, user, &f, 51).await?;
        eprintln!(
            "bench scale: EXPLAIN {name}, before (catch-all, generic plan):\n  {}\n  after (only the present predicates):\n  {}",
            before.join("\n  "),
            after.join("\n  ")
        );
    }
    conn.close().await?;
    Ok(())
}

/// A page of item-shaped rows as a provider page would normalize them.
fn page(first: u64, n: u64, now: DateTime<Utc>) -> Vec<NormalizedItem> {
    (first..first + n)
        .map(|i| NormalizedItem {
            external_id: format!("store-{i}"),
            kind: ItemKind::Post,
            occurred_at: now - Duration::seconds(i as i64),
            text: format!(
                "item {i}: a line of text as a post or a mail subject would carry, with a #tag and a @mention"
            ),
            category: None,
            is_event: false,
            event: None,
            mentions: vec!["mention".into()],
            hashtags: vec!["tag".into()],
            dates: vec![],
            location: None,
            media_url: None,
            permalink: None,
            metrics: serde_json::json!({ "likes": i % 17 }),
            content_hash: *Uuid::new_v4().as_bytes().repeat(2).first_chunk::<32>().unwrap(),
            link_key: None,
        })
        .collect()
}

/// A new user and source to store into; returns the source.
async fn fresh_source(pool: &PgPool, tag: &str) -> anyhow::Result<(String, Uuid)> {
    let user = format!("store-{tag}-{}", Uuid::new_v4());
    let mut conn = pool.acquire().await?;
    let id = data_sources::upsert_connected(&mut conn, &user, "twitter", "acct", None).await?;
    Ok((user, id))
}

/// The store path: `n` items, 100 a page, `group` pages per transaction as a sync stores them
/// (source lock, user lock, upsert, relink, the run's counters and resume point, the
/// reconciliation record): 1 as a store that keeps up with the provider, or the worker's
/// largest group when the store is the slower side.
async fn store_path(pool: &PgPool, n: u64, tag: &str, group: usize) -> anyhow::Result<f64> {
    let (user, ds) = fresh_source(pool, tag).await?;
    let run = match sync_runs::insert_queued(pool, ds, "full", "manual").await? {
        sync_runs::Inserted::Created(r) | sync_runs::Inserted::AlreadyActive(r) => r,
    };
    anyhow::ensure!(sync_runs::start(pool, run).await?.is_some());
    let now = Utc::now();
    let pages: Vec<_> = (0..n.div_ceil(100))
        .map(|p| page(p * 100, 100.min(n - p * 100), now))
        .collect();
    let t = Instant::now();
    for (g, items_of_group) in pages.chunks(group).enumerate() {
        let items_of_group = items_of_group.concat();
        let mut tx = pool.begin().await?;
        anyhow::ensure!(data_sources::lock_for_page(&mut tx, ds).await?);
        duplicates::lock_user(&mut tx, &user).await?;
        let mut w = items::upsert_page(&mut tx, &user, ds, "twitter", &items_of_group).await?;
        w.counts.duplicate = duplicates::relink(
            &mut tx,
            &user,
            &w.written,
            &w.inserted,
            std::time::Duration::from_secs(3600),
        )
        .await?;
        let resume = format!("{{\"page\":{g}}}");
        let fetched = items_of_group.len() as i32;
        anyhow::ensure!(
            sync_runs::record_page(&mut tx, run, fetched, w.counts, Some(&resume)).await?
        );
        let seen = reconcile::PageSeen::of(
            items_of_group.iter().map(|i| i.external_id.as_str()),
            &[],
            &[],
        );
        reconcile::record(&mut tx, run, ds, &seen).await?;
        tx.commit().await?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// A raw `COPY` of `n` rows shaped as the store path's.
async fn raw_copy(pool: &PgPool, n: u64, tag: &str) -> anyhow::Result<f64> {
    let (user, ds) = fresh_source(pool, tag).await?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let now = Utc::now();
    let t = Instant::now();
    copy_rows(pool, ITEM_COLUMNS, n, |b, i| {
        item_line(b, &mut rng, now, ds, &user, 1, i)
    })
    .await?;
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Runs the bench; returns the machine-readable line.
pub async fn run(config: &Config, o: ScaleOptions) -> anyhow::Result<String> {
    let big = super::scratch::Scratch::create(config).await?;
    let empty = super::scratch::Scratch::create(config).await?;
    let result = measure(&big, &empty, &o).await;
    empty.remove(config, "scale").await?;
    if o.keep {
        eprintln!("bench scale: kept database {}", big.name);
    } else {
        big.remove(config, "scale").await?;
    }
    result
}

async fn measure(
    big: &super::scratch::Scratch,
    empty: &super::scratch::Scratch,
    o: &ScaleOptions,
) -> anyhow::Result<String> {
    let pool = db::connect_with(&big.database, 8).await?;
    db::migrate(&pool).await?;
    let empty_pool = db::connect_with(&empty.database, 8).await?;
    db::migrate(&empty_pool).await?;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let t = Instant::now();
    load(&pool, o, &mut rng).await?;
    let load_s = t.elapsed().as_secs_f64();
    let users = (o.sources / 6).max(1);

    // Reads: the data-sources list and each items filter, random users of six sources.
    let mut ms = Vec::new();
    for _ in 0..o.samples {
        let user = format!("user-{}", rng.below(users));
        let t = Instant::now();
        let listed = data_sources::list_for_user(&pool, &user).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(!listed.is_empty());
    }
    let list = latency(ms);
    eprintln!(
        "bench scale: GET /api/v1/data-sources p50 {:.2} ms p99 {:.2} ms",
        list.p50, list.p99
    );
    let sources_of = |u: u64| -> Vec<Uuid> { (u * 6..u * 6 + 6).map(source_id).collect() };
    let mut line = format!(
        "scale: sources={} items={} load_s={load_s:.0} list_p50_ms={:.2} list_p99_ms={:.2}",
        o.sources, o.items, list.p50, list.p99
    );
    let now = Utc::now();
    for (k, (name, _)) in filters(&[], now).into_iter().enumerate() {
        let mut ms = Vec::new();
        for _ in 0..o.samples {
            let u = rng.below(users);
            let f = filters(&sources_of(u), now).swap_remove(k).1;
            let t = Instant::now();
            items::list_for_user(&pool, &format!("user-{u}"), &f, 51).await?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let l = latency(ms);
        eprintln!(
            "bench scale: items page ({name}) p50 {:.2} ms p99 {:.2} ms",
            l.p50, l.p99
        );
        line += &format!(
            " items_{name}_p50_ms={:.2} items_{name}_p99_ms={:.2}",
            l.p50, l.p99
        );
    }
    let u = rng.below(users);
    explain(&pool, &format!("user-{u}"), &sources_of(u)).await?;

    // The store path on the loaded table against an empty database, then against raw COPY:
    // a page per transaction and the worker's largest group of pages, alternating.
    let g = STORE_GROUP_PAGES;
    let (mut on_big, mut on_empty) = (vec![], vec![]);
    let (mut copied, mut stored, mut grouped) = (vec![], vec![], vec![]);
    for round in 0..2 {
        on_big.push(store_path(&pool, o.store_items, &format!("big{round}"), g).await?);
        on_empty.push(store_path(&empty_pool, o.store_items, &format!("empty{round}"), g).await?);
    }
    for round in 0..3 {
        copied.push(raw_copy(&empty_pool, o.store_items, &format!("copy{round}")).await?);
        stored.push(store_path(&empty_pool, o.store_items, &format!("store{round}"), 1).await?);
        grouped.push(store_path(&empty_pool, o.store_items, &format!("group{round}"), g).await?);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join("/")
    };
    let per_round = |v: &[f64]| {
        v.iter()
            .zip(&copied)
            .map(|(s, c)| format!("{:.2}", s / c))
            .collect::<Vec<_>>()
            .join("/")
    };
    eprintln!(
        "bench scale: store path ({g} pages a transaction) items/s on {} items: {} ; empty: {} ; ratio {:.2}",
        o.items,
        fmt(&on_big),
        fmt(&on_empty),
        mean(&on_big) / mean(&on_empty)
    );
    eprintln!(
        "bench scale: raw COPY {} rows/s ; store path, a page a transaction {} (ratio {}) ; \
         {g} pages a transaction {} (ratio {})",
        fmt(&copied),
        fmt(&stored),
        per_round(&stored),
        fmt(&grouped),
        per_round(&grouped),
    );
    line += &format!(
        " store_big_per_s={:.0} store_empty_per_s={:.0} store_page_vs_copy={:.2} store_vs_copy={:.2}",
        mean(&on_big),
        mean(&on_empty),
        mean(&stored) / mean(&copied),
        mean(&grouped) / mean(&copied)
    );

    // One daily fan-out over every source.
    let config = big.config(&[])?;
    let deps = bootstrap::worker_deps(
        &config,
        pool.clone(),
        &big.store,
        bootstrap::provider_apps(&config)?,
    )?;
    let tick = ScheduleFanout {
        version: ScheduleFanout::VERSION,
        schedule: "daily".into(),
        mode: SyncMode::Full,
        tick_unix: Utc::now().timestamp(),
    };
    let rss_before = super::fanout::peak_rss_mb();
    let t = Instant::now();
    let totals = fanout::fan_out(&deps, &tick).await?;
    let fan_s = t.elapsed().as_secs_f64();
    let rss = super::fanout::peak_rss_mb();
    eprintln!(
        "bench scale: fan-out {} enqueued, {} skipped in {fan_s:.1} s; peak RSS {rss_before:.0} MB before, {rss:.0} MB after",
        totals.enqueued, totals.skipped
    );
    drop(deps);

    // Deleting the big source (disconnect without keeping data).
    let t = Instant::now();
    data_sources::disconnect(
        &pool,
        source_id(o.sources),
        false,
        std::time::Duration::from_secs(3600),
    )
    .await?;
    let delete_s = t.elapsed().as_secs_f64();
    eprintln!(
        "bench scale: deleted a source of {} items in {delete_s:.2} s",
        o.big_source
    );
    line += &format!(
        " fanout_s={fan_s:.1} fanout_peak_rss_mb={rss:.0} delete_big_source_s={delete_s:.2}"
    );
    pool.close().await;
    empty_pool.close().await;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_samples() {
        let l = latency((1..=100).map(f64::from).collect());
        assert_eq!((l.p50, l.p99), (51.0, 99.0));
    }

    #[test]
    fn sources_come_six_to_a_user() {
        assert_eq!(user_of(0), user_of(5));
        assert_ne!(user_of(5), user_of(6));
        assert_ne!(source_id(1), source_id(2));
    }

    #[test]
    fn an_item_line_has_every_copied_column() {
        let mut s = String::new();
        item_line(&mut s, &mut Rng(7), Utc::now(), source_id(3), "u", 2, 9);
        assert_eq!(s.trim_end().split('\t').count(), 10, "{s}");
        assert!(s.contains("\temail\t") && s.contains("\\\\x"), "{s}");
    }
}
