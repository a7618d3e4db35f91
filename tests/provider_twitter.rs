//! Twitter against the sandbox: full, repeated, incremental, faulty and malformed syncs.
//! (The same five scenarios exist for every provider: `tests/provider_<p>.rs`.)

mod common;

use common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;

const ACCOUNT: &str = "2002";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitter_full_repeat_incremental_faults_and_malformed_pages() {
    let h = SyncHarness::new(21, 50).await;
    // Full sync (the first, started by connecting): exactly the sandbox's tweets.
    let (ds, first) = h.connect(ProviderId::Twitter, "alice", ACCOUNT).await;
    assert_eq!(first.0, "succeeded", "{first:?}");
    let expected = sorted(h.sandbox.state.twitter.ids(ACCOUNT));
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.1 as usize, expected.len());

    // A second full sync adds no rows.
    let again = h.sync(ds, "alice", "full").await;
    assert_eq!((again.0.as_str(), again.2), ("succeeded", 0));
    assert_eq!(h.stored(ds).await.len(), expected.len());

    // New tweets: an incremental sync fetches exactly them.
    let added = h.sandbox.state.twitter.add_tweets(ACCOUNT, 7);
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 7, 7),
        "{inc:?}"
    );
    let mut all = expected.clone();
    all.extend(added);
    let all = sorted(all);
    assert_eq!(h.live_ids(ds).await, all);

    // 30 % 5xx and a 429 every 4th request: same result, no duplicate.
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
    assert_eq!(h.stored(ds).await.len(), all.len());

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
    assert_eq!((fixed.0.as_str(), fixed.2), ("succeeded", 0));
    h.shutdown().await;
}
