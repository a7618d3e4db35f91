//! The sandbox speaks Twitter's OAuth like the real server: PKCE enforced, single-use codes,
//! Basic client auth, refresh-token rotation; and its data API's limits and rate limiting.

use crate::common::*;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn no_redirects() -> reqwest::Client {
    browser()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn token_request(
    sb: &TestSandbox,
    basic: Option<&str>,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let mut r = no_redirects()
        .post(format!("{}/2/oauth2/token", sb.twitter_base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some(b) = basic {
        r = r.header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(b)
            ),
        );
    }
    r.send().await.unwrap()
}

const REDIRECT: &str = "http://127.0.0.1:8080/api/v1/oauth/twitter/callback";

async fn authorize(sb: &TestSandbox, challenge: Option<&str>) -> url::Url {
    let mut url = url::Url::parse(&format!("{}/i/oauth2/authorize", sb.twitter_base())).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", "lifesync")
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "tweet.read users.read offline.access")
            .append_pair("state", "st4te");
        if let Some(c) = challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
    }
    let r = no_redirects().get(url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitter_oauth_with_pkce_single_use_codes_and_refresh_rotation() {
    let sb = TestSandbox::spawn(1).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));

    // No PKCE: refused, back to the client with an error.
    let refused = authorize(&sb, None).await;
    assert_eq!(param(&refused, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&refused, "state").as_deref(), Some("st4te"));

    let back = authorize(&sb, Some(&challenge)).await;
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(param(&back, "state").as_deref(), Some("st4te"));
    let code = param(&back, "code").unwrap();
    let exchange = |v: &'static str, basic: Option<&'static str>| {
        let (sb, code) = (&sb, code.clone());
        async move {
            token_request(
                sb,
                basic,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", v),
                ],
            )
            .await
        }
    };
    let r = exchange(verifier, None).await;
    assert_eq!(r.status(), 401, "confidential clients must use Basic auth");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );

    let wrong = exchange("not-the-verifier", Some("lifesync:secret")).await;
    assert_eq!(wrong.status(), 400, "wrong PKCE verifier");
    // A refused exchange consumed the code: codes are single use.
    let again = exchange(verifier, Some("lifesync:secret")).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    let code = param(&authorize(&sb, Some(&challenge)).await, "code").unwrap();
    let ok = token_request(
        &sb,
        Some("lifesync:secret"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let tokens: Value = ok.json().await.unwrap();
    assert_eq!(
        (tokens["token_type"].as_str(), tokens["expires_in"].as_i64()),
        (Some("bearer"), Some(7200))
    );
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let me: Value = sandbox_client()
        .get(format!("{}/2/users/me", sb.twitter_base()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["id"], "1001");

    // Refresh rotates: the new refresh token works, the old one never again.
    let refreshed = token_request(
        &sb,
        Some("lifesync:secret"),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let rotated: Value = refreshed.json().await.unwrap();
    assert_ne!(rotated["refresh_token"].as_str().unwrap(), refresh);
    let reused = token_request(
        &sb,
        Some("lifesync:secret"),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(reused.status(), 400);
    assert_eq!(
        reused.json::<Value>().await.unwrap()["error_description"],
        "Value passed for the token was invalid."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitter_data_api_limits_pages_and_rate_limits() {
    let sb = TestSandbox::spawn(1).await;
    let token = sb.state.issue_token("1001");
    let http = sandbox_client();
    let get = |q: &str| {
        http.get(format!("{}/2/users/1001/tweets?{q}", sb.twitter_base()))
            .bearer_auth(&token)
            .send()
    };

    let r = get("max_results=1000").await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["type"],
        "https://api.twitter.com/2/problems/invalid-request"
    );

    let r = get("max_results=5").await.unwrap();
    assert_eq!(r.status(), 200);
    for h in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        assert!(r.headers().contains_key(h), "{h}");
    }
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["meta"]["result_count"], 5);
    assert!(page["data"][0]["id"].is_string(), "ids are strings");
    let newest = page["meta"]["newest_id"].as_str().unwrap().to_string();

    // since_id is exclusive: nothing newer than the newest → the empty shape.
    let empty: Value = get(&format!("since_id={newest}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(empty, serde_json::json!({ "meta": { "result_count": 0 } }));

    // Unknown token → 401 problem.
    let r = http
        .get(format!("{}/2/users/me", sb.twitter_base()))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Rate limit: 429 with the v2 problem body and a reset in the future.
    sb.state.faults.lock().unwrap().rate_limit = Some(3);
    let r = get("max_results=5").await.unwrap();
    assert_eq!(r.status(), 429);
    let reset: u64 = r.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset > now);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["title"].as_str(), body["status"].as_i64()),
        (Some("Too Many Requests"), Some(429))
    );
}
