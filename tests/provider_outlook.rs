//! Outlook (Graph) against the sandbox: full, repeated, incremental (adds and `@removed`
//! deletions through the delta link), faulty, malformed and expired-delta-token syncs, through
//! the real OAuth flow, PostgreSQL, Redis and in-process workers.

mod common;

use common::*;
use lifesync::{providers::ProviderId, sandbox::Faults};

const ACCOUNT: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_full_repeat_incremental_faults_malformed_and_expired_delta_token() {
    let h = SyncHarness::new(41, 25).await;
    let data = &h.sandbox.state.microsoft;
    // Full sync (the first, started by connecting): exactly the sandbox's messages.
    let (ds, first) = h.connect(ProviderId::Microsoft, "alice", ACCOUNT).await;
    assert_eq!(first.0, "succeeded", "{first:?}");
    let expected = sorted(data.ids(ACCOUNT));
    assert!(expected.len() >= 120);
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.1 as usize, expected.len());

    // A second full sync adds no rows.
    let again = h.sync(ds, "alice", "full").await;
    assert_eq!((again.0.as_str(), again.2), ("succeeded", 0), "{again:?}");
    assert_eq!(h.stored(ds).await.len(), expected.len());

    // 6 new messages and 4 deleted: an incremental sync fetches exactly the new ones and
    // marks exactly the deleted ones.
    let added = data.add(ACCOUNT, 6);
    let deleted = data.delete(ACCOUNT, 4);
    assert_eq!((added.len(), deleted.len()), (6, 4));
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 6, 6),
        "{inc:?}"
    );
    let all = sorted(data.ids(ACCOUNT));
    assert_eq!(h.live_ids(ds).await, all);
    let gone: Vec<String> = h
        .stored(ds)
        .await
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(gone, sorted(deleted));
    // Nothing changed since: nothing fetched.
    let quiet = h.sync(ds, "alice", "incremental").await;
    assert_eq!((quiet.0.as_str(), quiet.1), ("succeeded", 0), "{quiet:?}");

    // 30 % 5xx and a 429 with Retry-After every 4th request: same result, no duplicate.
    h.set_faults(Faults {
        fail_ratio: 0.3,
        throttle_every: 4,
        ..Faults::default()
    });
    let faulty = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (faulty.0.as_str(), faulty.2),
        ("succeeded", 0),
        "{faulty:?}"
    );
    assert_eq!(h.live_ids(ds).await, all);
    assert_eq!(h.stored(ds).await.len(), all.len() + 4);

    // A malformed page fails the run cleanly; the next run succeeds.
    h.set_faults(Faults {
        malformed_pages: 1,
        ..Faults::default()
    });
    let broken = h.sync(ds, "alice", "full").await;
    assert_eq!(broken.0, "failed");
    assert!(
        broken.4.as_deref().unwrap().contains("malformed"),
        "{broken:?}"
    );
    assert_eq!(h.live_ids(ds).await, all, "nothing partial or wrong stored");
    let fixed = h.sync(ds, "alice", "full").await;
    assert_eq!((fixed.0.as_str(), fixed.2), ("succeeded", 0), "{fixed:?}");

    // Delta token expired (410 SyncStateNotFound): the incremental run falls back to a full sync and still ends
    // with exactly the sandbox's messages.
    h.set_faults(Faults {
        expire_cursors: true,
        ..Faults::default()
    });
    let more = data.add(ACCOUNT, 3);
    let expired = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (expired.0.as_str(), expired.2),
        ("succeeded", 3),
        "{expired:?}"
    );
    assert_eq!(expired.1 as usize, all.len() + more.len());
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(ACCOUNT)));
    // The fallback stored a fresh delta link: incremental works again.
    h.set_faults(Faults::default());
    let newer = data.add(ACCOUNT, 2);
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 2, 2),
        "{inc:?}"
    );
    assert!(newer.iter().all(|id| data.ids(ACCOUNT).contains(id)));
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(ACCOUNT)));
    h.shutdown().await;
}
