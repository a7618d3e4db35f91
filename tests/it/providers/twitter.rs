//! Twitter against the sandbox: the feed scenario (full, repeated, incremental, faulty and
//! malformed syncs; the sandbox's Twitter has no edits or deletions).

use crate::common::*;
use lifesync::providers::ProviderId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitter_full_repeat_incremental_faults_and_malformed_pages() {
    let twitter = Feed {
        provider: ProviderId::Twitter,
        user: "alice",
        account: "2002",
        seed: 21,
        batch_size: 50,
        seeded: None,
        edits: Edits::None,
        deletions: false,
    };
    let run = feed_sync_scenarios(twitter, |s| &s.twitter, async |_, _| {}).await;
    run.h.shutdown().await;
}
