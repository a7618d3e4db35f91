//! Outlook (Graph) against the sandbox: full, repeated, incremental (adds and `@removed`
//! deletions through the delta link), faulty, malformed and expired-delta-token syncs, through
//! the real OAuth flow, PostgreSQL, Redis and in-process workers.

use crate::common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;

const ACCOUNT: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_full_repeat_incremental_faults_malformed_and_expired_delta_token() {
    mail_sync_scenarios(ProviderId::Microsoft, ACCOUNT, 41, |s| &s.microsoft).await;
}

/// The sandbox's Graph wire shapes, straight over HTTP (no service involved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_sandbox_speaks_graph_wire_shapes() {
    use serde_json::Value;
    let sb = TestSandbox::spawn(6).await;
    let data = &sb.state.microsoft;
    let token = sb
        .state
        .issue_token_for(ProviderId::Microsoft, ACCOUNT, 3600);
    let http = sandbox_client();
    let get = |url: String, immutable: bool| {
        let mut r = http
            .get(url)
            .bearer_auth(&token)
            .header("prefer", "odata.maxpagesize=50");
        if immutable {
            r = r.header("prefer", "IdType=\"ImmutableId\"");
        }
        r.send()
    };
    let delta = format!(
        "{}/microsoft/v1.0/me/mailFolders/inbox/messages/delta?$select=subject,from,receivedDateTime",
        sb.base
    );

    // $top outside 1–1000: 400.
    for top in ["0", "1001"] {
        let r = get(
            format!("{}/microsoft/v1.0/me/messages?$top={top}", sb.base),
            true,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = get(
        format!("{}/microsoft/v1.0/me/messages?$top=5", sb.base),
        true,
    )
    .await
    .unwrap();
    let l: Value = r.json().await.unwrap();
    assert_eq!(l["value"].as_array().unwrap().len(), 5);
    let next = l["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(next.contains("%24skip=5"), "{next}");
    let l2: Value = get(next, true).await.unwrap().json().await.unwrap();
    assert_eq!(l2["value"].as_array().unwrap().len(), 5);
    assert_ne!(l["value"][0]["id"], l2["value"][0]["id"]);

    // An initial delta round: $skiptoken pages, then a $deltatoken link; immutable ids.
    let mut url = delta.clone();
    let mut seen = Vec::new();
    let delta_link = loop {
        let r = get(url, true).await.unwrap();
        assert!(r.headers()["preference-applied"]
            .to_str()
            .unwrap()
            .contains("odata.maxpagesize=50"));
        let page: Value = r.json().await.unwrap();
        for m in page["value"].as_array().unwrap() {
            assert!(
                m.get("bodyPreview").is_none(),
                "$select applies on every page"
            );
            assert!(m["receivedDateTime"].as_str().unwrap().ends_with('Z'));
            seen.push(m["id"].as_str().unwrap().to_string());
        }
        match page["@odata.nextLink"].as_str() {
            Some(n) => {
                assert!(n.contains("$skiptoken="));
                url = n.to_string();
            }
            None => break page["@odata.deltaLink"].as_str().unwrap().to_string(),
        }
    };
    assert!(delta_link.contains("$deltatoken="));
    seen.sort();
    let mut ids = data.ids(ACCOUNT);
    ids.sort();
    assert_eq!(seen, ids);
    // Without ImmutableId the ids are the folder-bound ones.
    let page: Value = get(delta.clone(), false)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = page["value"][0]["id"].as_str().unwrap();
    assert!(!ids.iter().any(|i| i == id));

    // Changes after the delta link: new messages and @removed entries.
    let added = data.add(ACCOUNT, 1);
    let removed = data.delete(ACCOUNT, 2);
    let page: Value = get(delta_link.clone(), true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value = page["value"].as_array().unwrap();
    let gone: Vec<&str> = value
        .iter()
        .filter(|m| m["@removed"]["reason"] == "deleted")
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(gone, removed.iter().map(String::as_str).collect::<Vec<_>>());
    let new: Vec<&str> = value
        .iter()
        .filter(|m| m.get("@removed").is_none())
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(new, added.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(page["@odata.deltaLink"].is_string());

    // Expired delta state: 410 SyncStateNotFound.
    *sb.state.faults.lock().unwrap() = Faults {
        expire_cursors: true,
        ..Faults::default()
    };
    let r = get(delta_link, true).await.unwrap();
    assert_eq!(r.status(), 410);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "SyncStateNotFound");

    // More than 4 concurrent requests per mailbox: 429 ApplicationThrottled, Retry-After.
    *sb.state.faults.lock().unwrap() = Faults {
        slow_ms: 300,
        ..Faults::default()
    };
    let replies = futures::future::join_all((0..6).map(|_| get(delta.clone(), true))).await;
    let mut throttled = 0;
    for r in replies {
        let r = r.unwrap();
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"]["code"], "ApplicationThrottled");
            throttled += 1;
        }
    }
    assert_eq!(throttled, 2);
    *sb.state.faults.lock().unwrap() = Faults::default();
    assert_eq!(get(delta.clone(), true).await.unwrap().status(), 200);

    // Throttling: 429, Retry-After, TooManyRequests.
    *sb.state.faults.lock().unwrap() = Faults {
        throttle_every: 1,
        ..Faults::default()
    };
    let r = get(delta, true).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "TooManyRequests");
}

/// The sandbox's JSON batching, straight over HTTPS: inner requests answered as requests of
/// their own (links to the batch's origin, their own statuses), matched by id in whatever
/// order, a failed dependency answered 424 without running, one request at the door.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_sandbox_answers_json_batches_as_graph_does() {
    use serde_json::{json, Value};
    let sb = TestSandbox::spawn(7).await;
    let token = sb
        .state
        .issue_token_for(ProviderId::Microsoft, ACCOUNT, 3600);
    let http = sandbox_client();
    let url = format!("{}/microsoft/v1.0/$batch", sb.base);
    let post = |body: Value, token: &str| http.post(&url).bearer_auth(token).json(&body).send();
    let delta = "/me/mailFolders/inbox/messages/delta?$select=subject";
    let prefer = json!({"Prefer": "IdType=\"ImmutableId\", odata.maxpagesize=5"});
    let hits = sb.state.hits(ProviderId::Microsoft);
    let r = post(
        json!({"requests": [
            {"id": "list", "method": "GET", "url": "/me/mailFolders?$top=100"},
            {"id": "delta", "method": "GET", "url": delta, "headers": prefer, "dependsOn": ["list"]},
            {"id": "missing", "method": "GET", "url": "/me/mailFolders/nope", "dependsOn": ["delta"]},
            {"id": "after", "method": "GET", "url": "/me/mailFolders/inbox", "dependsOn": ["missing"]},
            {"id": "free", "method": "GET", "url": "/me/mailFolders/archive"}
        ]}),
        &token,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        sb.state.hits(ProviderId::Microsoft) - hits,
        1,
        "one request at the door"
    );
    let body: Value = r.json().await.unwrap();
    let parts = body["responses"].as_array().unwrap();
    let part = |id: &str| parts.iter().find(|p| p["id"] == id).unwrap().clone();
    assert_eq!(parts.len(), 5);
    assert_ne!(
        parts[0]["id"], "list",
        "no promise of order: clients match ids"
    );
    assert_eq!(part("list")["status"], 200);
    assert_eq!(part("list")["body"]["value"].as_array().unwrap().len(), 6);
    let d = part("delta");
    assert_eq!(d["status"], 200);
    assert_eq!(
        d["body"]["value"].as_array().unwrap().len(),
        5,
        "its Prefer applies"
    );
    let next = d["body"]["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/microsoft/v1.0/me/mailFolders/", sb.base)),
        "links point where the batch was sent: {next}"
    );
    let followed = http.get(next).bearer_auth(&token).send().await.unwrap();
    assert_eq!(followed.status(), 200);
    assert_eq!(part("missing")["status"], 404);
    assert_eq!(
        part("missing")["body"]["error"]["code"],
        "ErrorItemNotFound"
    );
    assert_eq!(
        part("after")["status"],
        424,
        "its dependency failed: not run"
    );
    assert_eq!(part("free")["status"], 200);

    // More than 20, an unknown dependency, a relative URL that is not: 400, nothing run.
    let many: Vec<Value> = (0..21)
        .map(|n| json!({"id": n.to_string(), "method": "GET", "url": "/me/mailFolders"}))
        .collect();
    let bad = [
        json!({ "requests": many }),
        json!({"requests": [{"id": "a", "method": "GET", "url": "/me", "dependsOn": ["b"]}]}),
        json!({"requests": [{"id": "a", "method": "GET", "url": "https://elsewhere/me"}]}),
        json!({"requests": []}),
    ];
    for b in bad {
        let r = post(b, &token).await.unwrap();
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "BadRequest");
    }
    // The batch's own token is checked.
    let r = post(
        json!({"requests": [{"id": "a", "method": "GET", "url": "/me"}]}),
        "nope",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
}
