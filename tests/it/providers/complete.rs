//! Every provider has every piece (README, "How to add… a provider"): for each
//! `ProviderId::ALL`, its OAuth spec entry and the sandbox's OAuth flavor connect an account
//! (authorize → sandbox → callback → completion, which reads the profile through the
//! provider's file), and the first full sync runs through the dispatch table against the
//! sandbox's data routes and succeeds. A variant without its spec entry or provider file does
//! not compile; one without its sandbox fails here.

use crate::common::*;
use lifesync::providers::ProviderId;

/// An account the sandbox knows, per provider.
fn account(p: ProviderId) -> &'static str {
    match p {
        ProviderId::Twitter => "1001",
        ProviderId::Google => "alpha.erase@gmail.com",
        ProviderId::Facebook => "10223456789012345",
        ProviderId::Linkedin => "782bbtaQ",
        ProviderId::Instagram => "17841405793187218",
        ProviderId::Microsoft => "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_provider_has_every_piece() {
    let h = SyncHarness::new(1401, 100).await;
    for p in ProviderId::ALL {
        let ds = h.connect(p, "complete-user", account(p)).await.source;
        let (status, name): (String, Option<String>) = sqlx::query_as(
            "SELECT r.status, d.account_name FROM sync_runs r
               JOIN data_sources d ON d.id = r.data_source_id
              WHERE r.data_source_id = $1 AND r.trigger = 'oauth'",
        )
        .bind(ds)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap();
        assert_eq!(status, "succeeded", "{p}");
        let name = name.unwrap_or_default();
        assert!(!name.is_empty(), "{p}: the profile names the account");
        // The provider's quirk, from its file: X shows accounts by handle.
        assert_eq!(
            name.starts_with('@'),
            p == ProviderId::Twitter,
            "{p}: {name}"
        );
    }
    h.shutdown().await;
}
