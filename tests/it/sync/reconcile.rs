//! A full sync is a reconciliation, for every provider (issue 16): an item deleted at the
//! provider is marked deleted by the next complete full sync — never by a failed run, nor by an
//! incremental run of a provider that reports no deletions; a changed item is read again;
//! Outlook syncs every folder but Junk Email and Deleted Items, and a move between synced
//! folders is not a deletion; fresh signed media URLs replace stale ones and the API never
//! serves one known to be expired. Against the sandbox over HTTPS, through the real OAuth flow.

use crate::common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::{Faults, SandboxState};
use serde_json::Value;
use uuid::Uuid;

fn account(p: ProviderId) -> &'static str {
    use lifesync_sandbox::*;
    match p {
        ProviderId::Instagram => instagram::ACCOUNT,
        ProviderId::Twitter => "2002",
        ProviderId::Google => google::ACCOUNT,
        ProviderId::Facebook => facebook::ACCOUNT,
        ProviderId::Linkedin => linkedin::ACCOUNT,
        ProviderId::Microsoft => microsoft::ACCOUNT,
    }
}

/// Deletes `n` items of the account at the provider; returns their external ids.
fn delete_at_provider(state: &SandboxState, p: ProviderId, n: usize) -> Vec<String> {
    let a = account(p);
    match p {
        ProviderId::Instagram => state.instagram.delete(a, n),
        ProviderId::Twitter => state.twitter.delete_tweets(a, n),
        ProviderId::Google => state.google.delete(a, n),
        ProviderId::Facebook => state.facebook.delete(a, n),
        ProviderId::Linkedin => state.linkedin.delete(a, n),
        ProviderId::Microsoft => state.microsoft.delete(a, n),
    }
}

async fn deleted_ids(h: &SyncHarness, ds: Uuid) -> Vec<String> {
    let mut v: Vec<String> = h
        .stored(ds)
        .await
        .into_iter()
        .filter(|i| i.deleted)
        .map(|i| i.external_id)
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_marks_what_the_provider_deleted_after_a_complete_full_sync_only() {
    let h = SyncHarness::new(16, 50).await;
    for p in ProviderId::ALL {
        let Connected {
            source: ds,
            run: first,
        } = h.connect(p, "rita", account(p)).await;
        assert_eq!(first.status, "succeeded", "{p}: {first:?}");
        assert!(deleted_ids(&h, ds).await.is_empty(), "{p}");
        let gone = sorted(delete_at_provider(&h.sandbox.state, p, 3));
        assert_eq!(gone.len(), 3, "{p}");

        // A failed full run (a malformed page) marks nothing.
        h.set_faults(Faults {
            malformed_pages: 1,
            ..Faults::default()
        });
        let broken = h.sync(ds, "rita", "full").await;
        h.set_faults(Faults::default());
        assert_eq!(broken.status, "failed", "{p}: {broken:?}");
        assert!(
            deleted_ids(&h, ds).await.is_empty(),
            "{p}: a failed run deleted"
        );

        // An incremental run of a provider that reports no deletions marks nothing (the mail
        // providers' incremental runs see deletions in their change feeds).
        if p != ProviderId::Google && p != ProviderId::Microsoft {
            let inc = h.sync(ds, "rita", "incremental").await;
            assert_eq!(inc.status, "succeeded", "{p}: {inc:?}");
            assert!(
                deleted_ids(&h, ds).await.is_empty(),
                "{p}: an incremental run of a provider without deletions deleted"
            );
        }

        // The next complete full run marks exactly the deleted ones.
        let full = h.sync(ds, "rita", "full").await;
        assert_eq!(full.status, "succeeded", "{p}: {full:?}");
        assert_eq!(deleted_ids(&h, ds).await, gone, "{p}");
        // And the items listing no longer shows them.
        let items: Value = h
            .app
            .get(
                &format!("/api/v1/items?data_source_id={ds}&limit=500"),
                Some(&token("rita", 3600, None)),
            )
            .await
            .json()
            .await
            .unwrap();
        let listed: Vec<&str> = items["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["external_id"].as_str().unwrap())
            .collect();
        assert!(gone.iter().all(|g| !listed.contains(&g.as_str())), "{p}");
        // Another full run changes nothing.
        let again = h.sync(ds, "rita", "full").await;
        assert_eq!(
            (again.status.as_str(), again.new),
            ("succeeded", 0),
            "{p}: {again:?}"
        );
        assert_eq!(deleted_ids(&h, ds).await, gone, "{p}");
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_that_fails_after_storing_pages_deletes_nothing() {
    // Twitter, 5 posts a page: the run stores pages, then meets a malformed page.
    let h = SyncHarness::new(17, 5).await;
    let p = ProviderId::Twitter;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(p, "sam", account(p)).await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let gone = delete_at_provider(&h.sandbox.state, p, 2);
    assert_eq!(gone.len(), 2);
    let r = h
        .app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("sam", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let run: Uuid = body["sync_run_id"].as_str().unwrap().parse().unwrap();
    // Once pages are stored, the provider's next page is malformed.
    assert!(
        eventually(60, || async {
            run_row(&h.app.db.pool, run).await.fetched >= 10
        })
        .await
    );
    h.set_faults(Faults {
        malformed_pages: 1,
        ..Faults::default()
    });
    let out = h.wait(run).await;
    h.set_faults(Faults::default());
    assert_eq!(out.status, "failed", "{out:?}");
    assert!(
        out.fetched >= 10,
        "the run stored pages before it failed: {out:?}"
    );
    assert!(deleted_ids(&h, ds).await.is_empty(), "{out:?}");
    // The next complete one marks them.
    let full = h.sync(ds, "sam", "full").await;
    assert_eq!(full.status, "succeeded", "{full:?}");
    assert_eq!(deleted_ids(&h, ds).await, sorted(gone));
    h.shutdown().await;
}

async fn metric(h: &SyncHarness, ds: Uuid, external_id: &str, key: &str) -> Value {
    let m: Value = sqlx::query_scalar(
        "SELECT metrics FROM items WHERE data_source_id = $1 AND external_id = $2",
    )
    .bind(ds)
    .bind(external_id)
    .fetch_one(&h.app.db.pool)
    .await
    .unwrap();
    m[key].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_item_is_read_again_by_the_next_full_sync() {
    let h = SyncHarness::new(18, 50).await;
    let state = &h.sandbox.state;
    // Gmail: a message marked read (a label change) is fetched again, the others are not.
    let g = ProviderId::Google;
    let Connected { source: ds, .. } = h.connect(g, "tess", account(g)).await;
    let read = state.google.unread(account(g), 2);
    assert_eq!(state.google.mark_read(account(g), &read).len(), 2);
    for id in &read {
        assert_eq!(metric(&h, ds, id, "is_read").await, Value::Bool(false));
    }
    let full = h.sync(ds, "tess", "full").await;
    assert_eq!(
        (full.status.as_str(), full.fetched, full.updated),
        ("succeeded", 2, 2),
        "only the two relabelled messages are fetched: {full:?}"
    );
    for id in &read {
        assert_eq!(
            metric(&h, ds, id, "is_read").await,
            Value::Bool(true),
            "{id}"
        );
    }
    let quiet = h.sync(ds, "tess", "full").await;
    assert_eq!(
        (quiet.status.as_str(), quiet.fetched),
        ("succeeded", 0),
        "{quiet:?}"
    );

    // Outlook: the same through its delta rounds.
    let m = ProviderId::Microsoft;
    let Connected { source: ds, .. } = h.connect(m, "tess", account(m)).await;
    let read = state.microsoft.unread(account(m), 2);
    assert_eq!(state.microsoft.mark_read(account(m), &read).len(), 2);
    let full = h.sync(ds, "tess", "full").await;
    assert_eq!(
        (full.status.as_str(), full.fetched, full.updated),
        ("succeeded", 2, 2),
        "{full:?}"
    );
    for id in &read {
        assert_eq!(
            metric(&h, ds, id, "is_read").await,
            Value::Bool(true),
            "{id}"
        );
    }

    // Twitter: new like counts on a full walk.
    let t = ProviderId::Twitter;
    let Connected { source: ds, .. } = h.connect(t, "tess", account(t)).await;
    let liked = state.twitter.like_tweets(account(t), 3);
    let full = h.sync(ds, "tess", "full").await;
    assert_eq!(
        (full.status.as_str(), full.updated),
        ("succeeded", 3),
        "{full:?}"
    );
    for id in &liked {
        let likes = metric(&h, ds, id, "like_count").await;
        assert!(likes.as_u64().unwrap() >= 100, "{id}: {likes}");
    }

    // Instagram, Facebook, LinkedIn: edited text.
    for p in [
        ProviderId::Instagram,
        ProviderId::Facebook,
        ProviderId::Linkedin,
    ] {
        let Connected { source: ds, .. } = h.connect(p, "tess", account(p)).await;
        let edited = match p {
            ProviderId::Instagram => state.instagram.edit(account(p), 2),
            ProviderId::Facebook => state.facebook.edit(account(p), 2),
            _ => state.linkedin.edit(account(p), 2),
        };
        let full = h.sync(ds, "tess", "full").await;
        assert_eq!(
            (full.status.as_str(), full.updated),
            ("succeeded", 2),
            "{p}: {full:?}"
        );
        assert_eq!(edited.len(), 2);
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_syncs_every_folder_but_junk_and_deleted_and_a_move_is_not_a_deletion() {
    let h = SyncHarness::new(19, 40).await;
    let data = &h.sandbox.state.microsoft;
    let a = account(ProviderId::Microsoft);
    // Before the first sync: some mail archived, some sent, some in junk and deleted items.
    let ids = data.ids(a);
    data.move_ids(a, &ids[0..5], "archive");
    data.move_ids(a, &ids[5..8], "sentitems");
    data.move_ids(a, &ids[8..10], "junkemail");
    data.move_ids(a, &ids[10..12], "deleteditems");
    let synced = |d: &lifesync_sandbox::microsoft::MicrosoftData| {
        sorted(d.ids_in(a, &["inbox", "archive", "sentitems", "drafts"]))
    };
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Microsoft, "uma", a).await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    assert_eq!(h.live_ids(ds).await, synced(data));
    assert_eq!(h.live_ids(ds).await.len(), ids.len() - 4);

    // Archiving is not deleting: neither an incremental nor a full run deletes.
    let inbox = data.ids_in(a, &["inbox"]);
    let archived = data.move_ids(a, &inbox[0..3], "archive");
    assert_eq!(archived.len(), 3);
    let inc = h.sync(ds, "uma", "incremental").await;
    assert_eq!(inc.status, "succeeded", "{inc:?}");
    assert!(deleted_ids(&h, ds).await.is_empty(), "{inc:?}");
    let inbox = data.ids_in(a, &["inbox"]);
    data.move_ids(a, &inbox[0..2], "archive");
    let full = h.sync(ds, "uma", "full").await;
    assert_eq!(full.status, "succeeded", "{full:?}");
    assert!(deleted_ids(&h, ds).await.is_empty(), "{full:?}");
    assert_eq!(h.live_ids(ds).await, synced(data));

    // Moved to Deleted Items or Junk: gone (incremental and full alike); moved back: back.
    let archive = data.ids_in(a, &["archive"]);
    let trashed = data.move_ids(a, &archive[0..1], "deleteditems");
    let inc = h.sync(ds, "uma", "incremental").await;
    assert_eq!(inc.status, "succeeded", "{inc:?}");
    assert_eq!(deleted_ids(&h, ds).await, trashed);
    let junked = data.move_ids(a, &archive[1..2], "junkemail");
    let full = h.sync(ds, "uma", "full").await;
    assert_eq!(full.status, "succeeded", "{full:?}");
    assert_eq!(
        deleted_ids(&h, ds).await,
        sorted([trashed.clone(), junked].concat())
    );
    data.move_ids(a, &trashed, "inbox");
    let inc = h.sync(ds, "uma", "incremental").await;
    assert_eq!(inc.status, "succeeded", "{inc:?}");
    assert_eq!(h.live_ids(ds).await, synced(data));

    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_media_urls_replace_stale_ones_and_expired_ones_are_never_served() {
    let h = SyncHarness::new(20, 50).await;
    for p in [ProviderId::Instagram, ProviderId::Facebook] {
        let Connected {
            source: ds,
            run: first,
        } = h.connect(p, "vera", account(p)).await;
        assert_eq!(first.status, "succeeded", "{first:?}");
        let urls = |h: &SyncHarness| {
            let pool = h.app.db.pool.clone();
            async move {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT external_id, media_url FROM items
                      WHERE data_source_id = $1 AND media_url IS NOT NULL ORDER BY external_id",
                )
                .bind(ds)
                .fetch_all(&pool)
                .await
                .unwrap();
                rows
            }
        };
        let before = urls(&h).await;
        assert!(!before.is_empty(), "{p}");
        // Nothing changes at the provider but time: a day later Meta hands out new links.
        h.sandbox
            .state
            .advance_clock(std::time::Duration::from_secs(86_400));
        let full = h.sync(ds, "vera", "full").await;
        assert_eq!(full.status, "succeeded", "{full:?}");
        assert!(full.updated as usize >= before.len(), "{p}: {full:?}");
        let after = urls(&h).await;
        assert_eq!(after.len(), before.len());
        for ((id, old), (_, new)) in before.iter().zip(&after) {
            assert_ne!(old, new, "{p}: {id} kept its stale link");
            let (o, n) = (
                lifesync::providers::media::expires_at(old).unwrap(),
                lifesync::providers::media::expires_at(new).unwrap(),
            );
            assert!(n > o, "{p}: {id}");
        }
        // Served with its expiry; a link known to be expired is not served at all.
        let (stale_id, _) = &after[0];
        sqlx::query(
            "UPDATE items SET media_url = 'https://scontent.cdninstagram.com/v/x.jpg?oh=00_a&oe=5F5E1000'
              WHERE data_source_id = $1 AND external_id = $2",
        )
        .bind(ds)
        .bind(stale_id)
        .execute(&h.app.db.pool)
        .await
        .unwrap();
        let items: Value = h
            .app
            .get(
                &format!("/api/v1/items?data_source_id={ds}&limit=500"),
                Some(&token("vera", 3600, None)),
            )
            .await
            .json()
            .await
            .unwrap();
        let mut served = 0;
        for i in items["items"].as_array().unwrap() {
            if i["external_id"] == stale_id.as_str() {
                assert!(i["media_url"].is_null(), "{i}");
                let at = i["media_url_expires_at"].as_str().unwrap();
                let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
                assert_eq!(at.timestamp(), 1_600_000_000, "{i}");
            } else if let Some(u) = i["media_url"].as_str() {
                served += 1;
                let at = i["media_url_expires_at"].as_str().unwrap();
                let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
                assert!(at > chrono::Utc::now(), "{p}: {u}");
            }
        }
        assert!(served > 0, "{p}");
    }
    h.shutdown().await;
}
