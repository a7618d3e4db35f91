//! What a webhook may never reach, and the API's rules: registration refuses plain `http`,
//! credentials in URLs and every loopback, private, link-local and reserved address (in any
//! spelling) with stable codes and without echoing the URL; the delivery client refuses them
//! again at connect time (a name resolving to loopback included), follows no redirect, gives
//! up on a silent receiver after 10 s and stops reading an endless answer.

use std::time::Duration;

use reqwest::dns::Resolve;
use serde_json::json;

use super::{
    receiver::{Receiver, Reply},
    *,
};
use crate::common::*;
use lifesync::webhooks::sender::{Sender, TIMEOUT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_private_plain_and_credentialed_targets() {
    let app = TestApp::spawn_guarding_webhooks("https://127.0.0.1:9").await;
    let jwt = token("guarded", 3600, None);
    let cases = [
        ("http://hooks.example.com/in", "invalid_webhook_url"),
        ("ftp://hooks.example.com/in", "invalid_webhook_url"),
        (
            "https://user:pass@hooks.example.com/in",
            "invalid_webhook_url",
        ),
        ("not a url", "invalid_webhook_url"),
        ("https://127.0.0.1/in", "webhook_target_forbidden"),
        ("https://127.1/in", "webhook_target_forbidden"),
        ("https://2130706433/in", "webhook_target_forbidden"),
        ("https://0x7f000001/in", "webhook_target_forbidden"),
        ("https://[::1]/in", "webhook_target_forbidden"),
        ("https://[::ffff:127.0.0.1]/in", "webhook_target_forbidden"),
        ("https://localhost:8443/in", "webhook_target_forbidden"),
        ("https://10.0.0.8/in", "webhook_target_forbidden"),
        ("https://172.20.1.1/in", "webhook_target_forbidden"),
        ("https://192.168.0.10/in", "webhook_target_forbidden"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "webhook_target_forbidden",
        ),
        (
            "https://metadata.google.internal/computeMetadata/v1/",
            "webhook_target_forbidden",
        ),
        ("https://100.64.0.1/in", "webhook_target_forbidden"),
        ("https://[fd00::1]/in", "webhook_target_forbidden"),
        ("https://0.0.0.0/in", "webhook_target_forbidden"),
    ];
    for (url, code) in cases {
        let body = json!({ "url": url, "events": ["sync.failed"] }).to_string();
        let r = app.post_json("/api/v1/webhooks", &jwt, &body).await;
        assert_eq!(r.status(), 400, "{url}");
        let text = r.text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"], code, "{url}: {text}");
        assert!(!text.contains(url), "the URL is not echoed: {text}");
    }
    // Unknown events, none, and a description too long.
    for (body, code) in [
        (
            json!({ "url": "https://hooks.example.com/", "events": ["sync.*"] }),
            "invalid_event_type",
        ),
        (
            json!({ "url": "https://hooks.example.com/", "events": [] }),
            "invalid_request",
        ),
        (
            json!({ "url": "https://hooks.example.com/", "events": ["sync.failed"], "description": "x".repeat(501) }),
            "invalid_request",
        ),
    ] {
        let r = app
            .post_json("/api/v1/webhooks", &jwt, &body.to_string())
            .await;
        assert_eq!(r.status(), 400, "{body}");
        let got = error_code(r).await;
        assert!(got == code || got.starts_with("invalid"), "{body}: {got}");
    }
    // A public https URL is accepted (its name need not resolve here: no network).
    let ok = json!({ "url": "https://hooks.example.com/in", "events": ["sync.failed"] });
    let r = app
        .post_json("/api/v1/webhooks", &jwt, &ok.to_string())
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_refuses_forbidden_addresses_at_connect_time() {
    let receiver = Receiver::start(vec![]).await;
    let guarded = Sender::new(&sandbox_outbound(), false).unwrap();
    let attempt = guarded
        .send(&receiver.url, Default::default(), b"{}".to_vec())
        .await;
    assert_eq!(attempt.status, None);
    assert!(
        attempt
            .error
            .as_deref()
            .unwrap()
            .starts_with("refused target"),
        "{attempt:?}"
    );
    // A name is checked when it is resolved, not only when it is registered: `localhost`
    // resolves to loopback only, so nothing is left to connect to.
    let resolver = lifesync::webhooks::target::GuardedResolver {
        allow_private: false,
    };
    assert!(resolver
        .resolve("localhost".parse().unwrap())
        .await
        .is_err());
    let open = lifesync::webhooks::target::GuardedResolver {
        allow_private: true,
    };
    assert!(open.resolve("localhost".parse().unwrap()).await.is_ok());
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    // Where private targets are allowed, a name goes through the same resolver to the URL's
    // port.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let allowed = Sender::new(&sandbox_outbound(), true).unwrap();
    let attempt = allowed
        .send(&by_name, Default::default(), b"{}".to_vec())
        .await;
    assert!(attempt.delivered(), "{attempt:?}");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_endless_answers_are_cut_and_silence_times_out() {
    let elsewhere = Receiver::start(vec![]).await;
    let receiver = Receiver::start(vec![
        Reply::Redirect(elsewhere.url.clone()),
        Reply::Endless,
        Reply::Hang(TIMEOUT + Duration::from_secs(5)),
    ])
    .await;
    let sender = Sender::new(&sandbox_outbound(), true).unwrap();
    let redirected = sender
        .send(&receiver.url, Default::default(), b"{}".to_vec())
        .await;
    assert_eq!(redirected.status, Some(302));
    assert!(!redirected.delivered());
    assert!(
        elsewhere.received().is_empty(),
        "the redirect was not followed"
    );
    // An answer that never ends is read up to 64 KB and dropped: the attempt is delivered,
    // not left waiting for the end of the body (which would fail at the timeout).
    let endless = sender
        .send(&receiver.url, Default::default(), b"{}".to_vec())
        .await;
    assert!(endless.delivered(), "{endless:?}");
    // A receiver that never answers: the attempt fails at the 10 s timeout.
    let silent = sender
        .send(&receiver.url, Default::default(), b"{}".to_vec())
        .await;
    assert_eq!(silent.status, None);
    assert!(
        silent.error.as_deref().unwrap().contains("timed out"),
        "{silent:?}"
    );
    assert!(silent.latency >= TIMEOUT - Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_private_to_their_user_and_capped() {
    let hooks = Hooks::start().await;
    let app = &hooks.app;
    let mine = register(app, "owner", "https://127.0.0.1:9/hook", &["sync.failed"]).await;
    let theirs = token("stranger", 3600, None);
    for path in [
        format!("/api/v1/webhooks/{}", mine.id),
        format!("/api/v1/webhooks/{}/deliveries", mine.id),
    ] {
        assert_eq!(app.get(&path, Some(&theirs)).await.status(), 404, "{path}");
    }
    let r = patch(app, "stranger", mine.id, json!({ "enabled": false })).await;
    assert_eq!(r.status(), 404);
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/webhooks/{}", mine.id)))
        .bearer_auth(&theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list: serde_json::Value = app
        .get("/api/v1/webhooks", Some(&theirs))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["webhooks"], json!([]));
    // An admin sees everyone's.
    register(
        app,
        "stranger",
        "https://127.0.0.1:9/other",
        &["sync.failed"],
    )
    .await;
    let all: serde_json::Value = app
        .get("/api/v1/webhooks", Some(&token("ops", 3600, Some("admin"))))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["webhooks"].as_array().unwrap().len(), 2);
    // At most 20 per user.
    for i in 1..20 {
        register(
            app,
            "owner",
            &format!("https://127.0.0.1:9/{i}"),
            &["sync.failed"],
        )
        .await;
    }
    let body = json!({ "url": "https://127.0.0.1:9/21", "events": ["sync.failed"] });
    let r = app
        .post_json(
            "/api/v1/webhooks",
            &token("owner", 3600, None),
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(r).await, "too_many_webhooks");
    // Deleting works for the owner.
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/webhooks/{}", mine.id)))
        .bearer_auth(token("owner", 3600, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    hooks.shutdown().await;
}
