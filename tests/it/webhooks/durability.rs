//! A worker process killed in the middle of a delivery loses nothing: the delivery's job comes
//! back when its lease runs out, another worker process sends it again with the same
//! `webhook-id` (the receiver's idempotency key), and it ends delivered, once recorded.

use std::{process::Stdio, time::Duration};

use serde_json::json;

use super::{
    receiver::{Receiver, Reply},
    verify::verifies,
    *,
};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_delivery_loses_nothing() {
    let app = TestApp::spawn_with(Some(sandbox_oauth("https://127.0.0.1:9"))).await;
    // The first attempt hangs until the worker is dead; the next is answered at once.
    let receiver = Receiver::start(vec![Reply::Hang(Duration::from_secs(8))]).await;
    let user = "survivor";
    let endpoint = register(&app, user, &receiver.url, &["sync.succeeded"]).await;
    let prefix = app.store.settings().prefix.clone();
    let mut env = service_env(&app.db.url, &prefix);
    env.push(("WEBHOOK_ALLOW_PRIVATE_TARGETS".into(), "true".into()));
    env.push(("SSL_CERT_FILE".into(), sandbox_ca_file()));
    let worker = || {
        lifesync_command(&["worker", "--queues", "webhooks"], &env)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = worker();
    // The event is committed; the worker's dispatcher and then its handler pick it up.
    assert_eq!(
        emit(&app, user, "sync.succeeded", json!({ "note": "kill" })).await,
        1
    );
    assert_eq!(
        receiver.wait_for(1, 60).await.len(),
        1,
        "the first attempt is under way"
    );
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = worker();
    let got = receiver.wait_for(2, 90).await;
    let recorded = eventually(30, || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM webhook_deliveries")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            == "delivered"
    })
    .await;
    let _ = second.kill();
    let _ = second.wait();
    assert!(recorded, "the second worker recorded the delivery");
    assert_eq!(got.len(), 2, "sent again after the lease ran out");
    assert_eq!(got[1].id, got[0].id, "the same message");
    assert!(verifies(&endpoint.secret, &got[1]));
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM webhook_deliveries")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("delivered", 1),
        "the killed attempt left no record"
    );
    app.shutdown().await;
}
