//! The `lifesync` binary: one subcommand per process type, each one call into the library.

use clap::{Parser, Subcommand};
use lifesync::config::{env_var, Config, DatabaseConfig};

#[derive(Parser)]
#[command(
    name = "lifesync",
    version,
    about = "Sync a person's digital life, durably"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The HTTP API on HOST:PORT.
    Web,
    /// apalis workers for every queue (or those named).
    Worker {
        /// Comma-separated queues to run (default: all).
        #[arg(long, value_delimiter = ',')]
        queues: Vec<String>,
        /// Jobs run at once per queue.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Everything in one process plus the sandbox, with a connected demo account.
    Dev {
        /// The sandbox's port (0: any free port).
        #[arg(long, default_value_t = 0)]
        sandbox_port: u16,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Wipe the data of dev's own PostgreSQL and Redis first.
        #[arg(long)]
        dev_reset: bool,
    },
    /// apalis-cron: the daily and incremental schedules become durable fan-out jobs.
    Scheduler,
    /// The provider sandbox alone.
    Sandbox {
        #[arg(long, default_value_t = 9090)]
        port: u16,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Serve HTTPS with a certificate from a private CA generated at start.
        #[arg(long)]
        tls: bool,
        /// Where `--tls` writes the CA certificate (PEM) for clients to trust.
        #[arg(long, requires = "tls")]
        ca_file: Option<std::path::PathBuf>,
    },
    /// Applies the migrations in `migrations/` (creating the database if missing) and exits.
    Migrate,
    /// Checks every configured provider host (DNS + TLS), PostgreSQL and Redis; exit 1 on any
    /// failure.
    Doctor,
    /// Normalizes JSON Lines from stdin (one raw item a line) onto stdout, as lifesync would
    /// store them; a bad line gives a JSON error line with its number. Exit 1 if any line was
    /// bad. Reads no configuration.
    Normalize,
    /// Measurements recorded in BENCHMARKS.md.
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// No-op jobs: single and batched enqueue rate, processing rate with one worker.
    Queue {
        #[arg(long, default_value_t = 100_000)]
        jobs: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
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
    /// Normalizes N realistic items (posts, captions, emails with markup) on one core.
    Normalize {
        #[arg(long, default_value_t = 100_000)]
        items: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Command::Normalize = cli.command {
        // A pure filter: no runtime, no logging on stdout, no configuration.
        std::process::exit(normalize_stdio());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The command runs as a task on the worker pool, as every request and job of the service
    // does, not on the thread that called `block_on` (a thread hop per Redis round trip).
    let code = runtime
        .block_on(async move { tokio::spawn(run(cli)).await })
        .unwrap_or(1);
    std::process::exit(code);
}

async fn run(cli: Cli) -> i32 {
    lifesync::metrics::handle();
    lifesync::logging::init();
    // The sandbox stands in for the providers: it reads none of the service's configuration.
    if let Command::Sandbox {
        port,
        seed,
        tls,
        ca_file,
    } = cli.command
    {
        return match sandbox(port, seed, tls, ca_file).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("lifesync: {e:#}");
                1
            }
        };
    }
    if let Command::Dev {
        sandbox_port,
        seed,
        dev_reset,
    } = cli.command
    {
        return match lifesync::dev::run(sandbox_port, seed, dev_reset).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("lifesync: {e:#}");
                1
            }
        };
    }
    let config = match Config::from_env(&env_var) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lifesync: invalid configuration: {e}");
            return 2;
        }
    };
    let result = match cli.command {
        Command::Web => match config.require_web() {
            Ok(()) => web(&config).await,
            Err(e) => {
                eprintln!("lifesync: invalid configuration: {e}");
                return 2;
            }
        },
        Command::Worker {
            queues,
            concurrency,
        } => match config.require_token_key() {
            Ok(()) => worker(config, queues, concurrency).await,
            Err(e) => {
                eprintln!("lifesync: invalid configuration: {e}");
                return 2;
            }
        },
        Command::Sandbox { .. } | Command::Normalize => unreachable!("handled above"),
        Command::Scheduler => scheduler(&config).await,
        Command::Dev { .. } => unreachable!("handled above"),
        Command::Migrate => migrate(&config.database).await,
        Command::Doctor => {
            let checks = lifesync::doctor::run(&config).await;
            for c in &checks {
                println!("{c}");
            }
            let failed = checks.iter().filter(|c| c.problem.is_some()).count();
            if failed > 0 {
                Err(anyhow::anyhow!("doctor: {failed} check(s) failed"))
            } else {
                Ok(())
            }
        }
        Command::Bench {
            bench: Bench::Sync { items, plain_http },
        } => lifesync::bench::sync::run(&config, items, plain_http)
            .await
            .map(|b| println!("sync: items={} items_per_s={:.0}", b.items, b.items_per_s)),
        Command::Bench {
            bench: Bench::Fanout { sources },
        } => lifesync::bench::fanout::run(&config, sources)
            .await
            .map(|b| {
                println!(
                    "fanout: sources={} seconds={:.2} peak_rss_mb={:.0}",
                    b.sources, b.seconds, b.peak_rss_mb
                );
                let _ = b.enqueued;
            }),
        Command::Bench {
            bench: Bench::Cost { providers },
        } => {
            let only: Vec<_> = providers
                .iter()
                .filter_map(|p| lifesync::providers::ProviderId::parse(p))
                .collect();
            lifesync::bench::cost::run(&config, &only)
                .await
                .map(|costs| {
                    let (table, line) = lifesync::bench::cost::report(&costs);
                    eprint!("{table}");
                    println!("{line}");
                })
        }
        Command::Bench {
            bench: Bench::Normalize { items },
        } => {
            let b = lifesync::bench::normalize::run(items);
            println!(
                "normalize: mb_per_s={:.1} items_per_s={:.0}",
                b.mb_per_s, b.items_per_s
            );
            Ok(())
        }
        Command::Bench {
            bench: Bench::Queue { jobs, concurrency },
        } => lifesync::bench::queue::run(&config.redis, jobs, concurrency)
            .await
            .map(|b| println!("{b}")),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lifesync: {e:#}");
            1
        }
    }
}

async fn migrate(db: &DatabaseConfig) -> anyhow::Result<()> {
    use anyhow::Context;
    let created = lifesync::db::ensure_database(db)
        .await
        .context("migrate: PostgreSQL is unreachable (start it, or set DATABASE_URL)")?;
    if created {
        tracing::info!("migrate: created the database");
    }
    let pool = lifesync::db::connect_with(db, 2).await?;
    lifesync::db::migrate(&pool).await?;
    tracing::info!("migrate: schema is up to date");
    Ok(())
}

async fn web(config: &Config) -> anyhow::Result<()> {
    let terminated = lifesync_jobs::runner::termination_signal();
    use anyhow::Context;
    use secrecy::ExposeSecret;
    let pool = connect_postgres(config, "web", 10).await?;
    let store = connect_redis(config, "web").await?;
    let secret = config.jwt_secret.as_ref().expect("checked by require_web");
    tokio::spawn(lifesync::metrics::report_data_sources(
        pool.clone(),
        std::time::Duration::from_secs(15),
    ));
    tokio::spawn(lifesync_jobs::metrics::report_depth(
        store.clone(),
        lifesync::workers::QUEUES
            .iter()
            .map(|q| q.to_string())
            .collect(),
        std::time::Duration::from_secs(5),
    ));
    let http = config.outbound.client()?;
    let oauth = lifesync::api::OAuthSetup {
        apps: std::sync::Arc::new(lifesync::oauth::apps::ProviderApps::new(
            &config.providers,
            http,
        )),
        token_key: config.token_key.clone().expect("checked by require_web"),
        success_redirect: config.oauth_success_redirect_url.clone(),
        clock: None,
    };
    let state = lifesync::api::AppState::with_oauth(
        pool,
        store,
        secret.expose_secret().as_bytes(),
        Some(oauth),
    )
    .with_limits(lifesync::api::ApiLimits {
        max_body_bytes: config.api_max_body_bytes,
        rate_limit_per_minute: config.api_rate_limit_per_minute,
    })
    .with_duplicate_window(config.duplicate_window);
    tokio::spawn(lifesync::metrics::report_oauth_states(
        state.states.clone(),
        std::time::Duration::from_secs(15),
    ));
    let addr = format!("{}:{}", config.host, config.port);
    lifesync::api::serve(
        &addr,
        state,
        |a| tracing::info!("web: listening on http://{a}"),
        async {
            let _ = terminated.await;
        },
    )
    .await
    .with_context(|| format!("web: cannot serve on {addr}"))
}

async fn worker(mut config: Config, queues: Vec<String>, concurrency: usize) -> anyhow::Result<()> {
    let queues = if queues.is_empty() {
        lifesync::workers::QUEUES
            .iter()
            .map(|q| q.to_string())
            .collect()
    } else {
        queues
    };
    if let Some(q) = queues
        .iter()
        .find(|q| !lifesync::workers::QUEUES.contains(&q.as_str()))
    {
        anyhow::bail!(
            "worker: unknown queue {q:?} (known: {:?})",
            lifesync::workers::QUEUES
        );
    }
    if let Some(addr) = config.metrics_addr.clone() {
        tokio::spawn(async move {
            if let Err(e) = lifesync::metrics::serve(&addr, std::future::pending()).await {
                tracing::error!("worker: metrics on {addr}: {e}");
            }
        });
    }
    // PostgreSQL may still be starting (or be briefly down): keep trying for a while.
    let deadline = std::time::Instant::now() + config.startup_wait;
    let pool = loop {
        match connect_postgres(&config, "worker", concurrency as u32 + 2).await {
            Ok(p) => break p,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await
            }
            Err(e) if config.startup_wait.is_zero() => return Err(e),
            Err(e) => {
                return Err(e.context(format!(
                    "worker: gave up after {} s (STARTUP_WAIT_SECONDS)",
                    config.startup_wait.as_secs()
                )))
            }
        }
    };
    let store = connect_redis(&config, "worker").await?;
    let apps =
        lifesync::oauth::apps::ProviderApps::new(&config.providers, config.outbound.client()?);
    let states = lifesync::oauth::state::StateStore::new(
        store.connection(),
        config.redis.key_prefix.clone(),
    );
    let deps = lifesync::workers::SharedDeps(std::sync::Arc::new(lifesync::workers::Deps {
        pool,
        producer: lifesync_jobs::Producer::new(store.clone()),
        token_key: config
            .token_key
            .take()
            .expect("checked by require_token_key"),
        apps: std::sync::Arc::new(apps),
        states,
        batch_size: config.sync_batch_size,
        fanout_spread: config.fanout_spread,
        duplicate_window: config.duplicate_window,
    }));
    tokio::spawn(lifesync_jobs::metrics::report_depth(
        store.clone(),
        queues.clone(),
        std::time::Duration::from_secs(5),
    ));
    tokio::spawn(lifesync::maintenance::sweep_stuck_runs(
        deps.pool.clone(),
        config.run_deadline,
        std::time::Duration::from_secs(60),
    ));
    tokio::spawn(lifesync::maintenance::sweep_dead_job_runs(
        deps.pool.clone(),
        store.clone(),
        std::time::Duration::from_secs(60),
    ));
    let handles = lifesync_jobs::runner::Handles::default();
    let monitor = lifesync::workers::register(&store, deps, &queues, concurrency, &handles);
    tracing::info!("worker: running {}", queues.join(", "));
    lifesync_jobs::runner::run_until(
        monitor,
        handles,
        lifesync_jobs::runner::termination_signal(),
        std::time::Duration::from_secs(30),
    )
    .await
    .map_err(|e| anyhow::anyhow!("worker: {e}"))
}

async fn sandbox(
    port: u16,
    seed: u64,
    tls: bool,
    ca_file: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let state = lifesync_sandbox::SandboxState::new(seed);
    let tls = if tls {
        let tls = lifesync_sandbox::tls::SandboxTls::generate()?;
        let path = ca_file.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("lifesync-sandbox-{port}-ca.pem"))
        });
        tls.ca
            .write_cert(&path)
            .with_context(|| format!("sandbox: cannot write the CA to {}", path.display()))?;
        Some((tls, path))
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    lifesync_sandbox::serve_with(
        &format!("127.0.0.1:{port}"),
        state,
        tls.as_ref().map(|(t, _)| &t.server),
        |a| {
            tracing::info!("sandbox: serving providers on {scheme}://{a} (seed {seed})");
            if let Some((_, path)) = &tls {
                tracing::info!(
                    "sandbox: CA certificate in {} (trust it: SSL_CERT_FILE={})",
                    path.display(),
                    path.display()
                );
            }
        },
        async {
            let _ = lifesync_jobs::runner::termination_signal().await;
        },
    )
    .await?;
    Ok(())
}

async fn scheduler(config: &Config) -> anyhow::Result<()> {
    let stop = lifesync_jobs::runner::termination_signal();
    if let Some(addr) = config.metrics_addr.clone() {
        tokio::spawn(async move {
            if let Err(e) = lifesync::metrics::serve(&addr, std::future::pending()).await {
                tracing::error!("scheduler: metrics on {addr}: {e}");
            }
        });
    }
    let store = connect_redis(config, "scheduler").await?;
    let table = lifesync::scheduler::table(config);
    let caught = lifesync::scheduler::catch_up(&store, &table, chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("scheduler: catch-up: {e}"))?;
    for job in caught {
        tracing::info!(
            "scheduler: caught up the missed {} tick of {}",
            job.schedule,
            job.tick_unix
        );
    }
    let monitor = lifesync::scheduler::monitor(store, table);
    tracing::info!(
        "scheduler: daily {:?}, incremental {:?} (UTC)",
        config.daily_schedule.expression,
        config.incremental_schedule.expression
    );
    monitor
        .shutdown_timeout(std::time::Duration::from_secs(10))
        .run_with_signal(stop)
        .await
        .map_err(|e| anyhow::anyhow!("scheduler: {e}"))
}

async fn connect_postgres(
    config: &Config,
    process: &str,
    max_connections: u32,
) -> anyhow::Result<sqlx::PgPool> {
    use anyhow::Context;
    lifesync::db::connect_with(&config.database, max_connections)
        .await
        .with_context(|| {
            format!("{process}: PostgreSQL is unreachable (start it, or set DATABASE_URL)")
        })
}

async fn connect_redis(config: &Config, process: &str) -> anyhow::Result<lifesync_jobs::Store> {
    use anyhow::Context;
    let store =
        lifesync_jobs::Store::connect(config.redis.settings.clone(), config.queue_settings())
            .await
            .with_context(|| {
                format!("{process}: Redis is unreachable (start it, or set REDIS_URL)")
            })?;
    lifesync::doctor::warn_if_evicting(&store, process).await;
    Ok(store)
}

/// `lifesync normalize`: stdin → stdout; 0 when every line was read, 1 when some were bad,
/// 2 when stdin or stdout failed.
fn normalize_stdio() -> i32 {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match lifesync::normalizer::jsonl::run(stdin, stdout) {
        Ok(s) => {
            eprintln!("normalize: {} items, {} bad lines", s.items, s.errors);
            i32::from(s.errors > 0)
        }
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("lifesync: normalize: {e}");
            2
        }
    }
}
