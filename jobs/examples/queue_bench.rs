//! `lifesync bench queue` without the service, for quick A/B runs of queue changes (the jobs
//! crate alone builds in a fraction of the time): `cargo run --release -p lifesync-jobs
//! --example queue_bench -- --jobs N --concurrency C` against `REDIS_URL` (default
//! `redis://127.0.0.1:6379`). Logs go to stderr at `RUST_LOG` (default `info`), as the service's
//! text logs do; the last stdout line is the bench's result line.

use lifesync_jobs::{QueueSettings, RedisSettings, Store};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // As `lifesync` does: the command runs as a task on the worker pool, not on `block_on`'s
    // thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { tokio::spawn(run()).await? })
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .compact()
        .init();
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("bench:{}", ulid::Ulid::new());
    let store = Store::connect(RedisSettings::new(url), QueueSettings::new(prefix)).await?;
    let result = lifesync_jobs::bench::measure(
        &store,
        arg("--jobs", 100_000),
        arg("--concurrency", 32) as usize,
    )
    .await;
    let removed = store.purge_prefix().await?;
    eprintln!("bench queue: removed {removed} keys");
    println!("{}", result?);
    Ok(())
}
