//! The stored timeline: a person of the fixture stored as items, built by the `BuildTimeline`
//! job (through a worker), read through `GET /api/v1/timeline` (filters, keyset pages) and
//! `GET /api/v1/timeline/{id}`; an incremental build after new items equals a full one;
//! deleted and disconnected items leave their entries, an entry left empty goes; another
//! user's entry is a 404 and bad input a 400 with a stable code.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;
use lifesync::{domain::ItemKind, timeline::Item, workers::build_timeline::build_user};
use lifesync_jobs::{payloads::BuildTimeline, Producer};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// Stores items as a sync would have (emails on a Gmail source, the rest on Twitter).
async fn store_items(pool: &PgPool, mail: Uuid, social: Uuid, user: &str, items: &[Item]) {
    for i in items {
        let source = if i.kind == ItemKind::Email {
            mail
        } else {
            social
        };
        sqlx::query(
            "INSERT INTO items (id, data_source_id, user_id, provider, kind, external_id,
                                occurred_at, text, category, is_event, event, hashtags, location,
                                content_hash)
             VALUES ($1, $2, $3, 'twitter', $4, $1::text, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(i.id)
        .bind(source)
        .bind(user)
        .bind(i.kind.as_str())
        .bind(i.occurred_at)
        .bind(&i.text)
        .bind(&i.category)
        .bind(i.event.is_some())
        .bind(&i.event)
        .bind(&i.hashtags)
        .bind(&i.location)
        .bind(vec![0u8; 32])
        .execute(pool)
        .await
        .unwrap();
    }
    for i in items.iter().filter(|i| i.duplicate_of.is_some()) {
        sqlx::query("UPDATE items SET duplicate_of = $2 WHERE id = $1")
            .bind(i.id)
            .bind(i.duplicate_of)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// Every entry the API lists, page by page (`limit` a page), as id → entry.
async fn listed(app: &TestApp, jwt: &str, query: &str, limit: usize) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/api/v1/timeline?limit={limit}{query}"),
            Some(c) => format!("/api/v1/timeline?limit={limit}{query}&cursor={c}"),
        };
        let r = app.get(&path, Some(jwt)).await;
        assert_eq!(r.status(), 200, "{path}");
        let page: Value = r.json().await.unwrap();
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= limit);
        for e in entries {
            assert!(out
                .insert(e["id"].as_str().unwrap().to_string(), e.clone())
                .is_none());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// (id, items) of every entry as the pure builder makes them from `items`.
fn expected(user: &str, items: &[Item]) -> BTreeMap<String, BTreeSet<String>> {
    lifesync::timeline::build(user, items, None)
        .entries
        .into_iter()
        .map(|e| {
            (
                e.id.to_string(),
                e.items.iter().map(|(id, _)| id.to_string()).collect(),
            )
        })
        .collect()
}

fn shown(entries: &BTreeMap<String, Value>) -> BTreeMap<String, BTreeSet<String>> {
    entries
        .iter()
        .map(|(id, e)| {
            (
                id.clone(),
                e["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_builds_the_timeline_the_api_serves_and_keeps_it_current() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let user = "tl-ana";
    let person = super::fixture::people().remove(0);
    let mail = app.db.data_source(user, "google", "ana@example.com").await;
    let social = app.db.data_source(user, "twitter", "4001").await;
    // Held back: three photos in Lisbon during the first trip, stored later.
    let lisbon_trip = person
        .expected
        .iter()
        .find(|x| x.entry_type == "trip")
        .unwrap();
    let mut later: Vec<Item> = (0..3)
        .map(|k| Item {
            id: Uuid::from_u128(0xfeed_0000 + k),
            kind: ItemKind::Media,
            occurred_at: lisbon_trip.start + chrono::Duration::hours(50 + 3 * k as i64),
            text: "🐟".into(),
            hashtags: vec![],
            category: None,
            event: None,
            location: Some(serde_json::json!({"name": null, "lat": 38.71, "lon": -9.15})),
            duplicate_of: None,
        })
        .collect();
    store_items(&pool, mail, social, user, &person.items).await;

    // The job, through a worker of the timeline queue.
    let deps = worker_deps(&pool, &app.store, sandbox_apps("http://127.0.0.1:9"), 50);
    let (stop, stopped) = run_workers(&app.store, deps, &["timeline"], 2);
    let job = BuildTimeline {
        version: BuildTimeline::VERSION,
        user_id: user.into(),
    };
    Producer::new(app.store.clone())
        .enqueue(&job)
        .await
        .unwrap();
    assert!(
        eventually(60, || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM timeline_state WHERE user_id = $1")
                .bind(user)
                .fetch_one(&pool)
                .await
                .unwrap()
                == 1
        })
        .await,
        "the job built the timeline"
    );
    let _ = stop.send(());
    stopped.await.unwrap();

    let jwt = token(user, 3600, None);
    let all = listed(&app, &jwt, "", 7).await;
    assert_eq!(
        shown(&all),
        expected(user, &person.items),
        "the API serves what was built"
    );
    let trips = listed(&app, &jwt, "&type=trip", 50).await;
    assert!(trips.len() >= 4 && trips.values().all(|e| e["type"] == "trip"));
    let events = listed(&app, &jwt, "&type=event", 50).await;
    assert!(events.len() >= 4 && events.values().all(|e| e["type"] == "event"));
    let spring = listed(
        &app,
        &jwt,
        "&since=2026-03-01T00:00:00Z&until=2026-04-01T00:00:00Z",
        50,
    )
    .await;
    assert!(!spring.is_empty());
    assert!(spring.len() < all.len());
    for e in spring.values() {
        assert!(
            e["end"].as_str().unwrap() >= "2026-03-01"
                && e["start"].as_str().unwrap() < "2026-04-01"
        );
    }
    // One entry, whole.
    let (trip_id, trip) = trips
        .iter()
        .find(|(_, e)| e["title"].as_str().unwrap().starts_with("Trip to Lisbon"))
        .expect("the Lisbon trip");
    let one: Value = app
        .get(&format!("/api/v1/timeline/{trip_id}"), Some(&jwt))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(&one, trip);
    assert_eq!(one["place"]["name"], "Lisbon");
    assert!(one["place"]["lat"].as_f64().is_some());
    assert!(one["confidence"].as_f64().unwrap() > 0.5);
    let roles: BTreeSet<&str> = one["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains("reservation") && roles.contains("photo"),
        "{roles:?}"
    );

    // Not yours, not there, not valid: the error shape with stable codes.
    let other = token("tl-someone-else", 3600, None);
    let r = app
        .get(&format!("/api/v1/timeline/{trip_id}"), Some(&other))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
    let r = app.get("/api/v1/timeline", Some(&other)).await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["entries"], serde_json::json!([]));
    let r = app
        .get(&format!("/api/v1/timeline/{}", Uuid::new_v4()), Some(&jwt))
        .await;
    assert_eq!(r.status(), 404);
    for bad in [
        "type=holiday",
        "limit=0",
        "limit=201",
        "cursor=%%%",
        "since=yesterday",
    ] {
        let r = app
            .get(&format!("/api/v1/timeline?{bad}"), Some(&jwt))
            .await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(!error_code(r).await.is_empty(), "{bad}");
    }
    assert_eq!(app.get("/api/v1/timeline", None).await.status(), 401);
    let r = app.get("/api/v1/timeline/not-a-uuid", Some(&jwt)).await;
    assert!(r.status() == 400 || r.status() == 404, "{}", r.status());

    // Nothing changed: nothing to do.
    assert_eq!(build_user(&pool, user, false).await.unwrap().full, None);

    // New items: an incremental build, equal to a full one.
    store_items(&pool, mail, social, user, &later).await;
    let out = build_user(&pool, user, false).await.unwrap();
    assert_eq!(out.full, Some(false), "{out:?}");
    assert!(out.items_read < person.items.len(), "{out:?}");
    let mut everything = person.items.clone();
    everything.append(&mut later);
    let want = expected(user, &everything);
    assert_eq!(
        shown(&listed(&app, &jwt, "", 100).await),
        want,
        "incremental = full"
    );
    let lisbon = listed(&app, &jwt, "&type=trip", 100).await;
    assert!(lisbon[trip_id]["items"]
        .to_string()
        .contains(&Uuid::from_u128(0xfeed_0000).to_string()));

    // A deleted item (at the provider: deleted_at) leaves its entry at once.
    let photo = Uuid::from_u128(0xfeed_0001);
    sqlx::query("UPDATE items SET deleted_at = now() WHERE id = $1")
        .bind(photo)
        .execute(&pool)
        .await
        .unwrap();
    let now = listed(&app, &jwt, "&type=trip", 100).await;
    assert!(!now[trip_id]["items"]
        .to_string()
        .contains(&photo.to_string()));
    // An event whose mails are all removed (rows deleted) goes.
    let (event_id, event) = events.iter().next().unwrap();
    let ids: Vec<Uuid> = event["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect();
    sqlx::query("DELETE FROM items WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&pool)
        .await
        .unwrap();
    let gone: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_entries WHERE id = $1::uuid")
        .bind(event_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(gone, 0, "an entry left with nothing is removed");
    assert_eq!(
        app.get(&format!("/api/v1/timeline/{event_id}"), Some(&jwt))
            .await
            .status(),
        404
    );
    // The next build agrees with a full build of what is left.
    build_user(&pool, user, false).await.unwrap();
    let left: Vec<Item> = everything
        .iter()
        .filter(|i| i.id != photo && !ids.contains(&i.id))
        .cloned()
        .collect();
    assert_eq!(
        shown(&listed(&app, &jwt, "", 100).await),
        expected(user, &left)
    );

    // A disconnected source's items leave every entry; the mail-only entries go from view.
    sqlx::query("UPDATE data_sources SET status = 'disconnected' WHERE id = $1")
        .bind(social)
        .execute(&pool)
        .await
        .unwrap();
    let after = listed(&app, &jwt, "", 100).await;
    for e in after.values() {
        for i in e["items"].as_array().unwrap() {
            assert_eq!(i["role"], "reservation", "only mail is left: {e}");
        }
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_sweep_queues_the_builds_that_no_run_queued() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let user = "tl-swept";
    let person = super::fixture::people().remove(1);
    let mail = app
        .db
        .data_source(user, "google", "swept@example.com")
        .await;
    let social = app.db.data_source(user, "twitter", "4002").await;
    // Items committed as by a run whose worker died before it queued the build.
    store_items(&pool, mail, social, user, &person.items).await;
    let producer = Producer::new(app.store.clone());
    let offered = lifesync::services::timeline::queue_stale(&pool, &producer, 100)
        .await
        .unwrap();
    assert_eq!(offered, 1, "the user whose items changed");
    let deps = worker_deps(&pool, &app.store, sandbox_apps("http://127.0.0.1:9"), 50);
    let (stop, stopped) = run_workers(&app.store, deps, &["timeline"], 2);
    let built = eventually(60, || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT t.built_seq = c.seq FROM timeline_state t
               JOIN item_change_counters c USING (user_id) WHERE t.user_id = $1",
        )
        .bind(user)
        .fetch_optional(&pool)
        .await
        .unwrap()
        .unwrap_or(false)
    })
    .await;
    let _ = stop.send(());
    stopped.await.unwrap();
    assert!(built, "the swept build caught up with every change");
    let entries = listed(&app, &token(user, 3600, None), "", 50).await;
    assert_eq!(shown(&entries), expected(user, &person.items));
    // Nothing is stale any more: the next sweep offers nobody.
    let again = lifesync::services::timeline::queue_stale(&pool, &producer, 100)
        .await
        .unwrap();
    assert_eq!(again, 0);
    app.shutdown().await;
}
