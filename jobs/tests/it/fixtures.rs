//! Golden payloads: every version of every job payload ever written must still deserialize,
//! so a rolling deploy never strands jobs that the previous release enqueued.

use std::path::Path;

use lifesync_jobs::payloads::{
    queues, BuildTimeline, DeliverWebhook, EraseUser, Job, OAuthCompletion, ScheduleFanout,
    SyncDataSource, SyncMode, SyncTrigger,
};
use serde::de::DeserializeOwned;

fn load<T: DeserializeOwned>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} no longer deserializes: {e}"))
}

/// Every fixture file is checked by a test below (a new fixture without a test fails here).
#[test]
fn every_fixture_is_covered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "build_timeline.v1.json",
            "deliver_webhook.v1.json",
            "erase_user.v1.json",
            "oauth_completion.v1.json",
            "oauth_completion.v1.minimal.json",
            "schedule_fanout.v1.json",
            "sync_data_source.v1.json",
            "sync_data_source.v1.with_unknown_field.json",
        ]
    );
}

#[test]
fn oauth_completion_v1() {
    let j: OAuthCompletion = load("oauth_completion.v1.json");
    assert_eq!(j.version, 1);
    assert_eq!(j.provider, "twitter");
    assert!(j.sealed_pkce_verifier.is_some());
    assert_eq!(
        j.unique_key().unwrap(),
        format!("oauth:{}", j.completion_id)
    );
    let m: OAuthCompletion = load("oauth_completion.v1.minimal.json");
    assert_eq!(m.sealed_pkce_verifier, None, "optional fields default");
    assert_eq!(<OAuthCompletion as Job>::QUEUE, queues::OAUTH_COMPLETION);
}

#[test]
fn sync_data_source_v1() {
    let j: SyncDataSource = load("sync_data_source.v1.json");
    assert_eq!(
        (j.version, j.mode, j.trigger),
        (1, SyncMode::Incremental, SyncTrigger::Daily)
    );
    assert_eq!(
        j.page_cursor.as_deref(),
        Some("7140dibdnow9c7btw3z6ezi4d0l9x5x7p3b6p2e1y")
    );
    assert_eq!(
        j.unique_key().unwrap(),
        format!("sync:{}", j.data_source_id)
    );
    // A newer release may add fields: this release must still read the job.
    let newer: SyncDataSource = load("sync_data_source.v1.with_unknown_field.json");
    assert_eq!(newer.mode, SyncMode::Full);
    assert_eq!(newer.page_cursor, None);
}

#[test]
fn schedule_fanout_v1() {
    let j: ScheduleFanout = load("schedule_fanout.v1.json");
    assert_eq!(j.job_id().unwrap(), "fanout-daily-1795489200");
    assert_eq!(j.mode, SyncMode::Full);
}

/// Today's payloads serialize to exactly the golden JSON (field names and enum spellings are
/// part of the wire format).
#[test]
fn current_payloads_match_the_golden_json() {
    let roundtrip = |name: &str, value: serde_json::Value| {
        let golden: serde_json::Value = load(name);
        assert_eq!(value, golden, "{name} drifted");
    };
    roundtrip(
        "oauth_completion.v1.json",
        serde_json::to_value(load::<OAuthCompletion>("oauth_completion.v1.json")).unwrap(),
    );
    roundtrip(
        "sync_data_source.v1.json",
        serde_json::to_value(load::<SyncDataSource>("sync_data_source.v1.json")).unwrap(),
    );
    roundtrip(
        "schedule_fanout.v1.json",
        serde_json::to_value(load::<ScheduleFanout>("schedule_fanout.v1.json")).unwrap(),
    );
}

#[test]
fn erase_user_v1() {
    let j: EraseUser = load("erase_user.v1.json");
    assert_eq!(j.version, 1);
    assert!(j.sealed_user_id.starts_with("v1."));
    assert_eq!(j.unique_key().unwrap(), format!("erase:{}", j.user_key));
    assert_eq!(<EraseUser as Job>::QUEUE, queues::ERASE);
}

#[test]
fn deliver_webhook_v1() {
    let j: DeliverWebhook = load("deliver_webhook.v1.json");
    assert_eq!((j.version, j.delivery_id), (1, 4217));
    assert_eq!(j.job_id().unwrap(), "webhook-4217");
    assert_eq!(<DeliverWebhook as Job>::QUEUE, queues::WEBHOOKS);
}

#[test]
fn build_timeline_v1() {
    let j: BuildTimeline = load("build_timeline.v1.json");
    assert_eq!((j.version, j.user_id.as_str()), (1, "user-42"));
    assert_eq!(j.unique_key().unwrap(), "timeline:user-42");
    assert_eq!(<BuildTimeline as Job>::QUEUE, queues::TIMELINE);
}
