//! Gmail against the sandbox: full, repeated, incremental (adds and deletions through
//! `history.list`), faulty, malformed and expired-history syncs, through the real OAuth flow,
//! PostgreSQL, Redis and in-process workers.

mod common;

use common::*;
use lifesync::{providers::ProviderId, sandbox::Faults};

const ACCOUNT: &str = "jane.doe@gmail.com";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_full_repeat_incremental_faults_malformed_and_expired_history() {
    let h = SyncHarness::new(31, 25).await;
    let data = &h.sandbox.state.google;
    // Full sync (the first, started by connecting): exactly the sandbox's messages.
    let (ds, first) = h.connect(ProviderId::Google, "alice", ACCOUNT).await;
    assert_eq!(first.0, "succeeded", "{first:?}");
    let expected = sorted(data.ids(ACCOUNT));
    assert!(expected.len() >= 120);
    assert_eq!(h.live_ids(ds).await, expected);
    assert_eq!(first.1 as usize, expected.len());

    // A second full sync adds no rows.
    let again = h.sync(ds, "alice", "full").await;
    assert_eq!((again.0.as_str(), again.2), ("succeeded", 0), "{again:?}");
    assert_eq!(h.stored(ds).await.len(), expected.len());

    // 6 new messages and 4 deleted: an incremental sync fetches exactly the new ones and
    // marks exactly the deleted ones.
    let added = data.add(ACCOUNT, 6);
    let deleted = data.delete(ACCOUNT, 4);
    assert_eq!((added.len(), deleted.len()), (6, 4));
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 6, 6),
        "{inc:?}"
    );
    let all = sorted(data.ids(ACCOUNT));
    assert_eq!(h.live_ids(ds).await, all);
    let gone: Vec<String> = h
        .stored(ds)
        .await
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(gone, sorted(deleted));
    // Nothing changed since: nothing fetched.
    let quiet = h.sync(ds, "alice", "incremental").await;
    assert_eq!((quiet.0.as_str(), quiet.1), ("succeeded", 0), "{quiet:?}");

    // 30 % 5xx and a throttling reply (403 or 429) every 4th request: same result, no duplicate.
    h.set_faults(Faults {
        fail_ratio: 0.3,
        throttle_every: 4,
        ..Faults::default()
    });
    let faulty = h.sync(ds, "alice", "full").await;
    assert_eq!(
        (faulty.0.as_str(), faulty.2),
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
    assert_eq!(broken.0, "failed");
    assert!(
        broken.4.as_deref().unwrap().contains("malformed"),
        "{broken:?}"
    );
    assert_eq!(h.live_ids(ds).await, all, "nothing partial or wrong stored");
    let fixed = h.sync(ds, "alice", "full").await;
    assert_eq!((fixed.0.as_str(), fixed.2), ("succeeded", 0), "{fixed:?}");

    // History too old (404): the incremental run falls back to a full sync and still ends
    // with exactly the sandbox's messages.
    h.set_faults(Faults {
        expire_cursors: true,
        ..Faults::default()
    });
    let more = data.add(ACCOUNT, 3);
    let expired = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (expired.0.as_str(), expired.2),
        ("succeeded", 3),
        "{expired:?}"
    );
    assert_eq!(expired.1 as usize, all.len() + more.len());
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(ACCOUNT)));
    // The fallback stored a fresh history id: incremental works again.
    h.set_faults(Faults::default());
    let newer = data.add(ACCOUNT, 2);
    let inc = h.sync(ds, "alice", "incremental").await;
    assert_eq!(
        (inc.0.as_str(), inc.1, inc.2),
        ("succeeded", 2, 2),
        "{inc:?}"
    );
    assert!(newer.iter().all(|id| data.ids(ACCOUNT).contains(id)));
    assert_eq!(h.live_ids(ds).await, sorted(data.ids(ACCOUNT)));
    h.shutdown().await;
}

/// The sandbox's Gmail wire shapes, straight over HTTP (no service involved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_sandbox_speaks_gmail_wire_shapes() {
    use serde_json::Value;
    let sb = TestSandbox::spawn(5).await;
    let data = &sb.state.google;
    let token = sb.state.issue_token_for(ProviderId::Google, ACCOUNT, 3600);
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{}/google/gmail/v1/users/me{path}", sb.base))
            .bearer_auth(&token)
            .send()
    };
    let json = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    };

    // Profile: the history id is a string.
    let (_, p) = json(get("/profile".into()).await.unwrap()).await;
    assert_eq!(p["emailAddress"], ACCOUNT);
    let h0 = p["historyId"].as_str().unwrap().to_string();

    // maxResults above 500 is clamped, not refused; ids only, newest first.
    let ids = data.ids(ACCOUNT);
    let (s, l) = json(get("/messages?maxResults=1000".into()).await.unwrap()).await;
    assert_eq!(s, 200);
    let listed = l["messages"].as_array().unwrap();
    assert_eq!(listed.len(), ids.len());
    assert!(l.get("nextPageToken").is_none());
    assert_eq!(
        listed[0].as_object().unwrap().len(),
        2,
        "id and threadId only"
    );
    // Paging.
    let (_, l) = json(get("/messages?maxResults=50".into()).await.unwrap()).await;
    let t = l["nextPageToken"].as_str().unwrap().to_string();
    let (_, l2) = json(
        get(format!("/messages?maxResults=50&pageToken={t}"))
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(l["messages"][0]["id"], l2["messages"][0]["id"]);

    // metadata: only the asked headers, string internalDate/historyId, no bodies.
    let id = listed[0]["id"].as_str().unwrap();
    let (_, m) = json(
        get(format!(
            "/messages/{id}?format=metadata&metadataHeaders=From&metadataHeaders=Subject"
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(m["payload"]["headers"].as_array().unwrap().len(), 2);
    assert!(m["internalDate"].as_str().unwrap().parse::<i64>().is_ok());
    assert!(m["historyId"].is_string());
    assert!(m["payload"].get("parts").is_none());
    // full: base64url text/html part.
    let (_, f) = json(get(format!("/messages/{id}?format=full")).await.unwrap()).await;
    let parts = f["payload"]["parts"].as_array().unwrap();
    assert!(parts.iter().any(|p| p["mimeType"] == "text/html"
        && p["body"]["data"]
            .as_str()
            .is_some_and(|d| !d.contains('+') && !d.contains('/'))));
    // Some messages carry schema.org JSON-LD reservations.
    let marked = ids
        .iter()
        .filter(|id| {
            data.email(ACCOUNT, id)
                .unwrap()
                .html
                .contains("application/ld+json")
        })
        .count();
    assert!(marked >= 20, "{marked}");
    // Every category, PII in the text, non-ASCII subjects.
    let emails: Vec<_> = ids
        .iter()
        .map(|id| data.email(ACCOUNT, id).unwrap())
        .collect();
    let mut categories: Vec<&str> = emails.iter().map(|e| e.category).collect();
    categories.sort();
    categories.dedup();
    assert_eq!(
        categories,
        [
            "BOOKING",
            "EVENT_TICKET",
            "OTHER",
            "PERSONAL",
            "PROFESSIONAL",
            "TRAVEL_FLIGHT",
            "TRAVEL_HOTEL"
        ]
    );
    for needle in [
        "4111 1111 1111",
        "123-45-6789",
        "+1 415 555",
        "@acme-corp.com",
    ] {
        assert!(emails.iter().any(|e| e.text.contains(needle)), "{needle}");
    }
    for needle in ["予約確認", "Buchungsbestätigung", "réservation", "🎶"] {
        assert!(
            emails.iter().any(|e| e.subject.contains(needle)),
            "{needle}"
        );
    }

    // History: unchanged → no `history` key; changes → records; too old → 404.
    let (s, hs) = json(get(format!("/history?startHistoryId={h0}")).await.unwrap()).await;
    assert_eq!(s, 200);
    assert!(hs.get("history").is_none());
    assert_eq!(hs["historyId"], h0.as_str());
    data.add(ACCOUNT, 2);
    data.delete(ACCOUNT, 1);
    let (_, hs) = json(
        get(format!(
            "/history?startHistoryId={h0}&historyTypes=messageAdded&historyTypes=messageDeleted"
        ))
        .await
        .unwrap(),
    )
    .await;
    let records = hs["history"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.get("messagesDeleted").is_some())
            .count(),
        1
    );
    assert!(hs["historyId"].as_str().unwrap().parse::<u64>().unwrap() > h0.parse().unwrap());
    let old = h0.parse::<u64>().unwrap() - 1;
    let (s, e) = json(get(format!("/history?startHistoryId={old}")).await.unwrap()).await;
    assert_eq!(
        (s, e["error"]["errors"][0]["reason"].as_str()),
        (404, Some("notFound"))
    );

    // Batch: per-part status, in order.
    let body = format!(
        "--xyz\r\nContent-Type: application/http\r\nContent-ID: <item0>\r\n\r\nGET /gmail/v1/users/me/messages/{id}?format=minimal HTTP/1.1\r\n\r\n\
         --xyz\r\nContent-Type: application/http\r\nContent-ID: <item1>\r\n\r\nGET /gmail/v1/users/me/messages/ffffffffffffffff HTTP/1.1\r\n\r\n--xyz--\r\n"
    );
    let r = http
        .post(format!("{}/google/batch/gmail/v1", sb.base))
        .bearer_auth(&token)
        .header("content-type", "multipart/mixed; boundary=xyz")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("multipart/mixed; boundary="));
    let text = r.text().await.unwrap();
    let ok = text.find("HTTP/1.1 200 OK").unwrap();
    let missing = text.find("HTTP/1.1 404 Not Found").unwrap();
    assert!(ok < missing && text.contains("<response-item1>"));

    // Throttling both ways; no token → 401.
    *sb.state.faults.lock().unwrap() = Faults {
        throttle_every: 1,
        ..Faults::default()
    };
    let r = get("/profile".into()).await.unwrap();
    assert!(r.headers().get("retry-after").is_some());
    let (s, e) = json(r).await;
    assert_eq!(
        (s, e["error"]["errors"][0]["reason"].as_str()),
        (429, Some("rateLimitExceeded"))
    );
    let (s, e) = json(get("/profile".into()).await.unwrap()).await;
    assert_eq!(
        (s, e["error"]["errors"][0]["reason"].as_str()),
        (403, Some("userRateLimitExceeded"))
    );
    *sb.state.faults.lock().unwrap() = Faults::default();
    let r = http
        .get(format!("{}/google/gmail/v1/users/me/messages", sb.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
