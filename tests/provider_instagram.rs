//! Instagram against the sandbox: full, repeated, incremental (new media only), edits and
//! deletions, faulty and malformed syncs, plus the media edge's wire rules (ids only without
//! `fields`, error 100 for `location`). Deleted media: the API reports no deletions; a full
//! sync (a reconciliation) marks the media it no longer lists deleted.

mod common;

use common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;
use serde_json::Value;

const ACCOUNT: &str = "17841405793187218";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instagram_media_edge_speaks_graph() {
    let sandbox = TestSandbox::spawn(3).await;
    let token = sandbox
        .state
        .issue_token_for(ProviderId::Instagram, ACCOUNT, 3600);
    let http = sandbox_client();
    let get = |q: &'static str| {
        http.get(format!("{}/instagram/me/media?{q}", sandbox.base))
            .bearer_auth(&token)
            .send()
    };
    // Without fields: ids only, and a next link carrying the token.
    let body: Value = get("limit=5").await.unwrap().json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 5);
    assert_eq!(body["data"][0].as_object().unwrap().len(), 1, "{body}");
    assert!(body["paging"]["next"]
        .as_str()
        .unwrap()
        .contains("access_token="));
    // `location` is not a field of this API's media.
    let r = get("fields=id,location").await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], 100);
    // Children only with the nested syntax; timestamps with +0000.
    let body: Value = get("fields=id,media_type,timestamp,children{id,media_type}&limit=100")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let carousel = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["media_type"] == "CAROUSEL_ALBUM")
        .unwrap();
    assert!(carousel["children"]["data"][0]["media_type"].is_string());
    assert!(carousel["timestamp"].as_str().unwrap().ends_with("+0000"));
    // The last page has no next.
    let body: Value = get("limit=100&after=QVFI1x1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body["data"].as_array().unwrap().is_empty());
    assert!(body.get("paging").is_none());
    // Usage on every reply; over the hourly budget, error 80002 with the minutes to wait.
    let r = get("limit=1").await.unwrap();
    assert!(r.headers().contains_key("x-business-use-case-usage"));
    sandbox.state.faults.lock().unwrap().rate_limit = Some(1);
    let r = get("limit=1").await.unwrap();
    assert_eq!(r.status(), 403);
    let usage: Value =
        serde_json::from_str(r.headers()["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    assert!(
        usage[ACCOUNT][0]["estimated_time_to_regain_access"]
            .as_i64()
            .unwrap()
            >= 1
    );
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (
            e["error"]["code"].as_i64(),
            e["error"]["is_transient"].as_bool()
        ),
        (Some(80002), Some(true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_control_routes_add_edit_and_delete() {
    let sandbox = TestSandbox::spawn(4).await;
    let http = sandbox_client();
    for (p, account, items) in [
        ("instagram", ACCOUNT, "media"),
        ("facebook", "10223456789012345", "posts"),
        ("linkedin", "782bbtaQ", "posts"),
    ] {
        let call = |path: String, count: usize| {
            http.post(format!(
                "{}/_sandbox/{p}/accounts/{account}/{path}",
                sandbox.base
            ))
            .json(&serde_json::json!({ "count": count }))
            .send()
        };
        let ids = |v: Value| -> Vec<String> { serde_json::from_value(v["ids"].clone()).unwrap() };
        let added = ids(call(items.into(), 3).await.unwrap().json().await.unwrap());
        let edited = ids(call("edits".into(), 2).await.unwrap().json().await.unwrap());
        let deleted = ids(call("deletions".into(), 1)
            .await
            .unwrap()
            .json()
            .await
            .unwrap());
        assert_eq!((added.len(), edited.len(), deleted.len()), (3, 2, 1), "{p}");
        let live: Value = http
            .get(format!(
                "{}/_sandbox/{p}/accounts/{account}/{items}",
                sandbox.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let live = ids(live);
        assert_eq!(live.len(), 120 + 3 - 1, "{p}");
        assert!(added.iter().all(|id| live.contains(id)) && !live.contains(&deleted[0]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instagram_full_repeat_incremental_edits_faults_and_malformed_pages() {
    let h = SyncHarness::new(31, 25).await;
    let data = &h.sandbox.state.instagram;
    // Full sync (the first, started by connecting): exactly the sandbox's media.
    let (ds, first) = h.connect(ProviderId::Instagram, "alice", ACCOUNT).await;
    assert_eq!(first.0, "succeeded", "{first:?}");
    let expected = sorted(data.ids(ACCOUNT));
    assert_eq!(expected.len(), 120);
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.1 as usize, expected.len());
    let rows: Vec<(String, String, Value, Option<String>)> = sqlx::query_as(
        "SELECT kind, text, metrics, media_url FROM items WHERE data_source_id = $1",
    )
    .bind(ds)
    .fetch_all(&h.app.db.pool)
    .await
    .unwrap();
    assert!(rows.iter().all(|r| r.0 == "media"));
    assert!(rows.iter().any(|r| r.1.contains("東京の夜景")));
    assert!(rows.iter().any(|r| r.2["media_type"] == "CAROUSEL_ALBUM"
        && r.2["children"].as_array().is_some_and(|c| c.len() >= 2)
        && r.3.is_some()));
    assert!(rows.iter().any(|r| r.2["media_product_type"] == "REELS"));
    // paging.next was followed, with the token as a header, never in a URL or page state.
    {
        let log = h.sandbox.state.requests.lock().unwrap();
        assert!(log.iter().any(|r| r.contains("after=")));
        assert!(log.iter().all(|r| !r.contains("access_token=")));
    }

    // A second full sync adds no rows.
    let again = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (again.0.as_str(), again.2, again.3),
        ("succeeded", 0, 0),
        "{again:?}"
    );
    assert_eq!(h.stored(ds).await.len(), expected.len());

    // New and edited media: an incremental sync fetches exactly the new ones ...
    let added = data.add(ACCOUNT, 7);
    let edited = data.edit(ACCOUNT, 3);
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
    // ... and a full sync updates the edited captions in place.
    let full = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (full.0.as_str(), full.2, full.3),
        ("succeeded", 0, 3),
        "{full:?}"
    );
    let text: String =
        sqlx::query_scalar("SELECT text FROM items WHERE data_source_id = $1 AND external_id = $2")
            .bind(ds)
            .bind(&edited[0])
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
    assert!(text.contains("edited") || text.contains("Porto"), "{text}");
    assert_eq!(h.stored(ds).await.len(), all.len());

    // Deleted media: not reported by the API; nothing is added.
    let deleted = data.delete(ACCOUNT, 4);
    assert_eq!(deleted.len(), 4);
    let after_delete = h.sync(ds, "alice", "full").await;
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

    // 30 % 5xx and a Graph throttle (code 80002) every 4th request: same result, no duplicate.
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
    assert_eq!((fixed.0.as_str(), fixed.2), ("succeeded", 0));
    h.shutdown().await;
}
