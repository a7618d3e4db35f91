//! The changes feed (`GET /api/v1/items/changes`): a client that follows it while two sources
//! of one user sync at once — new, changed, reconciled-away items — and after a disconnect ends
//! with exactly what `GET /api/v1/items` shows, each item's content included, and as much
//! while a worker is killed mid-run and another resumes; cursors are opaque, checked, and a
//! caught-up cursor reads nothing.

use std::collections::BTreeMap;

use crate::common::*;
use lifesync::providers::ProviderId;
use serde_json::Value;
use uuid::Uuid;

/// A client's copy of a user's items, kept by the feed.
struct Mirror<'a> {
    app: &'a TestApp,
    user: &'a str,
    cursor: String,
    items: BTreeMap<String, Value>,
    reads: usize,
}

impl Mirror<'_> {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.app
            .http
            .get(self.app.url(path))
            .bearer_auth(token(self.user, 3600, None))
            .send()
            .await
            .unwrap()
    }

    /// Reads the feed to its end, applying each change in order.
    async fn follow(&mut self) {
        loop {
            let r = self
                .get(&format!(
                    "/api/v1/items/changes?limit=37&cursor={}",
                    self.cursor
                ))
                .await;
            assert_eq!(r.status(), 200);
            let page: Value = r.json().await.unwrap();
            let changes = page["changes"].as_array().unwrap();
            self.reads += changes.len();
            for c in changes {
                let id = c["id"].as_str().unwrap().to_string();
                if c["deleted"] == true {
                    self.items.remove(&id);
                } else {
                    self.items.insert(id, c.clone());
                }
            }
            let next = page["next_cursor"].as_str().unwrap().to_string();
            if changes.is_empty() {
                if !self.cursor.is_empty() {
                    assert_eq!(next, self.cursor, "a caught-up cursor stays where it is");
                }
                self.cursor = next;
                return;
            }
            self.cursor = next;
        }
    }

    /// What `GET /api/v1/items` shows, every page.
    async fn listed(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => "/api/v1/items?limit=500".to_string(),
                Some(c) => format!("/api/v1/items?limit=500&cursor={c}"),
            };
            let page: Value = self.get(&path).await.json().await.unwrap();
            for i in page["items"].as_array().unwrap() {
                out.insert(i["id"].as_str().unwrap().to_string(), i.clone());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    async fn matches_the_listing(&self, when: &str) {
        let listed = self.listed().await;
        assert_eq!(
            self.items.keys().collect::<Vec<_>>(),
            listed.keys().collect::<Vec<_>>(),
            "{when}: the same items"
        );
        assert!(self.items == listed, "{when}: the same content");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_following_the_feed_mirrors_the_items_through_concurrent_syncs() {
    let h = SyncHarness::new(31, 25).await;
    let user = "mira";
    let mut mirror = Mirror {
        app: &h.app,
        user,
        cursor: String::new(),
        items: BTreeMap::new(),
        reads: 0,
    };
    // Followed from an empty cursor while nothing exists: nothing.
    mirror.follow().await;
    assert!(mirror.items.is_empty());

    let tw = h.connect(ProviderId::Twitter, user, "2003").await;
    let gm = h
        .connect(ProviderId::Google, user, lifesync_sandbox::google::ACCOUNT)
        .await;
    assert_eq!(
        (tw.run.status.as_str(), gm.run.status.as_str()),
        ("succeeded", "succeeded")
    );
    mirror.follow().await;
    mirror.matches_the_listing("after the first syncs").await;
    let first = mirror.items.len();
    assert!(first > 300, "{first}");

    // New, deleted and relabelled items at both providers; both sources sync at once while
    // the client keeps reading.
    let sandbox = &h.sandbox.state;
    sandbox.twitter.add_tweets("2003", 60);
    sandbox.twitter.delete_tweets("2003", 5);
    let account = lifesync_sandbox::google::ACCOUNT;
    sandbox.google.add(account, 40);
    sandbox.google.delete(account, 7);
    let unread = sandbox.google.unread(account, 3);
    sandbox.google.mark_read(account, &unread);
    let runs = [
        h.start_sync(tw.source, user, "full").await.run,
        h.start_sync(gm.source, user, "full").await.run,
    ];
    for _ in 0..20 {
        mirror.follow().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for run in runs {
        assert_eq!(h.wait(run).await.status, "succeeded");
    }
    mirror.follow().await;
    mirror.matches_the_listing("after concurrent syncs").await;
    assert_eq!(mirror.items.len(), first + 60 - 5 + 40 - 7);

    // A disconnect deletes the source's items for good: tombstones remove them.
    let r = h
        .app
        .http
        .delete(h.app.url(&format!("/api/v1/data-sources/{}", tw.source)))
        .bearer_auth(token(user, 3600, None))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    mirror.follow().await;
    mirror.matches_the_listing("after a disconnect").await;
    assert!(mirror.items.values().all(|i| i["provider"] == "google"));

    // Another user's feed holds none of it; a foreign cursor is refused with a stable code.
    let other = Mirror {
        app: &h.app,
        user: "someone-else",
        cursor: String::new(),
        items: BTreeMap::new(),
        reads: 0,
    };
    let page: Value = other
        .get("/api/v1/items/changes")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["changes"].as_array().unwrap().len(), 0);
    for bad in ["not-a-cursor", "YWJj", &Uuid::new_v4().to_string()] {
        let r = other
            .get(&format!("/api/v1/items/changes?cursor={bad}"))
            .await;
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_cursor");
        assert!(!body.to_string().contains(bad), "the input is not echoed");
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_following_the_feed_through_a_killed_worker_misses_nothing() {
    let feed = SlowFeed::new("kim").await;
    let (app, ds) = (&feed.app, feed.ds);
    let spawn_worker = || feed.spawn_worker();
    let mut mirror = Mirror {
        app,
        user: "kim",
        cursor: String::new(),
        items: BTreeMap::new(),
        reads: 0,
    };
    let mut first = spawn_worker();
    let run = app.start_sync(ds, "kim", "full").await.run;
    while run_row(&app.db.pool, &run).await.fetched < 92 {
        mirror.follow().await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    mirror.follow().await;
    assert_eq!(mirror.items.len(), 92, "two pages stored, both seen");
    mirror.matches_the_listing("after the kill").await;

    let mut second = spawn_worker();
    let done = app.wait_run(run).await;
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(done.status, "succeeded");
    mirror.follow().await;
    mirror.matches_the_listing("after the resumed run").await;
    assert_eq!(mirror.items.len(), 230);
    feed.app.shutdown().await;
}
