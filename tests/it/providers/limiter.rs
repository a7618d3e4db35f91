//! The shared provider rate limiter: buckets in Redis shared by separate connections (as by
//! separate worker processes), per app and per account.

use crate::common;
use lifesync::providers::{
    limiter::{Limiter, PerMinute},
    ProviderId,
};

async fn limiter(prefix: &str) -> Limiter {
    let store = lifesync_jobs::Store::connect(
        lifesync_jobs::RedisSettings::new(common::redis_url()),
        lifesync_jobs::QueueSettings::new(prefix),
    )
    .await
    .unwrap();
    Limiter::new(store.connection(), prefix)
}

#[tokio::test]
async fn two_processes_share_one_bucket_per_account_and_one_per_app() {
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let (a, b) = (limiter(&prefix).await, limiter(&prefix).await);
    let per_account = Some(PerMinute(60)); // one a second, bursts of 6
    let mut allowed = 0;
    let mut first_wait = None;
    for i in 0..20 {
        let l = if i % 2 == 0 { &a } else { &b };
        match l
            .acquire(ProviderId::Twitter, "acct-1", None, per_account)
            .await
            .unwrap()
        {
            None => allowed += 1,
            Some(w) => {
                first_wait.get_or_insert(w);
            }
        }
    }
    assert_eq!(allowed, 6, "the burst, across both connections");
    let w = first_wait.unwrap();
    assert!(w.as_millis() > 900 && w.as_millis() <= 1000, "{w:?}");
    // Another account has its own bucket…
    assert_eq!(
        a.acquire(ProviderId::Twitter, "acct-2", None, per_account)
            .await
            .unwrap(),
        None
    );
    // …but the app's bucket is shared by all accounts.
    let per_app = Some(PerMinute(10));
    let mut app_allowed = 0;
    for i in 0..5 {
        let account = format!("acct-app-{i}");
        if b.acquire(ProviderId::Google, &account, per_app, None)
            .await
            .unwrap()
            .is_none()
        {
            app_allowed += 1;
        }
    }
    assert_eq!(app_allowed, 1, "10/min allows a burst of one");
    // Waiting the advised time lets the next request through.
    tokio::time::sleep(w).await;
    assert_eq!(
        a.acquire(ProviderId::Twitter, "acct-1", None, per_account)
            .await
            .unwrap(),
        None
    );
}
