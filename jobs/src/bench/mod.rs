//! The queue benchmark behind `lifesync bench queue` (and the `queue_bench` example, which runs
//! it without the service): no-op jobs through the real queue.
//!
//! 1. enqueue N jobs one by one (each awaited: a round trip per job);
//! 2. enqueue N more in batches (one script call per 500 jobs);
//! 3. process all 2N with one worker process at concurrency C, timed until the last
//!    acknowledgement is in Redis.
//!
//! Beside each rate it reports what the phase cost the Redis server per job (CPU time and
//! commands, from `INFO` before and after: see [`redis_cost`]), so the report shows how close
//! the queue runs to one Redis core.

pub mod redis_cost;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use apalis_core::{monitor::Monitor, worker::builder::WorkerBuilder};
use tower::limit::ConcurrencyLimitLayer;

use self::redis_cost::PhaseCost;
use crate::{probe::NoopJob, JobError, Producer, RedisBackend, Store};

/// Whatever stopped a run.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// The figures of one run.
#[derive(Debug, Clone, Copy)]
pub struct QueueBench {
    pub enqueued_per_s: f64,
    pub batch_enqueued_per_s: f64,
    pub processed_per_s: f64,
    /// Redis's cost per job of each phase.
    pub enqueue_cost: PhaseCost,
    pub batch_enqueue_cost: PhaseCost,
    pub process_cost: PhaseCost,
}

impl std::fmt::Display for QueueBench {
    /// The one machine-readable result line: rates, then Redis CPU µs, commands and µs spent in
    /// scripts per job of the three phases (single enqueue / batched enqueue / processing).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "queue: enqueued_per_s={:.0} batch_enqueued_per_s={:.0} processed_per_s={:.0} \
             redis_cpu_us_per_job={:.2}/{:.2}/{:.2} commands_per_job={:.2}/{:.2}/{:.2} \
             script_us_per_job={:.2}/{:.2}/{:.2}",
            self.enqueued_per_s,
            self.batch_enqueued_per_s,
            self.processed_per_s,
            self.enqueue_cost.cpu_us,
            self.batch_enqueue_cost.cpu_us,
            self.process_cost.cpu_us,
            self.enqueue_cost.commands,
            self.batch_enqueue_cost.commands,
            self.process_cost.commands,
            self.enqueue_cost.script_us,
            self.batch_enqueue_cost.script_us,
            self.process_cost.script_us,
        )
    }
}

/// Runs the three phases on `store`'s queue `bench` (use a throw-away prefix).
pub async fn measure(
    store: &Store,
    jobs: u64,
    concurrency: usize,
) -> Result<QueueBench, BenchError> {
    let producer = Producer::new(store.clone());
    let queue = <NoopJob as crate::Job>::QUEUE;
    let mut info = store.connection();

    eprintln!("bench queue: enqueueing {jobs} jobs one by one");
    let before = redis_cost::read(&mut info).await?;
    let t = Instant::now();
    for n in 0..jobs {
        producer.enqueue(&NoopJob { n }).await?;
    }
    let enqueued_per_s = jobs as f64 / t.elapsed().as_secs_f64();
    let enqueue_cost = redis_cost::per_job(&before, &redis_cost::read(&mut info).await?, jobs);
    eprintln!("bench queue:   {enqueued_per_s:.0} jobs/s; {enqueue_cost}");

    eprintln!("bench queue: enqueueing {jobs} jobs in batches");
    let batch: Vec<NoopJob> = (jobs..2 * jobs).map(|n| NoopJob { n }).collect();
    let before = redis_cost::read(&mut info).await?;
    let t = Instant::now();
    producer.enqueue_batch(&batch, Default::default()).await?;
    let batch_enqueued_per_s = jobs as f64 / t.elapsed().as_secs_f64();
    let batch_enqueue_cost =
        redis_cost::per_job(&before, &redis_cost::read(&mut info).await?, jobs);
    eprintln!("bench queue:   {batch_enqueued_per_s:.0} jobs/s; {batch_enqueue_cost}");

    let total = 2 * jobs;
    eprintln!("bench queue: processing {total} jobs, one worker, concurrency {concurrency}");
    let processed = Arc::new(AtomicU64::new(0));
    let counter = processed.clone();
    let worker_store = store.clone();
    let monitor = Monitor::new().register(move |_| {
        let counter = counter.clone();
        let backend = RedisBackend::<NoopJob>::new(worker_store.clone(), queue, "bench");
        WorkerBuilder::new(backend.handle().worker_id().to_string())
            .backend(backend)
            .layer(ConcurrencyLimitLayer::new(concurrency))
            .build(move |_job: NoopJob| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    Ok::<(), JobError>(())
                }
            })
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let before = redis_cost::read(&mut info).await?;
    let t = Instant::now();
    let worker = tokio::spawn(monitor.run_with_signal(async move {
        let _ = stop_rx.await;
        Ok(())
    }));
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if processed.load(Ordering::Relaxed) >= total {
            let stats = store.stats(queue).await?;
            if stats.succeeded >= total {
                break;
            }
        }
        if last_report.elapsed() > Duration::from_secs(1) {
            last_report = Instant::now();
            eprintln!(
                "bench queue:   {} / {total} processed",
                processed.load(Ordering::Relaxed)
            );
        }
        if t.elapsed() > Duration::from_secs(600) {
            return Err("processing did not finish in 10 minutes".into());
        }
    }
    let processed_per_s = total as f64 / t.elapsed().as_secs_f64();
    let process_cost = redis_cost::per_job(&before, &redis_cost::read(&mut info).await?, total);
    eprintln!("bench queue:   {processed_per_s:.0} jobs/s; {process_cost}");
    let _ = stop_tx.send(());
    let _ = worker.await;
    Ok(QueueBench {
        enqueued_per_s,
        batch_enqueued_per_s,
        processed_per_s,
        enqueue_cost,
        batch_enqueue_cost,
        process_cost,
    })
}
