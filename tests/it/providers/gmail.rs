//! Gmail against the sandbox: full, repeated, incremental (adds and deletions through
//! `history.list`), faulty, malformed and expired-history syncs, through the real OAuth flow,
//! PostgreSQL, Redis and in-process workers.

use crate::common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;

const ACCOUNT: &str = "jane.doe@gmail.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_full_repeat_incremental_faults_malformed_and_expired_history() {
    mail_sync_scenarios(ProviderId::Google, ACCOUNT, 31, |s| &s.google).await;
}

/// The sandbox's Gmail wire shapes, straight over HTTP (no service involved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_sandbox_speaks_gmail_wire_shapes() {
    use serde_json::Value;
    let sb = TestSandbox::spawn(5).await;
    let data = &sb.state.google;
    let token = sb.state.issue_token_for(ProviderId::Google, ACCOUNT, 3600);
    let http = sandbox_client();
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
