//! A worker process for the durability tests: runs probe jobs from one queue until SIGTERM.
//!
//! `jobs-probe --redis URL --prefix P [--cluster URL,URL…] [--shards N] [--concurrency N]
//! [--lease-ms MS] [--heartbeat-ms MS] [--grace-ms MS] [--idle-ms MS]`. `--cluster` speaks to a
//! Redis Cluster through those seeds (instead of `--redis`); `--shards` shards the probe queue.
//! Prints `ready` once its worker is registered.

use std::{collections::HashMap, time::Duration};

use lifesync_jobs::{
    probe::{probe_monitor, ProbeRecorder},
    runner::{self, Handles},
    QueueSettings, RedisSettings, RetryPolicy, Store,
};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts: HashMap<String, String> = args
        .chunks(2)
        .filter_map(|c| Some((c[0].trim_start_matches("--").to_string(), c.get(1)?.clone())))
        .collect();
    let ms = |k: &str, d: u64| {
        Duration::from_millis(opts.get(k).and_then(|v| v.parse().ok()).unwrap_or(d))
    };
    let redis_url = opts
        .get("redis")
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let prefix = opts.get("prefix").cloned().expect("--prefix");
    let concurrency: usize = opts
        .get("concurrency")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);

    let mut settings = QueueSettings::new(prefix.clone());
    settings.lease = ms("lease-ms", 3000);
    settings.heartbeat = ms("heartbeat-ms", 500);
    settings.idle_block = ms("idle-ms", 200);
    settings.retry = RetryPolicy {
        base: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    if let Some(n) = opts.get("shards").and_then(|v| v.parse().ok()) {
        settings.shards.insert("probe".into(), n);
    }
    let grace = ms("grace-ms", 10_000);
    let redis = match opts.get("cluster") {
        Some(seeds) => RedisSettings::cluster(seeds.split(',')),
        None => RedisSettings::new(redis_url),
    };

    let store = Store::connect(redis, settings).await.unwrap_or_else(|e| {
        eprintln!("jobs-probe: cannot reach Redis: {e}");
        std::process::exit(2)
    });
    let recorder = ProbeRecorder {
        conn: store.connection(),
        prefix,
    };

    let handles = Handles::default();
    let monitor = probe_monitor(store, recorder, concurrency, handles.clone());
    println!("ready");
    if let Err(e) = runner::run_until(monitor, handles, runner::termination_signal(), grace).await {
        eprintln!("jobs-probe: {e}");
        std::process::exit(1);
    }
}
