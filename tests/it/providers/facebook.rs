//! Facebook against the sandbox: the feed scenario (full, repeated, incremental with `since`,
//! edits and deletions, faulty and malformed syncs), and a missing `user_posts` permission.
//! Deleted posts: Graph reports no deletions; a full sync (a reconciliation) marks the posts it
//! no longer lists deleted.

use crate::common::*;
use lifesync::providers::ProviderId;
use serde_json::Value;

const ACCOUNT: &str = "10223456789012345";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_full_repeat_incremental_edits_faults_and_malformed_pages() {
    let facebook = Feed {
        provider: ProviderId::Facebook,
        user: "bob",
        account: ACCOUNT,
        seed: 41,
        batch_size: 25,
        seeded: Some(120),
        edits: Edits::ByFullSync,
        deletions: true,
    };
    let run = feed_sync_scenarios(
        facebook,
        |s| &s.facebook,
        async |h, ds| {
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
            assert!(rows.iter().any(|r| r.2.as_ref().is_some_and(|l| l["name"]
                == "Santa Monica Pier"
                && l["lat"].as_f64() == Some(34.0092))));
            assert!(rows.iter().any(|r| r.3.is_some()));
            // paging.next was followed, with the token as a header, never in a URL or page state.
            let log = h.sandbox.state.requests.lock().unwrap();
            assert!(log.iter().any(|r| r.contains("until=")));
            assert!(log.iter().all(|r| !r.contains("access_token=")));
        },
    )
    .await;
    let h = run.h;
    // The incremental sync asked Graph for what is newer (since=).
    assert!(h
        .sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.contains("/posts?") && r.contains("since=")));

    // Without user_posts (error 10): a clear error status, no retries.
    let Connected {
        source: restricted,
        run,
    } = h
        .connect(ProviderId::Facebook, "bob", "restricted-10229")
        .await;
    assert_eq!(run.status, "failed", "{run:?}");
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
