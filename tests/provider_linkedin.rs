//! LinkedIn against the sandbox: full, repeated, incremental (last-modified watermark: new and
//! edited posts), deletions, faulty and malformed syncs, a member without `r_member_social`,
//! and the Posts API's version rules. Deleted posts: the API reports no deletions; a full sync
//! (a reconciliation) marks the posts it no longer lists deleted.

mod common;

use common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;

const ACCOUNT: &str = "782bbtaQ";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkedin_posts_require_current_version_headers() {
    let sandbox = TestSandbox::spawn(5).await;
    let token = sandbox
        .state
        .issue_token_for(ProviderId::Linkedin, ACCOUNT, 3600);
    let http = sandbox_client();
    let url = format!(
        "{}/linkedin/rest/posts?author=urn%3Ali%3Aperson%3A{ACCOUNT}&q=author&count=10&start=0",
        sandbox.base
    );
    let send = |version: Option<&'static str>| {
        let mut r = http
            .get(&url)
            .bearer_auth(&token)
            .header("X-Restli-Protocol-Version", "2.0.0");
        if let Some(v) = version {
            r = r.header("LinkedIn-Version", v);
        }
        r.send()
    };
    for stale in [None, Some("202301")] {
        let r = send(stale).await.unwrap();
        assert_eq!(r.status(), 426);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "NONEXISTENT_VERSION");
    }
    let body: serde_json::Value = send(Some(lifesync::providers::linkedin::LINKEDIN_VERSION))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["elements"].as_array().unwrap().len(), 10);
    assert!(body["elements"][0]["lastModifiedAt"].is_i64());
    assert!(body["paging"]["links"][0]["href"]
        .as_str()
        .unwrap()
        .starts_with("/rest/posts?"));
    // Over the member's daily budget: 429 naming a DAY limit, without any headers to go by.
    sandbox.state.faults.lock().unwrap().rate_limit = Some(1);
    let r = send(Some(lifesync::providers::linkedin::LINKEDIN_VERSION))
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(!r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("DAY limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkedin_full_repeat_incremental_edits_faults_and_malformed_pages() {
    let h = SyncHarness::new(51, 25).await;
    let data = &h.sandbox.state.linkedin;
    // Full sync (the first, started by connecting): exactly the sandbox's posts.
    let (ds, first) = h.connect(ProviderId::Linkedin, "carol", ACCOUNT).await;
    assert_eq!(first.0, "succeeded", "{first:?}");
    let expected = sorted(data.ids(ACCOUNT));
    assert_eq!(expected.len(), 120);
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.1 as usize, expected.len());
    let rows: Vec<(String, String, Vec<String>, Vec<String>)> = sqlx::query_as(
        "SELECT kind, text, hashtags, mentions FROM items WHERE data_source_id = $1",
    )
    .bind(ds)
    .fetch_all(&h.app.db.pool)
    .await
    .unwrap();
    assert!(rows
        .iter()
        .all(|r| r.0 == "post" && !r.1.contains("{hashtag")));
    assert!(rows.iter().any(|r| r.1.contains("深圳")));
    assert!(
        rows.iter().any(|r| r.2.contains(&"travel".to_string())
            && r.3.iter().any(|m| m.eq_ignore_ascii_case("Ana Silva"))),
        "{:?}",
        rows.iter().map(|r| &r.3).collect::<Vec<_>>()
    );

    // A second full sync adds no rows.
    let again = h.sync(ds, "carol", "full").await;
    assert_eq!(
        (again.0.as_str(), again.2, again.3),
        ("succeeded", 0, 0),
        "{again:?}"
    );

    // New posts: an incremental sync fetches exactly them.
    let added = data.add(ACCOUNT, 7);
    let inc = h.sync(ds, "carol", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 7, 7),
        "{inc:?}"
    );
    let mut all = expected.clone();
    all.extend(added);
    let all = sorted(all);
    assert_eq!(h.live_ids(ds).await, all);
    // Edited posts move their lastModifiedAt: the next incremental sync updates them in place.
    data.edit(ACCOUNT, 3);
    let inc = h.sync(ds, "carol", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2, inc.3),
        ("succeeded", 3, 0, 3),
        "{inc:?}"
    );
    assert_eq!(h.stored(ds).await.len(), all.len());

    // Deleted posts: not reported; nothing is added.
    data.delete(ACCOUNT, 4);
    let after_delete = h.sync(ds, "carol", "full").await;
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

    // 30 % 5xx and a 429 (no headers) every 4th request: same result, no duplicate.
    h.set_faults(Faults {
        fail_ratio: 0.3,
        throttle_every: 4,
        ..Faults::default()
    });
    let faulty = h.sync(ds, "carol", "full").await;
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
    let broken = h.sync(ds, "carol", "full").await;
    assert_eq!(broken.0, "failed");
    assert!(
        broken.4.as_deref().unwrap().contains("malformed"),
        "{broken:?}"
    );
    assert_eq!(h.live_ids(ds).await, all, "nothing partial or wrong stored");
    let fixed = h.sync(ds, "carol", "full").await;
    assert_eq!((fixed.0.as_str(), fixed.2), ("succeeded", 0));
    h.set_faults(Faults::default());

    // A member without r_member_social: one 403, a clear status, no retries.
    let (restricted, run) = h
        .connect(ProviderId::Linkedin, "carol", "restricted-member")
        .await;
    assert_eq!(run.0, "failed", "{run:?}");
    assert!(
        run.4.as_deref().unwrap().contains("r_member_social"),
        "{run:?}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_sync_error FROM data_sources WHERE id = $1")
            .bind(restricted)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "error");
    assert!(error.unwrap().contains("r_member_social"));
    let tries = h
        .sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.starts_with("linkedin /rest/posts") && r.contains("restricted-member"))
        .count();
    assert_eq!(tries, 1, "a denied scope is not retried");
    h.shutdown().await;
}
