//! `lifesync bench queue --jobs N --concurrency C`: no-op jobs through the real queue, under a
//! throw-away key prefix removed afterwards. The phases and figures are
//! [`lifesync_jobs::bench`]'s.
//!
//! With `--workers W` (W > 1) or `--cluster SEEDS`, the processing rate is measured with W
//! worker processes (`lifesync bench queue-worker`, started and ready, then waiting for a line
//! on stdin): 2N jobs enqueued in batches, then the workers told to start, timed until the last
//! one is acknowledged. With
//! `--cluster` the same measurement runs first on the configured single-node Redis, then on
//! the cluster with the `bench` queue sharded (`--shards`) and spread evenly over its masters
//! (see `spread_prefix`), and the line reports both and their ratio.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use lifesync_jobs::{
    bench::redis_cost, probe::NoopJob, Job, Producer, QueueSettings, RedisSettings, Store,
};

use crate::config::RedisConfig;

pub use lifesync_jobs::bench::QueueBench;

pub async fn run(redis: &RedisConfig, jobs: u64, concurrency: usize) -> anyhow::Result<QueueBench> {
    let prefix = format!("{}:bench:{}", redis.key_prefix, ulid::Ulid::new());
    let store = Store::connect(redis.settings.clone(), QueueSettings::new(prefix)).await?;
    let result = lifesync_jobs::bench::measure(&store, jobs, concurrency).await;
    let removed = store.purge_prefix().await?;
    eprintln!("bench queue: removed {removed} keys");
    result.map_err(|e| anyhow::anyhow!(e))
}

/// Where one multi-process measurement runs.
pub struct Target {
    pub name: &'static str,
    pub redis: RedisSettings,
    pub shards: u32,
}

/// What one multi-process measurement found, from the workers' start to the last ack.
#[derive(Debug, Clone, Copy)]
pub struct Processing {
    /// Jobs processed per second.
    pub per_s: f64,
    /// CPU time (user + system) of the worker processes per processed job, in µs.
    pub worker_cpu_us: f64,
    /// CPU time (user + system) of Redis (every master of a cluster) per processed job, in µs.
    pub redis_cpu_us: f64,
}

/// Processed/s of `2 × jobs` no-op jobs with `workers` worker processes at `concurrency`, and
/// the CPU the workers and Redis spent on each.
pub async fn processes(
    redis: &RedisConfig,
    target: &Target,
    jobs: u64,
    workers: usize,
    concurrency: usize,
) -> anyhow::Result<Processing> {
    let mut prefix = format!("{}:bench:{}", redis.key_prefix, ulid::Ulid::new());
    let mut settings = QueueSettings::new(prefix.clone());
    settings.shards.insert(NoopJob::QUEUE.into(), target.shards);
    let mut store = Store::connect(target.redis.clone(), settings.clone()).await?;
    let ranges = store.connection().slot_ranges().await?;
    if !ranges.is_empty() {
        prefix = spread_prefix(&redis.key_prefix, target.shards, &ranges);
        settings.prefix = prefix.clone();
        store = Store::connect(target.redis.clone(), settings).await?;
    }
    let total = 2 * jobs;
    eprintln!(
        "bench queue [{}]: {workers} worker processes at concurrency {concurrency}, {} shard(s), {total} jobs",
        target.name, target.shards
    );
    let mut children = Workers(Vec::new());
    for _ in 0..workers {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["bench", "queue-worker", "--prefix", &prefix])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--shards", &target.shards.to_string()]);
        if !target.redis.cluster_urls.is_empty() {
            cmd.args(["--cluster", &target.redis.cluster_urls.join(",")]);
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped stdout")).read_line(&mut line)?;
        anyhow::ensure!(line.starts_with("ready"), "worker said {line:?}");
        children.0.push(child);
    }
    // Every job is queued before the workers start, so what is timed is their processing, not
    // how fast this one process can enqueue (while it enqueued, the workers ran the ready lists
    // dry and a sharded claim visited every empty shard in turn).
    let producer = Producer::new(store.clone());
    let batch: Vec<NoopJob> = (0..total).map(|n| NoopJob { n }).collect();
    for chunk in batch.chunks(10_000) {
        producer.enqueue_batch(chunk, Default::default()).await?;
    }
    let mut conn = store.connection();
    let (workers_before, redis_before) = (cpu_of(&children.0)?, redis_cost::read(&mut conn).await?);
    let t = Instant::now();
    for c in &mut children.0 {
        writeln!(c.stdin.as_mut().expect("piped stdin"), "go")?;
    }
    let mut last = Instant::now();
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let s = store.stats(NoopJob::QUEUE).await?;
        if s.succeeded >= total {
            let per_s = total as f64 / t.elapsed().as_secs_f64();
            let per_job = |secs: f64| secs * 1e6 / total as f64;
            break Ok(Processing {
                per_s,
                worker_cpu_us: per_job(cpu_of(&children.0)? - workers_before),
                redis_cpu_us: redis_cost::per_job(
                    &redis_before,
                    &redis_cost::read(&mut conn).await?,
                    total,
                )
                .cpu_us,
            });
        }
        if last.elapsed() > Duration::from_secs(2) {
            last = Instant::now();
            eprintln!("bench queue [{}]:   {} / {total}", target.name, s.succeeded);
        }
        if t.elapsed() > Duration::from_secs(600) {
            break Err(anyhow::anyhow!("processing did not finish in 10 minutes"));
        }
    };
    for c in &mut children.0 {
        // SIGTERM to our own child, by its id; it hands back what it holds and exits.
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
    }
    for c in &mut children.0 {
        let _ = c.wait();
    }
    let removed = store.purge_prefix().await?;
    eprintln!("bench queue [{}]: removed {removed} keys", target.name);
    outcome
}

/// The worker processes of one measurement; any still running when it ends early (an error)
/// are killed, so none is left behind to run the queue forever.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// CPU seconds (user + system) the processes have used so far, from `/proc/<pid>/stat`.
fn cpu_of(children: &[Child]) -> anyhow::Result<f64> {
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0.0;
    for c in children {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", c.id()))?;
        // After the command name (in parentheses, may hold spaces): state is field 3, utime
        // and stime are fields 14 and 15.
        let rest = stat.rsplit_once(')').map_or("", |r| r.1);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for i in [11, 12] {
            total += fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
                / ticks;
        }
    }
    Ok(total)
}

/// A throw-away prefix under which the `bench` queue's `shards` shards spread over the
/// cluster's masters as evenly as they can (shard counts per master differ by at most one),
/// so the measurement does not depend on where CRC16 happens to put a random prefix's tags:
/// with three shards on three masters, one random prefix in 4.5 gives each master one.
fn spread_prefix(key_prefix: &str, shards: u32, ranges: &[(u16, u16, usize)]) -> String {
    let masters = ranges.iter().map(|r| r.2 + 1).max().unwrap_or(1);
    let mut prefix = String::new();
    for _ in 0..10_000 {
        prefix = format!("{key_prefix}:bench:{}", ulid::Ulid::new());
        let mut per_master = vec![0u32; masters];
        for shard in 0..shards {
            let slot = lifesync_jobs::conn::slot(&lifesync_jobs::store::shard_tag(
                &prefix,
                NoopJob::QUEUE,
                shard,
            ));
            if let Some(r) = ranges.iter().find(|r| (r.0..=r.1).contains(&slot)) {
                per_master[r.2] += 1;
            }
        }
        let (min, max) = (per_master.iter().min(), per_master.iter().max());
        if max.zip(min).is_some_and(|(a, b)| a - b <= 1) {
            break;
        }
    }
    prefix
}

/// The worker process of [`processes`]: runs no-op jobs until SIGTERM.
pub async fn worker(
    redis: &RedisConfig,
    prefix: String,
    concurrency: usize,
    shards: u32,
    cluster: Option<String>,
) -> anyhow::Result<()> {
    use apalis_core::{monitor::Monitor, worker::builder::WorkerBuilder};
    use lifesync_jobs::{
        runner::{self, Handles},
        JobError, RedisBackend,
    };
    use tower::limit::ConcurrencyLimitLayer;

    let signal = runner::termination_signal();
    let mut settings = QueueSettings::new(prefix);
    settings.shards.insert(NoopJob::QUEUE.into(), shards);
    let target = match cluster {
        Some(seeds) => RedisSettings::cluster(seeds.split(',')),
        None => redis.settings.clone(),
    };
    let store = Store::connect(target, settings).await?;
    let handles = Handles::default();
    let h = handles.clone();
    let monitor = Monitor::new().register(move |_| {
        let backend = RedisBackend::<NoopJob>::new(store.clone(), NoopJob::QUEUE, "bench");
        h.add(backend.handle());
        WorkerBuilder::new(backend.handle().worker_id().to_string())
            .backend(backend)
            .layer(ConcurrencyLimitLayer::new(concurrency))
            .build(|_job: NoopJob| async { Ok::<(), JobError>(()) })
    });
    println!("ready");
    // The bench says when to start (a line on stdin), once every job is queued; its stdin
    // closing first means the bench is gone: nothing to measure.
    let said =
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
    if said == 0 {
        return Ok(());
    }
    runner::run_until(monitor, handles, signal, Duration::from_secs(5))
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
