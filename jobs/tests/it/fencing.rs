//! Leases and their fencing, at the storage level and with a real worker: a heartbeat keeps a
//! job that outlives several leases from being re-delivered, and an acknowledgement or
//! heartbeat carrying a lease that is no longer current (the job was reaped and claimed again)
//! changes nothing.

use std::time::Duration;

use crate::common::*;
use lifesync_jobs::{
    probe::ProbeJob,
    store::{AckRecord, Outcome},
};

/// Short leases: reaped 300 ms after the last renewal.
fn short_leases(s: &mut lifesync_jobs::QueueSettings) {
    s.lease = Duration::from_millis(300);
    s.heartbeat = Duration::from_millis(100);
}

/// A job claimed twice: the lease of its first claim (expired) and of its second.
struct ClaimedTwice {
    id: String,
    old: u64,
    new: u64,
}

/// Enqueues one probe job and claims it twice: first as `old`, then (after that lease
/// expired) as `new`.
async fn claimed_twice(env: &Env) -> ClaimedTwice {
    let id = env.enqueue_with(ProbeJob::default(), 3).await;
    let first = env.store.claim("probe", "old", 1).await.unwrap();
    assert_eq!(first.jobs.len(), 1);
    assert_eq!(first.jobs[0].attempt, 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // This claim reaps the expired lease and takes the job again.
    let second = env.store.claim("probe", "new", 1).await.unwrap();
    assert_eq!(second.jobs.len(), 1, "the expired lease was reaped");
    assert_eq!(
        (second.jobs[0].id.as_str(), second.jobs[0].attempt),
        (id.as_str(), 2)
    );
    assert_ne!(first.jobs[0].lease, second.jobs[0].lease);
    ClaimedTwice {
        id,
        old: first.jobs[0].lease,
        new: second.jobs[0].lease,
    }
}

fn ack(id: &str, lease: u64, outcome: Outcome) -> Vec<AckRecord> {
    vec![AckRecord {
        id: id.to_string(),
        lease,
        shard: 0,
        outcome,
    }]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_ack_cannot_overwrite_the_current_run() {
    let env = Env::shared_with(short_leases).await;
    let ClaimedTwice { id, old, new } = claimed_twice(&env).await;

    // The first worker finally reports: every outcome it could send is ignored.
    let stale = [
        Outcome::Succeeded,
        Outcome::Aborted {
            error: "stale".into(),
        },
        Outcome::Failed {
            delay: Duration::ZERO,
            error: "stale".into(),
        },
        Outcome::HandedBack,
    ];
    for outcome in stale {
        let applied = env
            .store
            .ack("probe", &ack(&id, old, outcome))
            .await
            .unwrap();
        assert_eq!(applied, 0, "a stale ack was applied");
        let rec = env.store.job(&id).await.unwrap().unwrap();
        assert_eq!((rec.state.as_str(), rec.attempts), ("active", 2));
        assert!(rec.last_error.as_deref() != Some("stale"));
    }
    assert_eq!(env.store.stats("probe").await.unwrap().running, 1);

    // The current holder's outcome is applied, once.
    let applied = env
        .store
        .ack("probe", &ack(&id, new, Outcome::Succeeded))
        .await
        .unwrap();
    assert_eq!(applied, 1);
    let again = env
        .store
        .ack(
            "probe",
            &ack(
                &id,
                new,
                Outcome::Aborted {
                    error: "late duplicate".into(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(again, 0, "a second ack for the same lease was applied");
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.attempts), ("succeeded", 2));
    let s = env.store.stats("probe").await.unwrap();
    assert_eq!((s.running, s.succeeded, s.dead), (0, 1, 0), "{s:?}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_heartbeat_is_refused_and_renews_nothing() {
    let env = Env::shared_with(short_leases).await;
    let ClaimedTwice { id, old, new } = claimed_twice(&env).await;
    assert_eq!(
        env.store
            .heartbeat("probe", &[(id.clone(), old, 0)])
            .await
            .unwrap(),
        vec![id.clone()],
        "the old holder is told the job is no longer its"
    );
    // The current holder renews past several lease lengths: nobody reaps the job meanwhile.
    for _ in 0..8 {
        let lost = env
            .store
            .heartbeat("probe", &[(id.clone(), new, 0)])
            .await
            .unwrap();
        assert!(lost.is_empty(), "the current lease was refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let other = env.store.claim("probe", "other", 1).await.unwrap();
        assert!(other.jobs.is_empty(), "a renewed lease was reaped");
    }
    // Only the stale holder heartbeats now: the lease runs out and the job is reaped.
    tokio::time::sleep(Duration::from_millis(150)).await;
    for _ in 0..4 {
        env.store
            .heartbeat("probe", &[(id.clone(), old, 0)])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let third = env.store.claim("probe", "third", 1).await.unwrap();
    assert_eq!(
        third.jobs.len(),
        1,
        "a stale heartbeat kept the lease alive"
    );
    assert_eq!(third.jobs[0].attempt, 3);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_job_that_outlives_its_lease_from_being_redelivered() {
    // Lease 600 ms, renewed every 150 ms; the job runs 2.5 s, four leases long. The worker
    // polls (and so reaps) every 200 ms while it waits, with a free slot to take the job again.
    let env = Env::shared_with(|s| {
        s.lease = Duration::from_millis(600);
        s.heartbeat = Duration::from_millis(150);
    })
    .await;
    let id = env
        .enqueue(ProbeJob {
            n: 1,
            sleep_ms: 2_500,
            ..Default::default()
        })
        .await;
    let w = env.start_worker(2);
    assert!(
        env.wait_state(&id, "succeeded", Duration::from_secs(10))
            .await
    );
    w.stop().await;
    let runs = env.runs_of(1).await;
    assert_eq!(runs.len(), 1, "re-delivered while running: {runs:?}");
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.history.as_array().map(Vec::len), Some(0), "{rec:?}");
    assert_eq!(env.done().await, vec![1]);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_of_the_previous_layout_is_reaped_after_an_upgrade() {
    use redis::AsyncCommands;
    let env = Env::shared_with(short_leases).await;
    let id = env.enqueue_with(ProbeJob::default(), 3).await;
    // A worker of the previous layout took it: off the ready list, its lease a member
    // `<id> <lease>` of the `active` set, whose deadline has passed.
    let mut conn = env.store.connection();
    let ready = env.store.queue_key("probe", 0, "ready");
    let taken: Option<String> = conn.rpop(&ready, None).await.unwrap();
    assert_eq!(taken.as_deref(), Some(id.as_str()));
    let active = env.store.queue_key("probe", 0, "active");
    let _: () = conn.zadd(&active, format!("{id} 17"), 1).await.unwrap();
    assert_eq!(env.store.stats("probe").await.unwrap().running, 1);

    // This layout's claim reaps it: the attempt it ran counts, and it runs again as the second.
    let again = env.store.claim("probe", "new", 1).await.unwrap();
    assert_eq!(again.jobs.len(), 1, "the old lease was not reaped");
    assert_eq!(
        (again.jobs[0].id.as_str(), again.jobs[0].attempt),
        (id.as_str(), 2)
    );
    let left: usize = conn.zcard(&active).await.unwrap();
    assert_eq!(left, 0);
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.attempts), ("active", 2));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_per_job_even_when_one_claim_took_several() {
    let env = Env::shared().await;
    let a = env.enqueue_with(ProbeJob::default(), 3).await;
    let b = env.enqueue_with(ProbeJob::default(), 3).await;
    let first = env.store.claim("probe", "w1", 2).await.unwrap();
    assert_eq!(first.jobs.len(), 2);
    let lease = first.jobs[0].lease;
    assert_eq!(
        first.jobs[1].lease, lease,
        "one lease number per claim call"
    );
    // `a` is handed back and claimed again; `b` stays with the first claim.
    assert_eq!(
        env.store
            .ack("probe", &ack(&a, lease, Outcome::HandedBack))
            .await
            .unwrap(),
        1
    );
    let second = env.store.claim("probe", "w2", 1).await.unwrap();
    assert_eq!(second.jobs.len(), 1);
    assert_eq!(second.jobs[0].id, a);
    // The first claim is still live (it holds `b`), yet it no longer covers `a`.
    assert_eq!(
        env.store
            .heartbeat("probe", &[(a.clone(), lease, 0), (b.clone(), lease, 0)])
            .await
            .unwrap(),
        vec![a.clone()]
    );
    let stale = Outcome::Aborted {
        error: "stale".into(),
    };
    assert_eq!(
        env.store
            .ack("probe", &ack(&a, lease, stale))
            .await
            .unwrap(),
        0,
        "an ack under a claim that no longer holds the job was applied"
    );
    assert_eq!(env.store.stats("probe").await.unwrap().running, 2);
    // Each holder's outcome applies.
    let both = [
        AckRecord {
            id: b.clone(),
            lease,
            shard: 0,
            outcome: Outcome::Succeeded,
        },
        AckRecord {
            id: a.clone(),
            lease: second.jobs[0].lease,
            shard: 0,
            outcome: Outcome::Succeeded,
        },
    ];
    assert_eq!(env.store.ack("probe", &both).await.unwrap(), 2);
    for id in [&a, &b] {
        let rec = env.store.job(id).await.unwrap().unwrap();
        assert_eq!(rec.state, "succeeded", "{id}");
    }
    let s = env.store.stats("probe").await.unwrap();
    assert_eq!((s.running, s.succeeded), (0, 2), "{s:?}");
    env.cleanup().await;
}
