//! The provider's content version (issue 16, item 4): a scheduled run that finds the account's
//! content at the version the source's items last matched completely reads nothing but the
//! profile — Gmail's history id, X's post count with its newest post id. Any addition or
//! deletion moves the version, and the next scheduled run reads and reconciles; a run someone
//! asked for always reads; a reconnect forgets the version. Outlook, which has no version,
//! opens every run with one batch of its folders' change rounds. Against the sandbox over HTTPS,
//! counting requests at its door.

use crate::common::*;
use lifesync::providers::ProviderId;
use lifesync_jobs::payloads::{SyncMode, SyncTrigger};
use uuid::Uuid;

const PROVIDERS: [ProviderId; 2] = [ProviderId::Google, ProviderId::Twitter];

fn account(p: ProviderId) -> &'static str {
    match p {
        ProviderId::Google => lifesync_sandbox::google::ACCOUNT,
        _ => "2003",
    }
}

/// Runs a scheduled sync and returns its outcome with the requests it made at the provider.
async fn scheduled(
    h: &SyncHarness,
    p: ProviderId,
    ds: Uuid,
    mode: SyncMode,
    trigger: SyncTrigger,
) -> (RunOutcome, u64) {
    let before = h.sandbox.state.hits(p);
    let run = h.scheduled(ds, mode, trigger).await;
    assert_eq!(run.status, "succeeded", "{p}: {run:?}");
    (run, h.sandbox.state.hits(p) - before)
}

fn add(h: &SyncHarness, p: ProviderId, n: usize) -> Vec<String> {
    match p {
        ProviderId::Google => h.sandbox.state.google.add(account(p), n),
        _ => h.sandbox.state.twitter.add_tweets(account(p), n),
    }
}

fn delete(h: &SyncHarness, p: ProviderId, n: usize) -> Vec<String> {
    match p {
        ProviderId::Google => h.sandbox.state.google.delete(account(p), n),
        _ => h.sandbox.state.twitter.delete_tweets(account(p), n),
    }
}

async fn deleted(h: &SyncHarness, ds: Uuid) -> Vec<String> {
    let stored = h.stored(ds).await;
    stored
        .into_iter()
        .filter(|i| i.deleted)
        .map(|i| i.external_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_reads_only_the_profile_while_the_content_version_stands() {
    let h = SyncHarness::new(23, 50).await;
    let (full, daily) = (SyncMode::Full, SyncTrigger::Daily);
    for p in PROVIDERS {
        let Connected { source: ds, run } = h.connect(p, "vera", account(p)).await;
        assert_eq!(run.status, "succeeded", "{p}: {run:?}");
        let synced = h.live_ids(ds).await;
        assert!(synced.len() > 100, "{p}: {}", synced.len());

        // Unchanged: the daily full run and the incremental run are one request each.
        let (run, requests) = scheduled(&h, p, ds, full, daily).await;
        assert_eq!(
            (run.fetched, requests),
            (0, 1),
            "{p}: daily full, unchanged"
        );
        let (run, requests) =
            scheduled(&h, p, ds, SyncMode::Incremental, SyncTrigger::Incremental).await;
        assert_eq!(
            (run.fetched, requests),
            (0, 1),
            "{p}: incremental, unchanged"
        );
        assert_eq!(h.live_ids(ds).await, synced, "{p}");

        // A run someone asked for reads the provider whatever the version says.
        let before = h.sandbox.state.hits(p);
        let manual = h.sync(ds, "vera", "full").await;
        assert_eq!(manual.status, "succeeded", "{p}: {manual:?}");
        assert!(
            h.sandbox.state.hits(p) - before > 2,
            "{p}: a manual run reads"
        );

        // Two deleted at the provider: the next daily run reads, reconciles, marks them.
        let gone = delete(&h, p, 2);
        let (_, requests) = scheduled(&h, p, ds, full, daily).await;
        assert!(
            requests > 2,
            "{p}: the version moved, the run reads ({requests})"
        );
        let mut marked = deleted(&h, ds).await;
        marked.sort();
        let mut expected = gone.clone();
        expected.sort();
        assert_eq!(marked, expected, "{p}");
        // And is quiet again after it.
        let (_, requests) = scheduled(&h, p, ds, full, daily).await;
        assert_eq!(requests, 1, "{p}: unchanged again");

        // One added and one deleted (the count is the same): the version still moves.
        let new = add(&h, p, 1);
        let gone_too = delete(&h, p, 1);
        let (run, requests) = scheduled(&h, p, ds, full, daily).await;
        assert!(requests > 2, "{p}: {requests}");
        assert_eq!(run.new, 1, "{p}: {run:?}");
        let live = h.live_ids(ds).await;
        assert!(live.contains(&new[0]), "{p}");
        assert!(!live.contains(&gone_too[0]), "{p}");

        // An incremental run of a provider whose changes include deletions (Gmail) leaves the
        // items matching: the daily run after it is quiet; X's incremental run sees no
        // deletions, so the daily run after it reads and reconciles.
        add(&h, p, 3);
        let (run, _) = scheduled(&h, p, ds, SyncMode::Incremental, SyncTrigger::Incremental).await;
        assert_eq!(run.new, 3, "{p}: {run:?}");
        let (_, requests) = scheduled(&h, p, ds, full, daily).await;
        match p {
            ProviderId::Google => assert_eq!(requests, 1, "{p}"),
            _ => assert!(requests > 2, "{p}: {requests}"),
        }
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_forgets_the_version_its_deleted_items_matched() {
    let h = SyncHarness::new(24, 50).await;
    let p = ProviderId::Twitter;
    let Connected { source: ds, .. } = h.connect(p, "wes", account(p)).await;
    let synced = h.live_ids(ds).await;
    let version = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT synced_version FROM data_sources WHERE id = $1",
        )
        .bind(ds)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap()
    };
    let v = version()
        .await
        .expect("the connect's full run set the version");
    assert_eq!(
        v,
        format!("{}:{}", synced.len(), synced.iter().max().unwrap())
    );
    let r = h
        .app
        .http
        .delete(h.app.url(&format!("/api/v1/data-sources/{ds}")))
        .bearer_auth(token("wes", 3600, None))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(h.live_ids(ds).await.is_empty());
    // The items it matched are gone: a scheduled run after a reconnect must read them again.
    assert_eq!(version().await, None);
    let Connected { source: again, run } = h.connect(p, "wes", account(p)).await;
    assert_eq!((again, run.status.as_str()), (ds, "succeeded"), "{run:?}");
    assert_eq!(h.live_ids(ds).await, synced);
    let (_, requests) = scheduled(&h, p, ds, SyncMode::Full, SyncTrigger::Daily).await;
    assert_eq!(
        requests, 1,
        "the reconnect's own full run set the version anew"
    );
    h.shutdown().await;
}

/// Outlook has no content version; its change rounds are its version. A run opens with one
/// batch (the folder list and every folder's delta request): an unchanged mailbox costs that
/// batch and the profile, whatever the run; 10 new messages cost the same two requests; a full
/// run that finds changes lists the folders and reconciles, and a move is not a deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_outlook_mailbox_costs_the_profile_and_one_batch() {
    let h = SyncHarness::new(25, 50).await;
    let p = ProviderId::Microsoft;
    let account = lifesync_sandbox::microsoft::ACCOUNT;
    let data = &h.sandbox.state.microsoft;
    let ids = data.ids(account);
    assert_eq!(data.move_ids(account, &ids[..10], "archive").len(), 10);
    assert_eq!(data.move_ids(account, &ids[10..15], "sentitems").len(), 5);
    let Connected { source: ds, run } = h.connect(p, "olga", account).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    let synced = h.live_ids(ds).await;
    assert_eq!(synced.len(), ids.len());

    let runs = [
        (SyncMode::Full, SyncTrigger::Daily),
        (SyncMode::Incremental, SyncTrigger::Incremental),
    ];
    for (mode, trigger) in runs {
        let (run, requests) = scheduled(&h, p, ds, mode, trigger).await;
        assert_eq!((run.fetched, requests), (0, 2), "{mode:?}: unchanged");
    }
    let before = h.sandbox.state.hits(p);
    let manual = h.sync(ds, "olga", "full").await;
    assert_eq!((manual.status.as_str(), manual.fetched), ("succeeded", 0));
    assert_eq!(h.sandbox.state.hits(p) - before, 2, "a manual full run too");
    assert_eq!(h.live_ids(ds).await, synced);

    let new = data.add(account, 10);
    let (run, requests) = scheduled(&h, p, ds, SyncMode::Incremental, runs[1].1).await;
    assert_eq!((run.new, requests), (10, 2), "{run:?}");

    // Two deleted and one moved to the archive: the daily full run reads on and reconciles.
    let gone = data.delete(account, 2);
    let moved = data.move_ids(account, &new[..1], "archive");
    assert_eq!(moved.len(), 1);
    let (run, requests) = scheduled(&h, p, ds, SyncMode::Full, SyncTrigger::Daily).await;
    assert!(requests > 2, "the folders are listed ({requests})");
    assert_eq!(run.status, "succeeded");
    let mut marked = deleted(&h, ds).await;
    marked.sort();
    let mut expected = gone.clone();
    expected.sort();
    assert_eq!(marked, expected);
    assert!(
        h.live_ids(ds).await.contains(&moved[0]),
        "a move is not a deletion"
    );
    let (_, requests) = scheduled(&h, p, ds, SyncMode::Full, SyncTrigger::Daily).await;
    assert_eq!(requests, 2, "quiet again");
    h.shutdown().await;
}
