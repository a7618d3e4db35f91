//! Facebook against the sandbox: full, repeated, incremental (`since`), edits and deletions,
//! faulty and malformed syncs, and a missing `user_posts` permission. Deleted posts: Graph
//! reports no deletions; a full sync (a reconciliation) marks the posts it no longer lists
//! deleted.

mod common;

use common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;
use serde_json::Value;

const ACCOUNT: &str = "10223456789012345";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_full_repeat_incremental_edits_faults_and_malformed_pages() {
    let h = SyncHarness::new(41, 25).await;
    let data = &h.sandbox.state.facebook;
    // Full sync (the first, started by connecting): exactly the sandbox's posts.
    let (ds, first) = h.connect(ProviderId::Facebook, "bob", ACCOUNT).await;
    assert_eq!(first.0, "succeeded", "{first:?}");
    let expected = sorted(data.ids(ACCOUNT));
    assert_eq!(expected.len(), 120);
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.1 as usize, expected.len());
    let rows: Vec<(String, String, Option<Value>, Option<String>)> = sqlx::query_as(
        "SELECT kind, text, location, media_url FROM items WHERE data_source_id = $1",
    )
    .bind(ds)
    .fetch_all(&h.app.db.pool)
    .await
    .unwrap();
    assert!(rows.iter().all(|r| r.0 == "post"));
    assert!(rows.iter().any(|r| r.1.contains("Fête de la musique")));
    assert!(rows
        .iter()
        .any(|r| r.1 == "Jane Doe updated her profile picture."));
    assert!(rows
        .iter()
        .any(|r| r.2.as_ref().is_some_and(
            |l| l["name"] == "Santa Monica Pier" && l["lat"].as_f64() == Some(34.0092)
        )));
    assert!(rows.iter().any(|r| r.3.is_some()));
    // paging.next was followed, with the token as a header, never in a URL or page state.
    {
        let log = h.sandbox.state.requests.lock().unwrap();
        assert!(log.iter().any(|r| r.contains("until=")));
        assert!(log.iter().all(|r| !r.contains("access_token=")));
    }

    // A second full sync adds no rows.
    let again = h.sync(ds, "bob", "full").await;
    assert_eq!(
        (again.0.as_str(), again.2, again.3),
        ("succeeded", 0, 0),
        "{again:?}"
    );

    // New and edited posts: an incremental sync (since=) fetches exactly the new ones ...
    let added = data.add(ACCOUNT, 7);
    data.edit(ACCOUNT, 3);
    let inc = h.sync(ds, "bob", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 7, 7),
        "{inc:?}"
    );
    assert!(h
        .sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.contains("/posts?") && r.contains("since=")));
    let mut all = expected.clone();
    all.extend(added);
    let all = sorted(all);
    assert_eq!(h.live_ids(ds).await, all);
    // ... and a full sync updates the edited ones in place.
    let full = h.sync(ds, "bob", "full").await;
    assert_eq!(
        (full.0.as_str(), full.2, full.3),
        ("succeeded", 0, 3),
        "{full:?}"
    );
    assert_eq!(h.stored(ds).await.len(), all.len());

    // Deleted posts: not reported by Graph; nothing is added.
    data.delete(ACCOUNT, 4);
    let after_delete = h.sync(ds, "bob", "full").await;
    assert_eq!(
        (
            after_delete.0.as_str(),
            after_delete.1 as usize,
            after_delete.2
        ),
        ("succeeded", all.len() - 4, 0)
    );
    // A full sync is a reconciliation: the deleted ones are marked deleted (rows kept).
    let all = sorted(data.ids(ACCOUNT));
    assert_eq!(h.live_ids(ds).await, all);
    assert_eq!(h.stored(ds).await.len(), all.len() + 4);

    // 30 % 5xx and a Graph throttle (code 4, X-App-Usage) every 4th request.
    h.set_faults(Faults {
        fail_ratio: 0.3,
        throttle_every: 4,
        ..Faults::default()
    });
    let faulty = h.sync(ds, "bob", "full").await;
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
    let broken = h.sync(ds, "bob", "full").await;
    assert_eq!(broken.0, "failed");
    assert!(
        broken.4.as_deref().unwrap().contains("malformed"),
        "{broken:?}"
    );
    assert_eq!(h.live_ids(ds).await, all, "nothing partial or wrong stored");
    let fixed = h.sync(ds, "bob", "full").await;
    assert_eq!((fixed.0.as_str(), fixed.2), ("succeeded", 0));

    // Without user_posts (error 10): a clear error status, no retries.
    let (restricted, run) = h
        .connect(ProviderId::Facebook, "bob", "restricted-10229")
        .await;
    assert_eq!(run.0, "failed", "{run:?}");
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_sync_error FROM data_sources WHERE id = $1")
            .bind(restricted)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "error");
    assert!(error.unwrap().contains("user_posts"));
    h.shutdown().await;
}
