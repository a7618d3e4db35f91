//! `lifesync bench …`: measured figures for BENCHMARKS.md. Each bench uses the configured
//! services under a throw-away key prefix, cleans up after itself, prints progress to stderr
//! and one machine-readable last line to stdout.

// The benches seed and read their own throw-away databases directly (clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod cost;
pub mod fanout;
pub mod normalize;
pub mod queue;
pub mod scale;
mod scratch;
pub mod statements;
pub mod sync;
pub mod timeline;

use clap::Subcommand;

use crate::{config::Config, domain::ProviderId};

/// The benches, as `lifesync bench` names them.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// No-op jobs: single and batched enqueue rate, processing rate with one worker; with
    /// `--workers`/`--cluster`, processing with worker processes (cluster beside single node).
    Queue {
        #[arg(long, default_value_t = 100_000)]
        jobs: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Worker processes for the processing rate (more than 1: the multi-process bench).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Seed nodes of a Redis Cluster (comma-separated): measured beside the single node.
        #[arg(long)]
        cluster: Option<String>,
        /// Shards of the bench queue on the cluster.
        #[arg(long, default_value_t = 12)]
        shards: u32,
    },
    /// A worker process of `bench queue --workers` (not for direct use): says `ready`, then
    /// starts on a line from stdin.
    #[command(hide = true)]
    QueueWorker {
        #[arg(long)]
        prefix: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        shards: u32,
        #[arg(long)]
        cluster: Option<String>,
    },
    /// A full sync of one sandbox account holding N items, with one worker, over HTTPS.
    Sync {
        #[arg(long, default_value_t = 50_000)]
        items: u64,
        /// The sandbox speaks plain HTTP (to compare with HTTPS).
        #[arg(long)]
        plain_http: bool,
    },
    /// One scheduler tick over N data sources (throw-away database and key prefix).
    Fanout {
        #[arg(long, default_value_t = 100_000)]
        sources: u64,
    },
    /// Provider requests (and Gmail quota units) of a first full, an unchanged daily full and
    /// an incremental sync after 10 new items, per provider, against the sandbox.
    Cost {
        /// Only these providers (comma-separated ids; default: all six).
        #[arg(long, value_delimiter = ',')]
        providers: Vec<String>,
    },
    /// PostgreSQL at size: loads N sources and M items (COPY, throw-away database) and
    /// measures the API's reads, the store path, a daily fan-out and a big source's deletion.
    Scale(scale::ScaleOptions),
    /// The timeline of one user holding N items: a full build and the incremental build after
    /// a sync of 100 items (throw-away database).
    Timeline {
        #[arg(long, default_value_t = 50_000)]
        items: usize,
    },
    /// One statement on the bare pool against one in a transaction of its own (`db::pinned`),
    /// alternating rounds, direct to PostgreSQL.
    Statements {
        #[arg(long, default_value_t = 3_000)]
        statements: u64,
        #[arg(long, default_value_t = 6)]
        rounds: usize,
    },
    /// Normalizes N realistic items (posts, captions, emails with markup) on one core.
    Normalize {
        #[arg(long, default_value_t = 100_000)]
        items: usize,
    },
}

/// Runs one bench and prints its machine-readable line on stdout.
pub async fn run(config: &Config, bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Sync { items, plain_http } => {
            let b = sync::run(config, items, plain_http).await?;
            println!("sync: items={} items_per_s={:.0}", b.items, b.items_per_s);
        }
        Bench::Fanout { sources } => {
            let b = fanout::run(config, sources).await?;
            println!(
                "fanout: sources={} seconds={:.2} peak_rss_mb={:.0}",
                b.sources, b.seconds, b.peak_rss_mb
            );
        }
        Bench::Cost { providers } => {
            let only: Vec<_> = providers
                .iter()
                .filter_map(|p| ProviderId::parse(p))
                .collect();
            let costs = cost::run(config, &only).await?;
            let (table, line) = cost::report(&costs);
            eprint!("{table}");
            println!("{line}");
        }
        Bench::Scale(o) => {
            println!("{}", scale::run(config, o).await?);
        }
        Bench::Timeline { items } => {
            let b = timeline::run(config, items).await?;
            println!(
                "timeline: items={} entries={} full_build_s={:.2} pure_build_s={:.2} incremental_100_ms={:.0} incremental_mid_100_ms={:.0}",
                b.items, b.entries, b.full_s, b.pure_s, b.incremental_ms, b.incremental_mid_ms
            );
        }
        Bench::Statements { statements, rounds } => {
            let b = statements::run(config, statements, rounds).await?;
            println!(
                "statements: rounds={} pinned_over_bare_median={:.2}",
                b.rounds.len(),
                b.median_ratio()
            );
        }
        Bench::Normalize { items } => {
            let b = normalize::run(items);
            println!(
                "normalize: mb_per_s={:.1} items_per_s={:.0}",
                b.mb_per_s, b.items_per_s
            );
        }
        Bench::Queue {
            jobs,
            concurrency,
            workers,
            cluster: None,
            ..
        } if workers <= 1 => {
            println!("{}", queue::run(&config.redis, jobs, concurrency).await?);
        }
        Bench::Queue {
            jobs,
            concurrency,
            workers,
            cluster,
            shards,
        } => {
            let single = queue::Target {
                name: "single",
                redis: config.redis.settings.clone(),
                shards: 1,
            };
            let one = queue::processes(&config.redis, &single, jobs, workers, concurrency).await?;
            match cluster {
                None => println!(
                    "queue: workers={workers} processed_per_s={:.0} worker_cpu_us={:.2} redis_cpu_us={:.2}",
                    one.per_s, one.worker_cpu_us, one.redis_cpu_us
                ),
                Some(seeds) => {
                    let target = queue::Target {
                        name: "cluster",
                        redis: lifesync_jobs::RedisSettings::cluster(
                            seeds.split(',').map(str::trim),
                        ),
                        shards,
                    };
                    let many = queue::processes(&config.redis, &target, jobs, workers, concurrency)
                        .await?;
                    println!(
                        "queue: workers={workers} single_processed_per_s={:.0} \
                         cluster_processed_per_s={:.0} shards={shards} ratio={:.2} \
                         single_worker_cpu_us={:.2} single_redis_cpu_us={:.2} \
                         cluster_worker_cpu_us={:.2} cluster_redis_cpu_us={:.2}",
                        one.per_s,
                        many.per_s,
                        many.per_s / one.per_s,
                        one.worker_cpu_us,
                        one.redis_cpu_us,
                        many.worker_cpu_us,
                        many.redis_cpu_us
                    );
                }
            }
        }
        Bench::QueueWorker {
            prefix,
            concurrency,
            shards,
            cluster,
        } => queue::worker(&config.redis, prefix, concurrency, shards, cluster).await?,
    }
    Ok(())
}
