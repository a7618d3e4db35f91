//! Connecting accounts against the sandbox, for all six providers: authorize → the provider's
//! redirect → callback → completion job → connected data source with sealed tokens; state
//! reuse, expiry, tampering and theft; PKCE mismatch; one refresh for ten concurrent callers;
//! refused refresh → `reauth_required`; key rotation; a hammered callback.

use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use crate::common::*;
use lifesync::{
    oauth::{
        state::{ManualClock, StateStore},
        tokens::{TokenError, TokenManager},
    },
    providers::ProviderId,
};
use serde_json::Value;
use uuid::Uuid;

/// Every log line written in this test process (JSON), to scan for secrets: the subscriber is
/// the process's global one, so once the first OAuth test installed it, it holds the lines of
/// every test running beside it too (more lines scanned, never fewer).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn no_redirects() -> reqwest::Client {
    browser()
}

/// The API, the sandbox and OAuth-completion workers.
struct Fixture {
    app: TestApp,
    sandbox: TestSandbox,
    stop_workers: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Fixture {
    async fn new() -> Self {
        Self::with_clock(None).await
    }

    async fn with_clock(clock: Option<ManualClock>) -> Self {
        captured_logs();
        let sandbox = TestSandbox::spawn(11).await;
        let mut oauth = sandbox_oauth(&sandbox.base);
        oauth.clock = clock.map(|c| Arc::new(c) as Arc<dyn lifesync::oauth::state::Clock>);
        let app = TestApp::spawn_with(Some(oauth)).await;
        let stop = start_queue_workers(
            &app.db.pool,
            &app.store,
            &sandbox.twitter_base(),
            100,
            &["oauth_completion"],
        );
        Self {
            app,
            sandbox,
            stop_workers: Some(stop),
        }
    }

    async fn authorize(&self, p: ProviderId, user: &str) -> url::Url {
        let r = self
            .app
            .get(
                &format!("/api/v1/oauth/{p}/authorize"),
                Some(&token(user, 3600, None)),
            )
            .await;
        assert_eq!(r.status(), 200, "{p}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["expires_in"], 600);
        url::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap()
    }

    /// Follows the authorization URL at the sandbox; returns the redirect's query string.
    async fn approve(&self, authorization_url: &url::Url) -> String {
        let r = no_redirects()
            .get(authorization_url.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let location = r.headers()["location"].to_str().unwrap();
        let back = url::Url::parse(location).unwrap();
        back.query().unwrap().to_string()
    }

    async fn callback(&self, p: ProviderId, query: &str) -> reqwest::Response {
        self.app
            .get(&format!("/api/v1/oauth/{p}/callback?{query}"), None)
            .await
    }

    /// `user`'s client application confirms the completion, then follows it to its end.
    async fn completion(&self, id: &str, user: &str) -> Value {
        let status = confirm(&self.app.http, &self.app.base, id, &token(user, 3600, None)).await;
        assert_eq!(status, 202, "confirm {id}");
        self.app.wait_completion(id, user).await
    }

    /// The whole flow for one provider; returns the connected data source's id.
    async fn connect(&self, p: ProviderId, user: &str) -> Uuid {
        let url = self.authorize(p, user).await;
        let query = self.approve(&url).await;
        let r = self.callback(p, &query).await;
        assert_eq!(r.status(), 202, "{p}");
        let body: Value = r.json().await.unwrap();
        let id = body["completion_id"].as_str().unwrap().to_string();
        assert_eq!(
            body["status_url"].as_str().unwrap(),
            format!("/api/v1/oauth/completions/{id}")
        );
        let c = self.completion(&id, user).await;
        assert_eq!(c["status"], "connected", "{p}: {c}");
        c["data_source_id"].as_str().unwrap().parse().unwrap()
    }

    fn states(&self) -> StateStore {
        StateStore::new(
            self.app.store.connection(),
            self.app.store.settings().prefix.clone(),
        )
    }

    async fn shutdown(mut self) {
        if let Some(s) = self.stop_workers.take() {
            let _ = s.send(());
        }
        self.app.shutdown().await;
    }
}

fn query_of(url: &url::Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The tokens of a source as stored, opened, and the id of the key that sealed them.
struct StoredTokens {
    access: String,
    refresh: Option<String>,
    key_id: String,
}

/// The token the sandbox issued for a provider that lifesync stored, opened.
async fn stored_tokens(pool: &sqlx::PgPool, ds: Uuid) -> StoredTokens {
    let key = token_key();
    let t = lifesync::db::tokens::load(pool, ds).await.unwrap().unwrap();
    let c = lifesync::crypto::TokenCipher::new(&key);
    let open = |s: &lifesync::crypto::Sealed| String::from_utf8(c.open(s).unwrap()).unwrap();
    StoredTokens {
        access: open(&t.access),
        refresh: t.refresh.as_ref().map(open),
        key_id: t.access.key_id.clone(),
    }
}

/// Every row of every table, as text, plus every Redis value under the test's prefix.
async fn everything_stored(f: &Fixture) -> String {
    let mut all = String::new();
    for table in [
        "users",
        "data_sources",
        "oauth_tokens",
        "sync_runs",
        "items",
    ] {
        let sql = format!("SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t");
        let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&f.app.db.pool)
            .await
            .unwrap();
        all.push_str(&text);
    }
    let mut conn = f.app.store.connection();
    let pattern = format!("*{}*", f.app.store.settings().prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await
        .unwrap();
    for k in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&k)
            .query_async(&mut conn)
            .await
            .unwrap();
        let dump: Vec<String> = match kind.as_str() {
            "string" => vec![redis::cmd("GET")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .unwrap()],
            "hash" => redis::cmd("HGETALL")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .unwrap(),
            "zset" | "set" => redis::cmd(if kind == "zset" { "ZRANGE" } else { "SMEMBERS" })
                .arg(&k)
                .arg_if(kind == "zset", 0)
                .arg_if(kind == "zset", -1)
                .query_async(&mut conn)
                .await
                .unwrap(),
            _ => vec![],
        };
        all.push_str(&k);
        all.push_str(&dump.join(" "));
    }
    all
}

trait ArgIf {
    fn arg_if(&mut self, cond: bool, v: i64) -> &mut Self;
}

impl ArgIf for redis::Cmd {
    fn arg_if(&mut self, cond: bool, v: i64) -> &mut Self {
        if cond {
            self.arg(v);
        }
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_connects_end_to_end_with_tokens_sealed_everywhere() {
    let f = Fixture::new().await;
    let expected_account = |p: ProviderId| match p {
        ProviderId::Instagram => lifesync_sandbox::instagram::ACCOUNT,
        ProviderId::Twitter => "1001",
        ProviderId::Google => lifesync_sandbox::google::ACCOUNT,
        ProviderId::Facebook => lifesync_sandbox::facebook::ACCOUNT,
        ProviderId::Linkedin => lifesync_sandbox::linkedin::ACCOUNT,
        ProviderId::Microsoft => lifesync_sandbox::microsoft::ACCOUNT,
    };
    // The authorization URLs carry each provider's real parameters.
    let u = query_of(&f.authorize(ProviderId::Google, "alice").await);
    assert_eq!(u["access_type"], "offline");
    assert_eq!(u["prompt"], "consent");
    assert_eq!(u["code_challenge_method"], "S256");
    assert!(u["scope"].contains("https://www.googleapis.com/auth/gmail.readonly"));
    let u = query_of(&f.authorize(ProviderId::Twitter, "alice").await);
    assert!(u["scope"].split(' ').any(|s| s == "offline.access"));
    assert_eq!(u["code_challenge_method"], "S256");
    let u = query_of(&f.authorize(ProviderId::Microsoft, "alice").await);
    assert!(u["scope"].split(' ').any(|s| s == "offline_access"));
    let u = query_of(&f.authorize(ProviderId::Facebook, "alice").await);
    assert!(u["scope"].contains("user_posts"));
    assert!(!u.contains_key("code_challenge"), "Meta takes no PKCE");
    let u = query_of(&f.authorize(ProviderId::Instagram, "alice").await);
    assert_eq!(u["scope"], "instagram_business_basic");
    let u = query_of(&f.authorize(ProviderId::Linkedin, "alice").await);
    assert!(u["scope"].split(' ').any(|s| s == "openid"));

    let mut secrets = Vec::new();
    for p in ProviderId::ALL {
        let ds = f.connect(p, "alice").await;
        let (account_id, status): (String, String) =
            sqlx::query_as("SELECT account_id, status FROM data_sources WHERE id = $1")
                .bind(ds)
                .fetch_one(&f.app.db.pool)
                .await
                .unwrap();
        assert_eq!(account_id, expected_account(p), "{p}");
        assert_eq!(status, "active");
        // The stored token is one the sandbox issued for this provider and account; for Meta
        // it is the long-lived one (60 days).
        let StoredTokens {
            access, refresh, ..
        } = stored_tokens(&f.app.db.pool, ds).await;
        let issued = f
            .sandbox
            .state
            .issued_tokens()
            .into_iter()
            .find(|t| t.access_token == access)
            .unwrap_or_else(|| panic!("{p}: stored token was not issued by the sandbox"));
        assert_eq!(issued.provider, p);
        assert_eq!(issued.account, expected_account(p));
        let expires_at: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT expires_at FROM oauth_tokens WHERE data_source_id = $1")
                .bind(ds)
                .fetch_one(&f.app.db.pool)
                .await
                .unwrap();
        let days = (expires_at.unwrap() - chrono::Utc::now()).num_days();
        match p {
            ProviderId::Instagram | ProviderId::Facebook | ProviderId::Linkedin => {
                assert!(days >= 59, "{p}: {days} days")
            }
            _ => assert_eq!(days, 0, "{p}"),
        }
        let expects_refresh = matches!(
            p,
            ProviderId::Twitter | ProviderId::Google | ProviderId::Microsoft
        );
        assert_eq!(refresh.is_some(), expects_refresh, "{p}");
        // The first full sync is queued with trigger `oauth`.
        let trigger: String =
            sqlx::query_scalar("SELECT trigger FROM sync_runs WHERE data_source_id = $1")
                .bind(ds)
                .fetch_one(&f.app.db.pool)
                .await
                .unwrap();
        assert_eq!(trigger, "oauth");
        secrets.push(access);
        secrets.extend(refresh);
    }
    // Reconnecting the same account updates its source instead of adding one.
    let again = f.connect(ProviderId::Google, "alice").await;
    let sources: i64 = sqlx::query_scalar("SELECT count(*) FROM data_sources")
        .fetch_one(&f.app.db.pool)
        .await
        .unwrap();
    assert_eq!(sources, 6);
    let StoredTokens {
        access, refresh, ..
    } = stored_tokens(&f.app.db.pool, again).await;
    secrets.push(access);
    secrets.extend(refresh);
    // Codes the sandbox handed out are secrets too.
    let codes: Vec<String> = f
        .sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .collect();
    assert!(!codes.is_empty());

    let stored = everything_stored(&f).await;
    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    assert!(logs.contains("account connected"), "logs are captured");
    for s in &secrets {
        let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!stored.contains(s.as_str()), "a token is stored in clear");
        assert!(!stored.contains(&hex), "a token is stored in clear (hex)");
        assert!(!logs.contains(s.as_str()), "a token reached the logs");
    }
    assert!(
        !logs.contains("-code-"),
        "an authorization code reached the logs"
    );
    assert!(
        !stored.contains("-code-"),
        "an authorization code is stored in clear"
    );

    // Disconnecting revokes where the provider offers revocation.
    let ids: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, provider FROM data_sources")
        .fetch_all(&f.app.db.pool)
        .await
        .unwrap();
    for (ds, provider) in &ids {
        let StoredTokens { access, .. } = stored_tokens(&f.app.db.pool, *ds).await;
        let r = f
            .app
            .http
            .delete(f.app.url(&format!("/api/v1/data-sources/{ds}")))
            .bearer_auth(token("alice", 3600, None))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let p = ProviderId::parse(provider).unwrap();
        let revocable = !matches!(p, ProviderId::Instagram | ProviderId::Microsoft);
        assert_eq!(
            f.sandbox.state.token_info(p, &access).is_none(),
            revocable,
            "{p}: revoked at the provider"
        );
    }
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_work_once_expire_and_resist_tampering_and_theft() {
    let clock = ManualClock::starting_now();
    let f = Fixture::with_clock(Some(clock.clone())).await;
    let p = ProviderId::Twitter;
    let code_of = |r: reqwest::Response| async move { error_code(r).await };

    // Reuse: the second callback with the same state is refused.
    let query = f.approve(&f.authorize(p, "alice").await).await;
    assert_eq!(f.callback(p, &query).await.status(), 202);
    assert_eq!(code_of(f.callback(p, &query).await).await, "invalid_state");

    // Tampering: one character changed.
    let url = f.authorize(p, "alice").await;
    let query = f.approve(&url).await;
    let state = query_of(&url)["state"].clone();
    let mut forged = state.clone().into_bytes();
    forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let tampered = query.replace(&state, &forged);
    assert_eq!(
        code_of(f.callback(p, &tampered).await).await,
        "invalid_state"
    );

    // Another provider's callback.
    let query = f.approve(&f.authorize(p, "alice").await).await;
    let r = f.callback(ProviderId::Google, &query).await;
    assert_eq!(code_of(r).await, "invalid_state");

    // Another user's state: bob, signed in, presents alice's redirect.
    let query = f.approve(&f.authorize(p, "alice").await).await;
    let r = f
        .app
        .http
        .get(f.app.url(&format!("/api/v1/oauth/{p}/callback?{query}")))
        .bearer_auth(token("bob", 3600, None))
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await, "invalid_state");

    // Expiry: ten minutes and a second later.
    let query = f.approve(&f.authorize(p, "alice").await).await;
    clock.advance(Duration::from_secs(601));
    assert_eq!(code_of(f.callback(p, &query).await).await, "invalid_state");

    // The provider's refusal: 400 oauth_denied, and the state is spent.
    let mut url = f.authorize(p, "alice").await;
    url.query_pairs_mut().append_pair("sandbox_deny", "1");
    let query = f.approve(&url).await;
    assert!(query.contains("error=access_denied"));
    assert_eq!(code_of(f.callback(p, &query).await).await, "oauth_denied");
    let state = query_of(&url)["state"].clone();
    let reuse = format!("code=x&state={state}");
    assert_eq!(code_of(f.callback(p, &reuse).await).await, "invalid_state");

    // Missing state.
    assert_eq!(
        code_of(f.callback(p, "code=abc").await).await,
        "invalid_state"
    );
    // Unknown provider.
    let r = f.callback_raw("myspace", "code=abc&state=x").await;
    assert_eq!(r.status(), 404);

    // Completions are private; stats are for admins.
    let query = f.approve(&f.authorize(p, "alice").await).await;
    let body: Value = f.callback(p, &query).await.json().await.unwrap();
    let id = body["completion_id"].as_str().unwrap();
    let r = f
        .app
        .get(
            &format!("/api/v1/oauth/completions/{id}"),
            Some(&token("bob", 3600, None)),
        )
        .await;
    assert_eq!(r.status(), 404);
    let before = f.admin_stats().await;
    f.authorize(p, "alice").await;
    f.authorize(ProviderId::Facebook, "alice").await;
    let stats = f.admin_stats().await;
    assert_eq!(
        stats["active_states"].as_u64().unwrap(),
        before["active_states"].as_u64().unwrap() + 2
    );
    assert_eq!(
        stats["active_pkce_verifiers"].as_u64().unwrap(),
        before["active_pkce_verifiers"].as_u64().unwrap() + 1,
        "Facebook takes no PKCE verifier"
    );
    let r = f
        .app
        .get(
            "/api/v1/admin/oauth/stats",
            Some(&token("alice", 3600, None)),
        )
        .await;
    assert_eq!(r.status(), 403);
    // Expired states stop counting.
    clock.advance(Duration::from_secs(601));
    let after = f.admin_stats().await;
    assert_eq!(after["active_states"], 0);
    assert_eq!(after["active_pkce_verifiers"], 0);
    f.shutdown().await;
}

impl Fixture {
    async fn admin_stats(&self) -> Value {
        let r = self
            .app
            .get(
                "/api/v1/admin/oauth/stats",
                Some(&token("op", 3600, Some("admin"))),
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn callback_raw(&self, provider: &str, query: &str) -> reqwest::Response {
        self.app
            .get(&format!("/api/v1/oauth/{provider}/callback?{query}"), None)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pkce_mismatch_ends_failed_with_the_providers_error() {
    let f = Fixture::new().await;
    let mut url = f.authorize(ProviderId::Twitter, "alice").await;
    // The browser reaches the provider with another challenge than ours.
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code_challenge" {
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let query = f.approve(&url).await;
    let r = f.callback(ProviderId::Twitter, &query).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let c = f
        .completion(body["completion_id"].as_str().unwrap(), "alice")
        .await;
    assert_eq!(c["status"], "failed");
    let error = c["error"].as_str().unwrap();
    assert!(
        error.contains("invalid_request") && error.contains("authorization code was invalid"),
        "{error}"
    );
    let sources: i64 = sqlx::query_scalar("SELECT count(*) FROM data_sources")
        .fetch_one(&f.app.db.pool)
        .await
        .unwrap();
    assert_eq!(sources, 0);
    // Exactly one exchange was attempted: a used code does not loop.
    let exchanges = f
        .sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.as_str() == "twitter token grant_type=authorization_code")
        .count();
    assert_eq!(exchanges, 1);
    f.shutdown().await;
}

fn manager<'a>(
    f: &'a Fixture,
    states: &'a StateStore,
    apps: &'a lifesync::oauth::apps::ProviderApps,
    key: &'a lifesync::crypto::TokenKey,
) -> TokenManager<'a> {
    TokenManager {
        pool: &f.app.db.pool,
        apps,
        key,
        states,
    }
}

fn refresh_requests(f: &Fixture, p: ProviderId) -> usize {
    f.sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| **r == format!("{p} token grant_type=refresh_token"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_callers_needing_a_refresh_cause_one_refresh_request() {
    let f = Fixture::new().await;
    let ds = f.connect(ProviderId::Twitter, "alice").await;
    let StoredTokens {
        access: old_access,
        refresh: old_refresh,
        ..
    } = stored_tokens(&f.app.db.pool, ds).await;
    let apps = sandbox_apps(&f.sandbox.base);
    let key = token_key();
    // Ten callers, each with its own Redis connection, as ten worker processes would have.
    let mut callers = Vec::new();
    for _ in 0..10 {
        let states = StateStore::new(
            lifesync_jobs::Store::connect(
                lifesync_jobs::RedisSettings::new("redis://127.0.0.1:6379"),
                lifesync_jobs::QueueSettings::new(f.app.store.settings().prefix.clone()),
            )
            .await
            .unwrap()
            .connection(),
            f.app.store.settings().prefix.clone(),
        );
        callers.push(states);
    }
    let results = futures::future::join_all(callers.iter().map(|states| {
        let m = manager(&f, states, &apps, &key);
        let old = old_access.clone();
        async move { m.after_unauthorized(ds, ProviderId::Twitter, &old).await }
    }))
    .await;
    let tokens: Vec<String> = results.into_iter().map(|r| r.unwrap()).collect();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "all use one new token"
    );
    assert_ne!(tokens[0], old_access);
    assert_eq!(refresh_requests(&f, ProviderId::Twitter), 1);
    // The rotated refresh token was saved with the new access token.
    let StoredTokens {
        access, refresh, ..
    } = stored_tokens(&f.app.db.pool, ds).await;
    assert_eq!(access, tokens[0]);
    assert_ne!(refresh, old_refresh);
    // Shortly before expiry, asking for a token renews it (once).
    sqlx::query("UPDATE oauth_tokens SET expires_at = now() + interval '1 minute'")
        .execute(&f.app.db.pool)
        .await
        .unwrap();
    let m = manager(&f, &callers[0], &apps, &key);
    let renewed = m.access_token(ds, ProviderId::Twitter).await.unwrap();
    assert_ne!(renewed, access);
    assert_eq!(
        m.access_token(ds, ProviderId::Twitter).await.unwrap(),
        renewed
    );
    assert_eq!(refresh_requests(&f, ProviderId::Twitter), 2);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_makes_the_source_reauth_required() {
    let f = Fixture::new().await;
    let ds = f.connect(ProviderId::Microsoft, "alice").await;
    let StoredTokens { access, .. } = stored_tokens(&f.app.db.pool, ds).await;
    // The grant dies at the provider (say the user revoked it): a refresh token it does not know.
    let key = token_key();
    let cipher = lifesync::crypto::TokenCipher::new(&key);
    sqlx::query("UPDATE oauth_tokens SET refresh_token_enc = $1")
        .bind(cipher.seal(b"microsoft-rt-revoked").bytes)
        .execute(&f.app.db.pool)
        .await
        .unwrap();
    let apps = sandbox_apps(&f.sandbox.base);
    let states = f.states();
    let m = manager(&f, &states, &apps, &key);
    let err = m
        .after_unauthorized(ds, ProviderId::Microsoft, &access)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Reauth(_)), "{err}");
    let r = f
        .app
        .get(
            &format!("/api/v1/data-sources/{ds}"),
            Some(&token("alice", 3600, None)),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "reauth_required");
    assert!(
        body["last_sync_error"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{body}"
    );
    // The scheduler's query no longer sees it.
    let active = lifesync::db::data_sources::active_ids_after(&f.app.db.pool, None, 10)
        .await
        .unwrap();
    assert!(!active.contains(&ds));
    // Connecting the account again makes it active.
    f.connect(ProviderId::Microsoft, "alice").await;
    let status: String = sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1")
        .bind(ds)
        .fetch_one(&f.app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_sealed_under_a_previous_key_open_and_move_to_the_new_key_on_write() {
    let f = Fixture::new().await;
    let ds = f.connect(ProviderId::Google, "alice").await;
    let StoredTokens {
        access,
        key_id: old_key_id,
        ..
    } = stored_tokens(&f.app.db.pool, ds).await;
    let apps = sandbox_apps(&f.sandbox.base);
    let states = f.states();
    let new_b64 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    let new_only = lifesync::crypto::TokenKey::from_base64(new_b64).unwrap();
    // Without the previous key, the old rows do not open.
    let m = manager(&f, &states, &apps, &new_only);
    assert!(matches!(
        m.access_token(ds, ProviderId::Google).await,
        Err(TokenError::Reauth(_))
    ));
    // With it, they do; the next write seals under the new key.
    let rotated = new_only.clone().with_previous(vec![token_key()]);
    let m = manager(&f, &states, &apps, &rotated);
    assert_eq!(
        m.access_token(ds, ProviderId::Google).await.unwrap(),
        access
    );
    let renewed = m
        .after_unauthorized(ds, ProviderId::Google, &access)
        .await
        .unwrap();
    let key_id: String =
        sqlx::query_scalar("SELECT key_id FROM oauth_tokens WHERE data_source_id = $1")
            .bind(ds)
            .fetch_one(&f.app.db.pool)
            .await
            .unwrap();
    assert_eq!(key_id, rotated.key_id);
    assert_ne!(key_id, old_key_id);
    assert_eq!(
        m.access_token(ds, ProviderId::Google).await.unwrap(),
        renewed
    );
    // Google does not rotate refresh tokens: the old one, re-sealed, still works.
    let again = m
        .after_unauthorized(ds, ProviderId::Google, &renewed)
        .await
        .unwrap();
    assert_ne!(again, renewed);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_random_states_are_all_refused_and_nothing_is_enqueued() {
    let f = Fixture::new().await;
    let client = sandbox_client();
    let urls: Vec<String> = (0..1000)
        .map(|i| {
            let p = ProviderId::ALL[i % 6];
            f.app.url(&format!(
                "/api/v1/oauth/{p}/callback?code=c{i}&state={}",
                StateStore::random_state()
            ))
        })
        .collect();
    use futures::StreamExt;
    let statuses: Vec<(u16, String)> = futures::stream::iter(urls)
        .map(|u| {
            let client = client.clone();
            async move {
                let r = client.get(u).send().await.unwrap();
                let status = r.status().as_u16();
                (status, error_code(r).await)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(statuses.len(), 1000);
    assert!(statuses
        .iter()
        .all(|(s, c)| *s == 400 && c == "invalid_state"));
    let stats = f.app.store.stats("oauth_completion").await.unwrap();
    assert_eq!(
        (
            stats.pending,
            stats.scheduled,
            stats.running,
            stats.succeeded
        ),
        (0, 0, 0, 0)
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instagram_long_lived_tokens_renew_themselves_after_a_day() {
    let f = Fixture::new().await;
    let ds = f.connect(ProviderId::Instagram, "alice").await;
    let StoredTokens { access, .. } = stored_tokens(&f.app.db.pool, ds).await;
    let apps = sandbox_apps(&f.sandbox.base);
    let states = f.states();
    let key = token_key();
    let m = manager(&f, &states, &apps, &key);
    // Five days left: due for renewal, and the sandbox's token is 55 days old.
    sqlx::query("UPDATE oauth_tokens SET expires_at = now() + interval '5 days'")
        .execute(&f.app.db.pool)
        .await
        .unwrap();
    f.sandbox
        .state
        .advance_clock(Duration::from_secs(55 * 86_400));
    let renewed = m.access_token(ds, ProviderId::Instagram).await.unwrap();
    assert_ne!(renewed, access);
    let requests = f.sandbox.state.requests.lock().unwrap().clone();
    assert!(requests
        .iter()
        .any(|r| r == "instagram token grant_type=ig_refresh_token"));
    let expires_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT expires_at FROM oauth_tokens WHERE data_source_id = $1")
            .bind(ds)
            .fetch_one(&f.app.db.pool)
            .await
            .unwrap();
    assert!((expires_at - chrono::Utc::now()).num_days() >= 59);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_exchange_failure_retries_once_and_ends_failed_with_the_providers_error() {
    let f = Fixture::new().await;
    // The provider redeems the code, then the reply is lost (503).
    f.sandbox
        .state
        .faults
        .lock()
        .unwrap()
        .token_fail_after_redeem = 1;
    let query = f
        .approve(&f.authorize(ProviderId::Google, "alice").await)
        .await;
    let body: Value = f
        .callback(ProviderId::Google, &query)
        .await
        .json()
        .await
        .unwrap();
    let c = f
        .completion(body["completion_id"].as_str().unwrap(), "alice")
        .await;
    assert_eq!(c["status"], "failed");
    assert!(
        c["error"].as_str().unwrap().starts_with("invalid_grant"),
        "{c}"
    );
    let exchanges = f
        .sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.as_str() == "google token grant_type=authorization_code")
        .count();
    assert_eq!(
        exchanges, 2,
        "one retry, then the provider's refusal ends it"
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_authentication_follows_configuration_and_success_can_redirect() {
    let sandbox = TestSandbox::spawn(3).await;
    let base = url::Url::parse(&sandbox.base).unwrap();
    let mut configs = std::collections::BTreeMap::new();
    // Google's server takes either method: use client_secret_basic.
    let mut google = lifesync::sandbox_link::provider_config(
        ProviderId::Google,
        &base,
        redirect_uri(ProviderId::Google),
    );
    google.token_auth = Some(lifesync::domain::ClientAuth::Basic);
    configs.insert(ProviderId::Google, google);
    // Twitter's requires Basic: client_secret_post is refused with its real error.
    let mut twitter = lifesync::sandbox_link::provider_config(
        ProviderId::Twitter,
        &base,
        redirect_uri(ProviderId::Twitter),
    );
    twitter.token_auth = Some(lifesync::domain::ClientAuth::Post);
    configs.insert(ProviderId::Twitter, twitter);
    let apps = Arc::new(lifesync::oauth::apps::ProviderApps::new(
        &configs,
        sandbox_client(),
    ));
    captured_logs();
    let app = TestApp::spawn_with(Some(lifesync::api::OAuthSetup {
        apps: apps.clone(),
        token_key: token_key(),
        success_redirect: Some(url::Url::parse("https://app.example/connected").unwrap()),
        clock: None,
    }))
    .await;
    let deps = worker_deps(&app.db.pool, &app.store, apps, 100);
    let (stop, _workers) = run_workers(&app.store, deps, &["oauth_completion"], 2);
    let f = Fixture {
        app,
        sandbox,
        stop_workers: Some(stop),
    };
    let mut outcomes = Vec::new();
    for p in [ProviderId::Google, ProviderId::Twitter] {
        let query = f.approve(&f.authorize(p, "alice").await).await;
        let r = no_redirects()
            .get(f.app.url(&format!("/api/v1/oauth/{p}/callback?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(location.path(), "/connected");
        let id = query_of(&location)["completion_id"].clone();
        outcomes.push(f.completion(&id, "alice").await);
    }
    assert_eq!(outcomes[0]["status"], "connected", "{}", outcomes[0]);
    assert_eq!(outcomes[1]["status"], "failed");
    assert_eq!(
        outcomes[1]["error"],
        "unauthorized_client: Missing valid authorization header"
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_unconfigured_providers_answer_clearly() {
    let app = TestApp::spawn().await;
    let alice = token("alice", 3600, None);
    let r = app
        .get("/api/v1/oauth/twitter/authorize", Some(&alice))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(r).await, "provider_not_configured");
    let r = app
        .get("/api/v1/oauth/myspace/authorize", Some(&alice))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "unknown_provider");
    let r = app.get("/api/v1/oauth/twitter/authorize", None).await;
    assert_eq!(r.status(), 401);
    app.shutdown().await;
}

/// The attack of RFC 9700 §4.7 ("CSRF" on the redirect): mallory starts connecting an account
/// and gets the victim to approve it at the provider (a link: "connect your mail to get …").
/// Whether the victim is signed in to the client application or not, mallory gains no source,
/// no item and no completion, and the provider never even sees a code exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_started_by_one_user_and_finished_by_another_gives_the_starter_nothing() {
    let f = Fixture::new().await;
    let victim = token("victim", 3600, None);
    let mallory = token("mallory", 3600, None);
    for (i, p) in ProviderId::ALL.into_iter().enumerate() {
        let mut url = f.authorize(p, "mallory").await;
        url.query_pairs_mut()
            .append_pair("sandbox_account", "victim-account");
        let query = f.approve(&url).await;
        let callback = format!("/api/v1/oauth/{p}/callback?{query}");
        if i % 2 == 0 {
            // The victim is signed in to the client application: her bearer token comes along.
            let r = f.app.get(&callback, Some(&victim)).await;
            assert_eq!(error_code(r).await, "invalid_state", "{p}");
            continue;
        }
        // Not signed in: the completion id reaches the victim's browser only.
        let r = f.app.get(&callback, None).await;
        assert_eq!(r.status(), 202, "{p}");
        let body: Value = r.json().await.unwrap();
        let id = body["completion_id"].as_str().unwrap().to_string();
        let status = f
            .app
            .get(&format!("/api/v1/oauth/completions/{id}"), Some(&victim))
            .await
            .status();
        assert_eq!(
            status, 404,
            "{p}: the victim sees no completion of mallory's"
        );
        // Her client application confirms it with her token: refused, and discarded.
        assert_eq!(confirm(&f.app.http, &f.app.base, &id, &victim).await, 404);
        // Even had mallory learned the id afterwards, there is nothing left to confirm.
        assert_eq!(confirm(&f.app.http, &f.app.base, &id, &mallory).await, 404);
        let r = f
            .app
            .get(&format!("/api/v1/oauth/completions/{id}"), Some(&mallory))
            .await;
        assert_eq!(r.status(), 404, "{p}: discarded");
    }
    // Give a wrongly queued exchange every chance to run.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (sources,): (i64,) = sqlx::query_as("SELECT count(*) FROM data_sources")
        .fetch_one(&f.app.db.pool)
        .await
        .unwrap();
    let (items,): (i64,) = sqlx::query_as("SELECT count(*) FROM items")
        .fetch_one(&f.app.db.pool)
        .await
        .unwrap();
    assert_eq!((sources, items), (0, 0));
    assert!(
        f.sandbox.state.issued_tokens().is_empty(),
        "a code was exchanged"
    );
    let q = f.app.store.stats("oauth_completion").await.unwrap();
    assert_eq!(
        q.pending + q.scheduled + q.running + q.retrying + q.dead + q.succeeded,
        0,
        "no code-exchange job was ever queued: {q:?}"
    );
    let r = f.app.get("/api/v1/data-sources", Some(&mallory)).await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list.as_array().map_or(0, Vec::len), 0, "{list}");
}

/// The legitimate browser flow parks the completion until its client confirms, for no longer
/// than an OAuth state lives; a native client posts `{code, state}` with its JWT instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_wait_for_confirmation_and_native_clients_post_the_code() {
    let f = Fixture::new().await;
    let p = ProviderId::Google;
    let query = f.approve(&f.authorize(p, "alice").await).await;
    let body: Value = f.callback(p, &query).await.json().await.unwrap();
    let id = body["completion_id"].as_str().unwrap().to_string();
    let alice = token("alice", 3600, None);
    let c: Value = f
        .app
        .get(&format!("/api/v1/oauth/completions/{id}"), Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["status"], "awaiting_confirmation");
    // Nothing is exchanged before the confirmation; the record lives as long as a state.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(f.sandbox.state.issued_tokens().is_empty());
    let mut conn = f.app.store.connection();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!(
            "{{{}:oauth}}:tmp:completion:{id}",
            f.app.store.settings().prefix
        ))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 600_000, "ttl {ttl}");
    assert_eq!(f.completion(&id, "alice").await["status"], "connected");
    // A second confirmation changes nothing.
    assert_eq!(confirm(&f.app.http, &f.app.base, &id, &alice).await, 202);

    // Native: the code and state posted with the starter's JWT; anyone else's is refused.
    for (user, expected) in [("bob", 400), ("alice", 202)] {
        let query = f
            .approve(&f.authorize(ProviderId::Twitter, "alice").await)
            .await;
        let q = query_of(&url::Url::parse(&format!("http://x/?{query}")).unwrap());
        let body = serde_json::json!({"code": q["code"], "state": q["state"]}).to_string();
        let r = f
            .app
            .post_json(
                "/api/v1/oauth/twitter/callback",
                &token(user, 3600, None),
                &body,
            )
            .await;
        assert_eq!(r.status(), expected, "{user}");
        if expected == 202 {
            let body: Value = r.json().await.unwrap();
            let id = body["completion_id"].as_str().unwrap();
            assert_eq!(f.completion(id, "alice").await["status"], "connected");
        } else {
            assert_eq!(error_code(r).await, "invalid_state");
        }
    }
}
