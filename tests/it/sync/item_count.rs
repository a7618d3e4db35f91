//! The item count `GET /api/v1/data-sources` shows is maintained by the store (issue 18), not
//! counted per request: after every write path — a sync's pages, deletions reconciled by a full
//! sync, a disconnect that deletes the items, an erase — each source's `item_count` equals a
//! recount of its live items.

use crate::common::*;
use lifesync::providers::ProviderId;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// Every source whose maintained count differs from a recount: (id, maintained, recounted).
async fn drifted(pool: &PgPool) -> Vec<(Uuid, i64, i64)> {
    sqlx::query_as(
        "SELECT ds.id, ds.item_count,
                (SELECT count(*) FROM items i
                  WHERE i.data_source_id = ds.id AND i.deleted_at IS NULL)
           FROM data_sources ds
          WHERE ds.item_count <> (SELECT count(*) FROM items i
                                   WHERE i.data_source_id = ds.id AND i.deleted_at IS NULL)",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn live(pool: &PgPool, ds: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM items WHERE data_source_id = $1 AND deleted_at IS NULL",
    )
    .bind(ds)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The source's `item_count` as the API lists it.
async fn listed(h: &SyncHarness, user: &str, ds: Uuid) -> i64 {
    let body: Value = h
        .app
        .get("/api/v1/data-sources", Some(&token(user, 3600, None)))
        .await
        .json()
        .await
        .unwrap();
    body["data_sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == ds.to_string())
        .unwrap()["item_count"]
        .as_i64()
        .unwrap()
}

/// How many items the listing returns for `query`, following its cursor 7 items a page.
async fn paged(h: &SyncHarness, user: &str, query: &str) -> i64 {
    let (mut total, mut cursor) = (0, None::<String>);
    loop {
        let mut path = format!("/api/v1/items?{query}&limit=7");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = h.app.get(&path, Some(&token(user, 3600, None))).await;
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        total += body["items"].as_array().unwrap().len() as i64;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return total,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maintained_item_count_stays_exact_through_sync_deletions_disconnect_and_erase() {
    let h = SyncHarness::new(18, 50).await;
    let pool = h.app.db.pool.clone();
    let tw = h.connect(ProviderId::Twitter, "cora", "2002").await;
    assert_eq!(tw.run.status, "succeeded", "{:?}", tw.run);
    let ig = h
        .connect(
            ProviderId::Instagram,
            "cora",
            lifesync_sandbox::instagram::ACCOUNT,
        )
        .await;
    assert_eq!(ig.run.status, "succeeded", "{:?}", ig.run);
    let (tw, ig) = (tw.source, ig.source);
    let stored = live(&pool, tw).await;
    assert!(stored > 0);
    assert_eq!(listed(&h, "cora", tw).await, stored);
    assert_eq!(drifted(&pool).await, vec![]);

    // A second full sync (pages updated in place, nothing new) leaves the count as it is.
    let again = h.sync(tw, "cora", "full").await;
    assert_eq!(again.status, "succeeded", "{again:?}");
    assert_eq!(listed(&h, "cora", tw).await, stored);

    // Deletions at the provider, reconciled by the next full sync: the count drops by them.
    let gone = h.sandbox.state.twitter.delete_tweets("2002", 3);
    assert_eq!(gone.len(), 3);
    let full = h.sync(tw, "cora", "full").await;
    assert_eq!(full.status, "succeeded", "{full:?}");
    assert_eq!(live(&pool, tw).await, stored - 3);
    assert_eq!(listed(&h, "cora", tw).await, stored - 3);
    assert_eq!(drifted(&pool).await, vec![]);

    // The items listing with each filter (only the present ones become predicates) agrees with
    // the store, and its cursor pages through every live item once.
    let since = "2000-01-01T00:00:00Z";
    for (query, expected) in [
        (format!("data_source_id={tw}"), live(&pool, tw).await),
        ("provider=twitter".to_string(), live(&pool, tw).await),
        ("provider=instagram".to_string(), live(&pool, ig).await),
        ("kind=email".to_string(), 0),
        ("category=BOOKING".to_string(), 0),
        (
            format!("since={since}&until=2999-01-01T00:00:00Z"),
            stored - 3 + live(&pool, ig).await,
        ),
        ("until=2000-01-01T00:00:00Z".to_string(), 0),
    ] {
        assert_eq!(paged(&h, "cora", &query).await, expected, "{query}");
    }

    // A disconnect that keeps the data keeps the count; one that deletes it drops it to 0.
    lifesync::db::data_sources::disconnect(&pool, ig, true, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(drifted(&pool).await, vec![]);
    assert!(listed(&h, "cora", ig).await > 0);
    lifesync::db::data_sources::disconnect(&pool, ig, false, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(listed(&h, "cora", ig).await, 0);
    assert_eq!(drifted(&pool).await, vec![]);

    // Another user's source, then the first user's erase: the other count is untouched.
    let other = h.connect(ProviderId::Twitter, "dora", "1001").await.source;
    let others = live(&pool, other).await;
    assert!(others > 0);
    lifesync::db::users::delete_user(&pool, "cora")
        .await
        .unwrap();
    assert_eq!(listed(&h, "dora", other).await, others);
    assert_eq!(drifted(&pool).await, vec![]);
    h.shutdown().await;
}
