//! The sandbox's data makes a timeline: a user connecting Gmail, Outlook, Twitter and Facebook
//! of the sandbox (dev's default seed) gets, from the `BuildTimeline` job each sync queues, at
//! least two trips and two events — what `lifesync dev` prints for its demo user.

use crate::common::*;
use lifesync::providers::ProviderId;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_user_has_trips_and_events() {
    let h = SyncHarness::new(42, 100).await;
    let timeline_workers = start_queue_workers(
        &h.app.db.pool,
        &h.app.store,
        &h.sandbox.twitter_base(),
        100,
        &["timeline"],
    );
    let user = "demo-like";
    for (p, account) in [
        (ProviderId::Google, lifesync_sandbox::google::ACCOUNT),
        (ProviderId::Twitter, "1001"),
        (ProviderId::Facebook, "1001"),
    ] {
        let c = h.connect(p, user, account).await;
        assert_eq!(c.run.status, "succeeded", "{p}: {:?}", c.run);
    }
    let jwt = token(user, 3600, None);
    let count = |page: &Value, t: &str| {
        page["entries"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|e| e["type"] == t).count())
    };
    let mut page = Value::Null;
    let mut ok = false;
    for _ in 0..120 {
        page = h
            .app
            .get("/api/v1/timeline?limit=200", Some(&jwt))
            .await
            .json()
            .await
            .unwrap();
        if count(&page, "trip") >= 2 && count(&page, "event") >= 2 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    for e in page["entries"].as_array().into_iter().flatten() {
        println!(
            "{} {} {}..{} {} items",
            e["type"],
            e["title"],
            e["start"],
            e["end"],
            e["items"].as_array().unwrap().len()
        );
    }
    assert!(ok, "at least two trips and two events: {page}");
    let trip = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "trip")
        .unwrap();
    println!("{}", serde_json::to_string_pretty(trip).unwrap());
    let _ = timeline_workers.send(());
    h.shutdown().await;
}
