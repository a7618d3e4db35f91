//! Any backlog works: 100,000 due jobs drain through bounded promote-and-claim batches, with no
//! script erroring (apalis-redis 1.0.0 stalls for good past ~8,000 due jobs).

use std::time::Duration;

use crate::common::*;
use lifesync_jobs::{probe::NoopJob, EnqueueOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_due_jobs_drain_without_error() {
    let env = Env::shared().await;
    const N: u64 = 100_000;
    let jobs: Vec<NoopJob> = (0..N).map(|n| NoopJob { n }).collect();
    let opts = EnqueueOptions {
        delay: Duration::from_millis(1500),
        ..Default::default()
    };
    env.producer.enqueue_batch(&jobs, opts).await.unwrap();
    assert_eq!(env.store.stats("bench").await.unwrap().scheduled, N);
    tokio::time::sleep(Duration::from_millis(1600)).await; // all 100,000 are due now

    // One claim call promotes at most `maintenance_batch` and claims at most `claim_batch`.
    let first = env.store.claim("bench", "probe-claimer", 64).await.unwrap();
    assert_eq!(first.jobs.len(), 64);
    let s = env.store.stats("bench").await.unwrap();
    assert_eq!(s.scheduled, N - 1000, "promotion is bounded: {s:?}");
    assert_eq!(s.pending, 1000 - 64);

    // Drain with a real worker. The 64 claimed by hand are never acknowledged: their leases
    // expire and they are re-delivered to the worker too.
    let backend_store = env.store.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = done.clone();
    let monitor = apalis_core::monitor::Monitor::new().register(move |_| {
        let counter = counter.clone();
        let backend =
            lifesync_jobs::RedisBackend::<NoopJob>::new(backend_store.clone(), "bench", "drain");
        apalis_core::worker::builder::WorkerBuilder::new(backend.handle().worker_id().to_string())
            .backend(backend)
            .layer(tower::limit::ConcurrencyLimitLayer::new(32))
            .build(move |_job: NoopJob| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok::<(), lifesync_jobs::JobError>(())
                }
            })
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(monitor.run_with_signal(async move {
        let _ = rx.await;
        Ok(())
    }));
    let drained = wait_until(Duration::from_secs(240), || async {
        env.store.stats("bench").await.unwrap().succeeded == N
    })
    .await;
    let _ = tx.send(());
    let _ = run.await;
    let s = env.store.stats("bench").await.unwrap();
    assert!(drained, "backlog did not drain: {s:?}");
    assert_eq!(
        (s.scheduled, s.pending, s.retrying, s.dead),
        (0, 0, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.running, 0);
    assert_eq!(done.load(std::sync::atomic::Ordering::Relaxed), N);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_queued_jobs_are_claimed_in_bounded_batches() {
    let env = Env::shared().await;
    const N: u64 = 1_000_000;
    for start in (0..N).step_by(100_000) {
        let jobs: Vec<NoopJob> = (start..start + 100_000).map(|n| NoopJob { n }).collect();
        env.producer
            .enqueue_batch(&jobs, EnqueueOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(env.store.stats("bench").await.unwrap().pending, N);
    // Claims stay bounded by the requested batch, whatever the backlog.
    for _ in 0..3 {
        let c = env.store.claim("bench", "probe-claimer", 64).await.unwrap();
        assert_eq!(c.jobs.len(), 64);
    }
    let s = env.store.stats("bench").await.unwrap();
    assert_eq!((s.pending, s.running), (N - 192, 192));
    env.store.purge_prefix().await.unwrap();
}
