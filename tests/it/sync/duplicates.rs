//! `duplicate_of`, sentence by sentence of the contract: the earliest item of the same user
//! from another data source with the same canonical content (posts and media as one), within
//! `SYNC_DUPLICATE_WINDOW_HOURS`; empty, placeholder-only or too short text never links, nor
//! does identical text on one source; links are found whatever the order and concurrency of
//! the stores, and recomputed when content changes or the target is deleted. Against the real
//! PostgreSQL, through the functions the sync worker's page transaction calls.

use std::time::Duration;

use crate::common::TestDb;
use chrono::{DateTime, TimeZone, Utc};
use lifesync::{
    db::{duplicates, items},
    normalizer::{normalize, LinkSecret},
    providers::{ItemKind, RawItem},
};
use uuid::Uuid;

const WINDOW: Duration = Duration::from_secs(72 * 3600);

fn secret() -> LinkSecret {
    LinkSecret::derive(&[3; 32])
}

fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::hours(hours)
}

fn raw(id: &str, kind: ItemKind, hours: i64, text: &str) -> RawItem {
    RawItem {
        external_id: id.into(),
        kind,
        occurred_at: at(hours),
        text: text.into(),
        hashtags: vec![],
        mentions: vec![],
        location: None,
        media_url: None,
        permalink: None,
        metrics: serde_json::json!({}),
        subject: None,
        sender: None,
        html: None,
        mail: Default::default(),
    }
}

struct World {
    db: TestDb,
    user: String,
}

impl World {
    async fn new() -> Self {
        Self {
            db: TestDb::new().await,
            user: "dup-user".into(),
        }
    }

    async fn source(&self, provider: &str) -> Uuid {
        self.db
            .data_source(&self.user, provider, &format!("acct-{provider}"))
            .await
    }

    /// Stores a page as the sync worker does (upsert, deletions, relink in one transaction);
    /// returns the page's counts.
    async fn store(&self, source: Uuid, provider: &str, page: Vec<RawItem>) -> items::PageCounts {
        self.store_deleting(source, provider, page, &[]).await
    }

    async fn store_deleting(
        &self,
        source: Uuid,
        provider: &str,
        page: Vec<RawItem>,
        deleted: &[&str],
    ) -> items::PageCounts {
        let normalized: Vec<_> = page.into_iter().map(|r| normalize(r, &secret())).collect();
        let deleted: Vec<String> = deleted.iter().map(|s| s.to_string()).collect();
        let mut tx = self.db.pool.begin().await.unwrap();
        let mut w = items::upsert_page(&mut tx, &self.user, source, provider, &normalized)
            .await
            .unwrap();
        let mut touched = w.written.clone();
        touched.extend(
            items::mark_deleted(&mut tx, source, &deleted)
                .await
                .unwrap(),
        );
        w.counts.duplicate = duplicates::relink(&mut tx, &self.user, &touched, &w.inserted, WINDOW)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        w.counts
    }

    /// The external id of what `external_id` on `source` links to, if anything.
    async fn link(&self, source: Uuid, external_id: &str) -> Option<String> {
        sqlx::query_scalar(
            "SELECT t.external_id FROM items i JOIN items t ON t.id = i.duplicate_of
              WHERE i.data_source_id = $1 AND i.external_id = $2",
        )
        .bind(source)
        .bind(external_id)
        .fetch_optional(&self.db.pool)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn a_photo_cross_posted_as_a_post_links_to_the_earliest_in_the_window() {
    let w = World::new().await;
    let (ig, fb, tw) = (
        w.source("instagram").await,
        w.source("facebook").await,
        w.source("twitter").await,
    );
    let text = "Sunset over the Douro from the Dom Luís bridge #porto";
    w.store(ig, "instagram", vec![raw("ig1", ItemKind::Media, 0, text)])
        .await;
    let c = w
        .store(fb, "facebook", vec![raw("fb1", ItemKind::Post, 2, text)])
        .await;
    assert_eq!((c.new, c.duplicate), (1, 1));
    assert_eq!(w.link(fb, "fb1").await.as_deref(), Some("ig1"));
    assert_eq!(w.link(ig, "ig1").await, None, "the earliest links nowhere");
    // 76 h after ig1 and 74 h after fb1: outside the window of both.
    w.store(tw, "twitter", vec![raw("tw1", ItemKind::Post, 76, text)])
        .await;
    assert_eq!(w.link(tw, "tw1").await, None);
    // Moved to 73 h: ig1 is still outside the window, fb1 (71 h before) is the earliest inside.
    w.store(tw, "twitter", vec![raw("tw1", ItemKind::Post, 73, text)])
        .await;
    assert_eq!(w.link(tw, "tw1").await.as_deref(), Some("fb1"));
    // Emails never link to posts.
    let gm = w.source("google").await;
    w.store(gm, "google", vec![raw("m1", ItemKind::Email, 1, text)])
        .await;
    assert_eq!(w.link(gm, "m1").await, None);
    w.db.drop().await;
}

#[tokio::test]
async fn empty_placeholder_only_and_short_texts_never_link() {
    let w = World::new().await;
    let (ig, fb) = (w.source("instagram").await, w.source("facebook").await);
    let texts = ["", "   ", "call 415-555-0132", "Happy Friday!", "🎉🎉"];
    let page = |prefix: &str, kind| {
        texts
            .iter()
            .enumerate()
            .map(|(n, t)| raw(&format!("{prefix}{n}"), kind, n as i64, t))
            .collect::<Vec<_>>()
    };
    w.store(ig, "instagram", page("ig", ItemKind::Media)).await;
    let c = w.store(fb, "facebook", page("fb", ItemKind::Post)).await;
    assert_eq!((c.new, c.duplicate), (texts.len() as i32, 0));
    let links: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items WHERE duplicate_of IS NOT NULL")
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(links, 0);
    w.db.drop().await;
}

#[tokio::test]
async fn texts_equal_only_after_sanitization_do_not_link_true_cross_posts_do() {
    let w = World::new().await;
    let (tw, fb) = (w.source("twitter").await, w.source("facebook").await);
    w.store(
        tw,
        "twitter",
        vec![
            raw(
                "tw1",
                ItemKind::Post,
                0,
                "Found a card on the street, 4111 1111 1111 1111",
            ),
            raw(
                "tw2",
                ItemKind::Post,
                0,
                "Call me at 415-555-0132 about the flat",
            ),
        ],
    )
    .await;
    w.store(
        fb,
        "facebook",
        vec![
            raw(
                "fb1",
                ItemKind::Post,
                1,
                "Found a card on the street, 5555 5555 5555 4444",
            ),
            raw(
                "fb2",
                ItemKind::Post,
                1,
                "call me at (415) 555-0132 about the flat",
            ),
        ],
    )
    .await;
    assert_eq!(w.link(fb, "fb1").await, None);
    assert_eq!(w.link(fb, "fb2").await.as_deref(), Some("tw2"));
    w.db.drop().await;
}

#[tokio::test]
async fn recurring_posts_on_one_source_are_not_duplicates() {
    let w = World::new().await;
    let tw = w.source("twitter").await;
    let weekly: Vec<_> = (0..4)
        .map(|week| {
            raw(
                &format!("tw{week}"),
                ItemKind::Post,
                week,
                "Happy Friday everyone, enjoy the weekend!",
            )
        })
        .collect();
    let c = w.store(tw, "twitter", weekly).await;
    assert_eq!((c.new, c.duplicate), (4, 0));
    for week in 0..4 {
        assert_eq!(w.link(tw, &format!("tw{week}")).await, None);
    }
    // A second source with the same text links to the earliest of the first source only.
    let fb = w.source("facebook").await;
    w.store(
        fb,
        "facebook",
        vec![raw(
            "fb1",
            ItemKind::Post,
            3,
            "happy friday everyone, enjoy the weekend!",
        )],
    )
    .await;
    assert_eq!(w.link(fb, "fb1").await.as_deref(), Some("tw0"));
    w.db.drop().await;
}

#[tokio::test]
async fn an_earlier_item_stored_later_takes_over_the_links() {
    let w = World::new().await;
    let (ig, fb, li) = (
        w.source("instagram").await,
        w.source("facebook").await,
        w.source("linkedin").await,
    );
    let text = "Proud to announce our new office in Lisbon, opening next month";
    w.store(fb, "facebook", vec![raw("fb1", ItemKind::Post, 5, text)])
        .await;
    w.store(li, "linkedin", vec![raw("li1", ItemKind::Post, 6, text)])
        .await;
    assert_eq!(w.link(li, "li1").await.as_deref(), Some("fb1"));
    // The original, synced last.
    let c = w
        .store(ig, "instagram", vec![raw("ig1", ItemKind::Media, 0, text)])
        .await;
    assert_eq!((c.new, c.duplicate), (1, 0));
    assert_eq!(w.link(fb, "fb1").await.as_deref(), Some("ig1"));
    assert_eq!(w.link(li, "li1").await.as_deref(), Some("ig1"));
    w.db.drop().await;
}

#[tokio::test]
async fn links_follow_edits_and_deletions() {
    let w = World::new().await;
    let (ig, fb, tw) = (
        w.source("instagram").await,
        w.source("facebook").await,
        w.source("twitter").await,
    );
    let text = "Our first harvest from the allotment this year, tomatoes everywhere";
    w.store(ig, "instagram", vec![raw("ig1", ItemKind::Media, 0, text)])
        .await;
    w.store(fb, "facebook", vec![raw("fb1", ItemKind::Post, 1, text)])
        .await;
    w.store(tw, "twitter", vec![raw("tw1", ItemKind::Post, 2, text)])
        .await;
    assert_eq!(w.link(tw, "tw1").await.as_deref(), Some("ig1"));
    // The original's caption is edited: the others now link to the earliest remaining.
    w.store(
        ig,
        "instagram",
        vec![raw(
            "ig1",
            ItemKind::Media,
            0,
            "Edited: a completely different caption about the harvest",
        )],
    )
    .await;
    assert_eq!(w.link(fb, "fb1").await, None);
    assert_eq!(w.link(tw, "tw1").await.as_deref(), Some("fb1"));
    // The new target is deleted at its provider: tw1 has nothing left to link to.
    w.store_deleting(fb, "facebook", vec![], &["fb1"]).await;
    assert_eq!(w.link(tw, "tw1").await, None);
    // An edit of tw1 that makes it a copy of the edited ig1 links it there.
    w.store(
        tw,
        "twitter",
        vec![raw(
            "tw1",
            ItemKind::Post,
            2,
            "edited: a completely different caption about the harvest",
        )],
    )
    .await;
    assert_eq!(w.link(tw, "tw1").await.as_deref(), Some("ig1"));
    w.db.drop().await;
}

#[tokio::test]
async fn deleting_a_source_relinks_to_the_next_earliest() {
    let w = World::new().await;
    let (ig, fb, tw) = (
        w.source("instagram").await,
        w.source("facebook").await,
        w.source("twitter").await,
    );
    let text = "Marathon done in under four hours, thank you all for the support";
    w.store(ig, "instagram", vec![raw("ig1", ItemKind::Media, 0, text)])
        .await;
    w.store(fb, "facebook", vec![raw("fb1", ItemKind::Post, 1, text)])
        .await;
    w.store(tw, "twitter", vec![raw("tw1", ItemKind::Post, 2, text)])
        .await;
    lifesync::db::data_sources::disconnect(&w.db.pool, ig, false, WINDOW)
        .await
        .unwrap();
    assert_eq!(w.link(fb, "fb1").await, None);
    assert_eq!(w.link(tw, "tw1").await.as_deref(), Some("fb1"));
    w.db.drop().await;
}

/// Two runs store a cross-post at the same time: the second to relink waits for the first
/// to commit and sees its row, in either order of `occurred_at`.
#[tokio::test]
async fn cross_posts_stored_concurrently_are_linked() {
    for older_first in [true, false] {
        let w = World::new().await;
        let (ig, fb) = (w.source("instagram").await, w.source("facebook").await);
        let text = "Concert night at Coliseu, what a show from start to finish";
        let (h_ig, h_fb) = if older_first { (0, 1) } else { (1, 0) };
        let page = |id: &str, kind, h| vec![normalize(raw(id, kind, h, text), &secret())];
        let user = w.user.clone();

        // Run A writes its page and relinks, but has not committed yet.
        let mut a = w.db.pool.begin().await.unwrap();
        let wa = items::upsert_page(
            &mut a,
            &user,
            ig,
            "instagram",
            &page("ig1", ItemKind::Media, h_ig),
        )
        .await
        .unwrap();
        duplicates::relink(&mut a, &user, &wa.written, &wa.inserted, WINDOW)
            .await
            .unwrap();
        // Run B does the same meanwhile, in its own task.
        let pool = w.db.pool.clone();
        let b_page = page("fb1", ItemKind::Post, h_fb);
        let b = tokio::spawn(async move {
            let mut b = pool.begin().await.unwrap();
            let wb = items::upsert_page(&mut b, &user, fb, "facebook", &b_page)
                .await
                .unwrap();
            duplicates::relink(&mut b, &user, &wb.written, &wb.inserted, WINDOW)
                .await
                .unwrap();
            b.commit().await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!b.is_finished(), "run B waits for run A's links");
        a.commit().await.unwrap();
        b.await.unwrap();
        if older_first {
            assert_eq!(w.link(fb, "fb1").await.as_deref(), Some("ig1"));
            assert_eq!(w.link(ig, "ig1").await, None);
        } else {
            assert_eq!(w.link(ig, "ig1").await.as_deref(), Some("fb1"));
            assert_eq!(w.link(fb, "fb1").await, None);
        }
        w.db.drop().await;
    }
}
