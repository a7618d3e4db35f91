//! LinkedIn against the sandbox: the feed scenario (full, repeated, incremental with a
//! last-modified watermark: new and edited posts, deletions, faulty and malformed syncs), a
//! member without `r_member_social`, and the Posts API's version rules. Deleted posts: the API
//! reports no deletions; a full sync (a reconciliation) marks the posts it no longer lists
//! deleted.

use crate::common::*;
use lifesync::providers::ProviderId;

const ACCOUNT: &str = "782bbtaQ";

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
    let linkedin = Feed {
        provider: ProviderId::Linkedin,
        user: "carol",
        account: ACCOUNT,
        seed: 51,
        batch_size: 25,
        seeded: Some(120),
        edits: Edits::ByIncremental,
        deletions: true,
    };
    let run = feed_sync_scenarios(
        linkedin,
        |s| &s.linkedin,
        async |h, ds| {
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
        },
    )
    .await;
    let h = run.h;

    // A member without r_member_social: one 403, a clear status, no retries.
    let Connected {
        source: restricted,
        run,
    } = h
        .connect(ProviderId::Linkedin, "carol", "restricted-member")
        .await;
    assert_eq!(run.status, "failed", "{run:?}");
    assert!(
        run.error.as_deref().unwrap().contains("r_member_social"),
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
