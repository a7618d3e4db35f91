//! The `lifesync` binary: one subcommand per process type, each one call into the library.

use clap::{Parser, Subcommand};
use lifesync::{
    bootstrap,
    config::{env_var, Config},
};

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
        bench: lifesync::bench::Bench,
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
            Ok(()) => {
                bootstrap::run_web(
                    &config,
                    |a| tracing::info!("web: listening on http://{a}"),
                    terminated(),
                )
                .await
            }
            Err(e) => {
                eprintln!("lifesync: invalid configuration: {e}");
                return 2;
            }
        },
        Command::Worker {
            queues,
            concurrency,
        } => match config.require_token_key() {
            Ok(()) => {
                let options = bootstrap::WorkerOptions {
                    queues,
                    concurrency,
                    shutdown_timeout: std::time::Duration::from_secs(30),
                };
                bootstrap::run_worker(&config, &options, terminated()).await
            }
            Err(e) => {
                eprintln!("lifesync: invalid configuration: {e}");
                return 2;
            }
        },
        Command::Sandbox { .. } | Command::Normalize => unreachable!("handled above"),
        Command::Scheduler => {
            bootstrap::run_scheduler(&config, bootstrap::CatchUp::Yes, terminated()).await
        }
        Command::Dev { .. } => unreachable!("handled above"),
        Command::Migrate => bootstrap::migrate(&config.database).await,
        Command::Doctor => lifesync::doctor::report(&config).await,
        Command::Bench { bench } => lifesync::bench::run(&config, bench).await,
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lifesync: {e:#}");
            1
        }
    }
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

/// Resolves at SIGTERM or Ctrl-C; the handlers are installed when this is called, so a signal
/// during start-up is not lost.
fn terminated() -> impl std::future::Future<Output = ()> + Send + 'static {
    let signal = lifesync_jobs::runner::termination_signal();
    async move {
        let _ = signal.await;
    }
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
