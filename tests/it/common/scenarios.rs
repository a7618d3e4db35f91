//! Provider scenarios written once and run for several providers: the mail scenario (Gmail,
//! Outlook) and the feed scenario (Twitter, Instagram, Facebook, LinkedIn). Each provider's own
//! module runs it with a small description and keeps its quirks in tests of its own.

use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;
use uuid::Uuid;

use super::{token, Connected, SyncHarness};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The mail providers' sandboxes (Gmail, Outlook): the live message ids of an account, and
/// adding and deleting messages between syncs.
pub trait SandboxMailbox {
    fn ids(&self, account: &str) -> Vec<String>;
    fn add(&self, account: &str, n: usize) -> Vec<String>;
    fn delete(&self, account: &str, m: usize) -> Vec<String>;
}

impl SandboxMailbox for lifesync_sandbox::google::GoogleData {
    fn ids(&self, account: &str) -> Vec<String> {
        self.ids(account)
    }
    fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.add(account, n)
    }
    fn delete(&self, account: &str, m: usize) -> Vec<String> {
        self.delete(account, m)
    }
}

impl SandboxMailbox for lifesync_sandbox::microsoft::MicrosoftData {
    fn ids(&self, account: &str) -> Vec<String> {
        self.ids(account)
    }
    fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.add(account, n)
    }
    fn delete(&self, account: &str, m: usize) -> Vec<String> {
        self.delete(account, m)
    }
}

/// A mail provider's sync scenarios against the sandbox: full = the sandbox's messages; a
/// second full adds nothing; adds and deletions → an incremental fetches exactly the adds and
/// marks exactly the deletions; 30 % 5xx and periodic throttling change nothing; a malformed
/// page fails the run cleanly and the next succeeds; an expired cursor (Gmail history 404,
/// Graph 410) falls back to a full sync, after which incremental works again.
pub async fn mail_sync_scenarios<M: SandboxMailbox>(
    provider: ProviderId,
    account: &str,
    seed: u64,
    mailbox: impl Fn(&lifesync_sandbox::SandboxState) -> &M,
) {
    let h = SyncHarness::new(seed, 25).await;
    let data = mailbox(&h.sandbox.state);
    // Full sync (the first, started by connecting): exactly the sandbox's messages.
    let Connected {
        source: ds,
        run: first,
    } = h.connect(provider, "alice", account).await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let expected = sorted(data.ids(account));
    assert!(expected.len() >= 120);
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.fetched as usize, expected.len());

    // Events from the sandbox's schema.org markup keep their start's UTC offset in what the
    // items API returns (RFC 3339, e.g. `2026-12-09T10:05:00-08:00`), with `time_zone` beside.
    let r = h
        .app
        .get(
            "/api/v1/items?kind=email&limit=500",
            Some(&token("alice", 3600, None)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page: serde_json::Value = r.json().await.unwrap();
    let starts: Vec<&serde_json::Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["event"].as_object())
        .inspect(|e| assert!(e.contains_key("time_zone"), "{e:?}"))
        .filter_map(|e| e.get("start").filter(|s| !s.is_null()))
        .collect();
    assert!(starts.len() >= 5, "{starts:?}");
    for s in starts {
        let s = s.as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "start without its offset: {s}"
        );
    }

    // A second full sync adds no rows.
    let again = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (again.status.as_str(), again.new),
        ("succeeded", 0),
        "{again:?}"
    );
    assert_eq!(h.stored(ds).await.len(), expected.len());

    // 6 new messages and 4 deleted: an incremental sync fetches exactly the new ones and
    // marks exactly the deleted ones.
    let added = data.add(account, 6);
    let deleted = data.delete(account, 4);
    assert_eq!((added.len(), deleted.len()), (6, 4));
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.status.as_str(), inc.fetched, inc.new),
        ("succeeded", 6, 6),
        "{inc:?}"
    );
    let all = sorted(data.ids(account));
    assert_eq!(h.live_ids(ds).await, all);
    let gone: Vec<String> = h
        .stored(ds)
        .await
        .into_iter()
        .filter(|i| i.deleted)
        .map(|i| i.external_id)
        .collect();
    assert_eq!(gone, sorted(deleted));
    // Nothing changed since: nothing fetched.
    let quiet = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (quiet.status.as_str(), quiet.fetched),
        ("succeeded", 0),
        "{quiet:?}"
    );

    // 30 % 5xx and a throttling reply every 4th request: same result, no duplicate.
    h.set_faults(Faults {
        fail_ratio: 0.3,
        throttle_every: 4,
        ..Faults::default()
    });
    let faulty = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (faulty.status.as_str(), faulty.new),
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
    assert_eq!(broken.status, "failed");
    assert!(
        broken.error.as_deref().unwrap().contains("malformed"),
        "{broken:?}"
    );
    assert_eq!(h.live_ids(ds).await, all, "nothing partial or wrong stored");
    let fixed = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (fixed.status.as_str(), fixed.new),
        ("succeeded", 0),
        "{fixed:?}"
    );

    // Cursor expired (Gmail history 404, Graph delta 410): the incremental run falls back to
    // a full sync and still ends
    // with exactly the sandbox's messages.
    h.set_faults(Faults {
        expire_cursors: true,
        ..Faults::default()
    });
    let more = data.add(account, 3);
    let expired = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (expired.status.as_str(), expired.new),
        ("succeeded", 3),
        "{expired:?}"
    );
    // (Gmail's full listing fetches only what it does not hold; Outlook's initial rounds
    // bring every message again.)
    assert!(expired.fetched as usize >= more.len(), "{expired:?}");
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(account)));
    // The fallback stored a fresh cursor: incremental works again.
    h.set_faults(Faults::default());
    let newer = data.add(account, 2);
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.status.as_str(), inc.fetched, inc.new),
        ("succeeded", 2, 2),
        "{inc:?}"
    );
    assert!(newer.iter().all(|id| data.ids(account).contains(id)));
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(account)));
    h.shutdown().await;
}

/// The social feeds' sandboxes (Twitter, Instagram, Facebook, LinkedIn): the live item ids of
/// an account, and adding, editing and deleting items between syncs. The sandbox's Twitter
/// neither edits nor deletes (its [`Feed`] says so, and the scenario never asks).
pub trait SandboxFeed {
    fn ids(&self, account: &str) -> Vec<String>;
    fn add(&self, account: &str, n: usize) -> Vec<String>;
    fn edit(&self, account: &str, n: usize) -> Vec<String>;
    fn delete(&self, account: &str, n: usize) -> Vec<String>;
}

impl SandboxFeed for lifesync_sandbox::twitter::TwitterData {
    fn ids(&self, account: &str) -> Vec<String> {
        self.ids(account)
    }
    fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.add_tweets(account, n)
    }
    fn edit(&self, _: &str, _: usize) -> Vec<String> {
        unreachable!("the sandbox's Twitter has no edits")
    }
    fn delete(&self, _: &str, _: usize) -> Vec<String> {
        unreachable!("the sandbox's Twitter has no deletions")
    }
}

macro_rules! sandbox_feed {
    ($($data:ty),*) => {$(
        impl SandboxFeed for $data {
            fn ids(&self, account: &str) -> Vec<String> {
                self.ids(account)
            }
            fn add(&self, account: &str, n: usize) -> Vec<String> {
                self.add(account, n)
            }
            fn edit(&self, account: &str, n: usize) -> Vec<String> {
                self.edit(account, n)
            }
            fn delete(&self, account: &str, n: usize) -> Vec<String> {
                self.delete(account, n)
            }
        }
    )*};
}

sandbox_feed!(
    lifesync_sandbox::instagram::InstagramData,
    lifesync_sandbox::facebook::FacebookData,
    lifesync_sandbox::linkedin::LinkedinData
);

/// How a feed provider shows edited items to a sync.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Edits {
    /// Not exercised (the sandbox's Twitter has none).
    None,
    /// Invisible to an incremental sync (it asks for what is newer); the next full sync reads
    /// them again and updates them in place (Instagram, Facebook).
    ByFullSync,
    /// An edit moves the item's watermark: the next incremental sync updates it (LinkedIn).
    ByIncremental,
}

/// One feed provider as the scenario needs it.
pub struct Feed {
    pub provider: ProviderId,
    pub user: &'static str,
    pub account: &'static str,
    /// The sandbox's seed and the sync batch size.
    pub seed: u64,
    pub batch_size: u32,
    /// Items the sandbox holds for the account before any change (`None`: not pinned).
    pub seeded: Option<usize>,
    pub edits: Edits,
    /// Whether deletions are exercised (the API reports none: a full sync reconciles them).
    pub deletions: bool,
}

/// What a finished [`feed_sync_scenarios`] leaves for the provider's own checks: the harness
/// (still running: the caller shuts it down), the source, and the ids the scenario edited.
pub struct FeedRun {
    pub h: SyncHarness,
    pub ds: Uuid,
    pub edited: Vec<String>,
}

/// A social feed's sync scenarios against the sandbox: the first full sync (started by
/// connecting) stores exactly the sandbox's items; a second full adds nothing; new items → an
/// incremental fetches exactly them; edits are updated in place (by the next full sync, or by
/// an incremental one where edits move the watermark); deleted items, which the API does not
/// report, are marked deleted by the next full sync (a reconciliation), rows kept; 30 % 5xx and
/// periodic throttling change nothing; a malformed page fails the run cleanly and the next
/// succeeds. `first_sync` runs the provider's own checks on what the first sync stored.
pub async fn feed_sync_scenarios<D: SandboxFeed>(
    feed: Feed,
    items: impl Fn(&lifesync_sandbox::SandboxState) -> &D,
    first_sync: impl AsyncFnOnce(&SyncHarness, Uuid),
) -> FeedRun {
    let (user, account) = (feed.user, feed.account);
    let h = SyncHarness::new(feed.seed, feed.batch_size).await;
    let data = items(&h.sandbox.state);
    // Full sync (the first, started by connecting): exactly the sandbox's items.
    let Connected {
        source: ds,
        run: first,
    } = h.connect(feed.provider, user, account).await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let expected = sorted(data.ids(account));
    if let Some(n) = feed.seeded {
        assert_eq!(expected.len(), n);
    }
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.fetched as usize, expected.len());
    first_sync(&h, ds).await;

    // A second full sync adds no rows.
    let again = h.sync(ds, user, "full").await;
    assert_eq!(
        (again.status.as_str(), again.new, again.updated),
        ("succeeded", 0, 0),
        "{again:?}"
    );
    assert_eq!(h.stored(ds).await.len(), expected.len());

    // New (and, where edits wait for a full sync, edited) items: an incremental sync fetches
    // exactly the new ones ...
    let added = data.add(account, 7);
    let mut edited = Vec::new();
    if feed.edits == Edits::ByFullSync {
        edited = data.edit(account, 3);
    }
    let inc = h.sync(ds, user, "incremental").await;
    assert_eq!(
        (inc.status.as_str(), inc.fetched, inc.new),
        ("succeeded", 7, 7),
        "{inc:?}"
    );
    let mut all = expected.clone();
    all.extend(added);
    let all = sorted(all);
    assert_eq!(h.live_ids(ds).await, all);
    match feed.edits {
        Edits::None => {}
        // ... and a full sync updates the edited ones in place.
        Edits::ByFullSync => {
            let full = h.sync(ds, user, "full").await;
            assert_eq!(
                (full.status.as_str(), full.new, full.updated),
                ("succeeded", 0, 3),
                "{full:?}"
            );
        }
        // Edited items move their watermark: the next incremental sync updates them in place.
        Edits::ByIncremental => {
            edited = data.edit(account, 3);
            let inc = h.sync(ds, user, "incremental").await;
            assert_eq!(
                (inc.status.as_str(), inc.fetched, inc.new, inc.updated),
                ("succeeded", 3, 0, 3),
                "{inc:?}"
            );
        }
    }
    assert_eq!(h.stored(ds).await.len(), all.len());

    // Deleted items: not reported by the API; nothing is added.
    let mut all = all;
    let mut gone = 0;
    if feed.deletions {
        gone = data.delete(account, 4).len();
        assert_eq!(gone, 4);
        let after_delete = h.sync(ds, user, "full").await;
        assert_eq!(
            (
                after_delete.status.as_str(),
                after_delete.fetched as usize,
                after_delete.new
            ),
            ("succeeded", all.len() - 4, 0)
        );
        // A full sync is a reconciliation: the deleted ones are marked deleted (rows kept).
        all = sorted(data.ids(account));
        assert_eq!(h.live_ids(ds).await, all);
        assert_eq!(h.stored(ds).await.len(), all.len() + gone);
    }

    // 30 % 5xx and a throttling reply (each provider's own kind) every 4th request: same
    // result, no duplicate.
    h.set_faults(Faults {
        fail_ratio: 0.3,
        throttle_every: 4,
        ..Faults::default()
    });
    let faulty = h.sync(ds, user, "full").await;
    assert_eq!(
        (faulty.status.as_str(), faulty.new),
        ("succeeded", 0),
        "{faulty:?}"
    );
    assert_eq!(h.live_ids(ds).await, all);
    assert_eq!(h.stored(ds).await.len(), all.len() + gone);

    // A malformed page fails the run cleanly; the next run succeeds.
    h.set_faults(Faults {
        malformed_pages: 1,
        ..Faults::default()
    });
    let broken = h.sync(ds, user, "full").await;
    assert_eq!(broken.status, "failed");
    assert!(
        broken.error.as_deref().unwrap().contains("malformed"),
        "{broken:?}"
    );
    assert_eq!(h.live_ids(ds).await, all, "nothing partial or wrong stored");
    let fixed = h.sync(ds, user, "full").await;
    assert_eq!((fixed.status.as_str(), fixed.new), ("succeeded", 0));
    h.set_faults(Faults::default());
    FeedRun { h, ds, edited }
}
