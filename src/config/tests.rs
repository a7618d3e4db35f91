//! The configuration's rules, variable by variable.

use super::*;
use crate::domain::ClientAuth;
use std::collections::HashMap;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let m: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_env(&|k| m.get(k).cloned())
}

fn var_of(vars: &[(&str, &str)]) -> String {
    load(vars).unwrap_err().var
}

#[test]
fn scopes_and_the_linkedin_version_are_read_and_checked() {
    let li = [
        ("LINKEDIN_CLIENT_ID", "id"),
        ("LINKEDIN_CLIENT_SECRET", "s"),
        ("LINKEDIN_REDIRECT_URI", "https://x.example/cb"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = li.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let c = load(&li).unwrap();
    let l = &c.providers[&ProviderId::Linkedin];
    assert_eq!((l.scopes.as_ref(), l.api_version.as_ref()), (None, None));
    let c = load(&with(&[
        ("LINKEDIN_SCOPES", " openid  profile email r_member_social "),
        ("LINKEDIN_API_VERSION", "202611"),
    ]))
    .unwrap();
    let l = &c.providers[&ProviderId::Linkedin];
    assert_eq!(
        l.scopes.as_deref().unwrap(),
        ["openid", "profile", "email", "r_member_social"]
    );
    assert_eq!(l.api_version.as_deref(), Some("202611"));
    for bad in ["2026-11", "202613", "20261", "v202611"] {
        let v = with(&[("LINKEDIN_API_VERSION", bad)]);
        assert_eq!(var_of(&v), "LINKEDIN_API_VERSION", "{bad}");
    }
    // Every provider reads its own {P}_SCOPES.
    let c = load(&[
        ("GOOGLE_CLIENT_ID", "id"),
        ("GOOGLE_CLIENT_SECRET", "s"),
        ("GOOGLE_REDIRECT_URI", "https://x.example/cb"),
        ("GOOGLE_SCOPES", "openid email"),
    ])
    .unwrap();
    assert_eq!(
        c.providers[&ProviderId::Google].scopes.as_deref().unwrap(),
        ["openid", "email"]
    );
    assert_eq!(
        var_of(&[("SYNC_THROTTLE_BACKOFF_SECONDS", "0")]),
        "SYNC_THROTTLE_BACKOFF_SECONDS"
    );
    let q = load(&[("SYNC_THROTTLE_BACKOFF_SECONDS", "5")])
        .unwrap()
        .queue_settings();
    assert_eq!(q.throttle.base, std::time::Duration::from_secs(5));
}

#[test]
fn defaults_are_the_contracts() {
    let c = load(&[]).unwrap();
    assert_eq!(c.database.url, DatabaseConfig::DEFAULT_URL);
    assert_eq!(c.redis.settings.url, "redis://localhost:6379/0");
    assert_eq!(c.redis.key_prefix, "lifesync");
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 8080));
    assert_eq!(c.daily_schedule.expression, "0 3 * * *");
    assert_eq!(c.incremental_schedule.expression, "0 */6 * * *");
    assert_eq!(c.sync_batch_size, 100);
    assert!(c.providers.is_empty(), "providers are disabled when unset");
    assert_eq!(c.require_web().unwrap_err().var, "JWT_SECRET");
}

#[test]
fn api_limits() {
    let c = load(&[]).unwrap();
    assert_eq!(
        (c.api_max_body_bytes, c.api_rate_limit_per_minute),
        (65_536, 600)
    );
    let c = load(&[
        ("API_MAX_BODY_BYTES", "1024"),
        ("API_RATE_LIMIT_PER_MINUTE", "5"),
    ])
    .unwrap();
    assert_eq!(
        (c.api_max_body_bytes, c.api_rate_limit_per_minute),
        (1024, 5)
    );
    for (var, value) in [
        ("API_MAX_BODY_BYTES", "0"),
        ("API_MAX_BODY_BYTES", "64k"),
        ("API_RATE_LIMIT_PER_MINUTE", "0"),
        ("API_RATE_LIMIT_PER_MINUTE", "-1"),
    ] {
        assert_eq!(var_of(&[(var, value)]), var, "{var}={value}");
    }
}

#[test]
fn redis_parts_and_url() {
    let c = load(&[
        ("REDIS_HOST", "r"),
        ("REDIS_PASSWORD", "p@ss"),
        ("REDIS_DB", "2"),
    ])
    .unwrap();
    assert_eq!(c.redis.settings.url, "redis://:p%40ss@r:6379/2");
    let c = load(&[("REDIS_URL", "redis://x:1/3"), ("REDIS_HOST", "ignored")]).unwrap();
    assert_eq!(c.redis.settings.url, "redis://x:1/3");
}

#[test]
fn bad_values_name_their_variable() {
    assert_eq!(var_of(&[("REDIS_PORT", "abc")]), "REDIS_PORT");
    assert_eq!(var_of(&[("REDIS_DB", "-1")]), "REDIS_DB");
    assert_eq!(var_of(&[("REDIS_URL", "http://x")]), "REDIS_URL");
    assert_eq!(var_of(&[("REDIS_KEY_PREFIX", "a b")]), "REDIS_KEY_PREFIX");
    assert_eq!(var_of(&[("DATABASE_URL", "mysql://x")]), "DATABASE_URL");
    assert_eq!(var_of(&[("PORT", "99999")]), "PORT");
    assert_eq!(var_of(&[("JWT_SECRET", "short")]), "JWT_SECRET");
    assert_eq!(
        var_of(&[("TOKEN_ENCRYPTION_KEY", "not base64!")]),
        "TOKEN_ENCRYPTION_KEY"
    );
    assert_eq!(
        var_of(&[("TOKEN_ENCRYPTION_KEY", "c2hvcnQ=")]),
        "TOKEN_ENCRYPTION_KEY"
    );
    assert_eq!(
        var_of(&[("SYNC_CRON_SCHEDULE", "0 0 3 * * * 2026")]),
        "SYNC_CRON_SCHEDULE"
    );
    assert_eq!(
        var_of(&[("SYNC_INCREMENTAL_CRON", "61 * * * *")]),
        "SYNC_INCREMENTAL_CRON"
    );
    assert_eq!(var_of(&[("SYNC_BATCH_SIZE", "0")]), "SYNC_BATCH_SIZE");
    assert_eq!(
        var_of(&[("OAUTH_SUCCESS_REDIRECT_URL", "nope")]),
        "OAUTH_SUCCESS_REDIRECT_URL"
    );
}

#[test]
fn provider_credentials_are_all_or_nothing() {
    let twitter = [
        ("TWITTER_CLIENT_ID", "id"),
        ("TWITTER_CLIENT_SECRET", "s3cret"),
        (
            "TWITTER_REDIRECT_URI",
            "http://127.0.0.1:8080/api/v1/oauth/twitter/callback",
        ),
        ("TWITTER_API_BASE_URL", "http://127.0.0.1:9000/twitter"),
    ];
    let c = load(&twitter).unwrap();
    let t = &c.providers[&ProviderId::Twitter];
    assert_eq!(t.api_base_url.as_ref().unwrap().path(), "/twitter");
    assert_eq!(var_of(&twitter[..1]), "TWITTER_CLIENT_SECRET");
    assert_eq!(var_of(&[twitter[0], twitter[1]]), "TWITTER_REDIRECT_URI");
    // Facebook's names differ.
    assert_eq!(
        var_of(&[
            ("FACEBOOK_CLIENT_ID", "x"),
            ("FACEBOOK_REDIRECT_URI", "http://h/cb")
        ]),
        "FACEBOOK_APP_ID"
    );
    assert_eq!(var_of(&[("FACEBOOK_APP_ID", "x")]), "FACEBOOK_APP_SECRET");
    // The token endpoint's client authentication can be chosen.
    let mut basic = twitter.to_vec();
    basic.push(("TWITTER_TOKEN_AUTH", "client_secret_post"));
    let c = load(&basic).unwrap();
    assert_eq!(
        c.providers[&ProviderId::Twitter].token_auth,
        Some(ClientAuth::Post)
    );
    basic.pop();
    basic.push(("TWITTER_TOKEN_AUTH", "private_key_jwt"));
    assert_eq!(var_of(&basic), "TWITTER_TOKEN_AUTH");
}

#[test]
fn previous_token_keys_are_read_for_rotation() {
    let k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let k2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    let c = load(&[
        ("TOKEN_ENCRYPTION_KEY", k2),
        ("TOKEN_ENCRYPTION_KEY_PREVIOUS", k1),
    ])
    .unwrap();
    let key = c.token_key.unwrap();
    assert_eq!(key.previous.len(), 1);
    assert_ne!(key.previous[0].key_id, key.key_id);
    assert_eq!(
        var_of(&[
            ("TOKEN_ENCRYPTION_KEY", k2),
            ("TOKEN_ENCRYPTION_KEY_PREVIOUS", "short")
        ]),
        "TOKEN_ENCRYPTION_KEY_PREVIOUS"
    );
}

#[test]
fn secrets_never_print() {
    let c = load(&[
        ("JWT_SECRET", "jwt-secret-jwt-secret-jwt-secret-1"),
        ("TOKEN_ENCRYPTION_KEY", KEY),
        ("REDIS_PASSWORD", "redis-pw"),
        ("DATABASE_URL", "postgres://u:db-pw@h/db"),
        ("DATABASE_REPLICA_URL", "postgres://u:replica-pw@r/db"),
        ("GOOGLE_CLIENT_ID", "gid"),
        ("GOOGLE_CLIENT_SECRET", "google-client-secret"),
        ("GOOGLE_REDIRECT_URI", "http://h/cb"),
    ])
    .unwrap();
    c.require_web().unwrap();
    let printed = format!("{c:?}");
    for secret in [
        "jwt-secret",
        "redis-pw",
        "db-pw",
        "replica-pw",
        "google-client-secret",
        KEY,
        "0123456789abcdef",
    ] {
        assert!(!printed.contains(secret), "{secret} printed");
    }
    assert_eq!(c.token_key.unwrap().key_id.len(), 16);
}

#[test]
fn the_replica_url_is_optional_and_checked_like_the_primary() {
    assert!(load(&[]).unwrap().database.replica().is_none());
    let c = load(&[(
        "DATABASE_REPLICA_URL",
        "postgres://u@replica:5432/db?sslmode=require",
    )])
    .unwrap();
    let r = c.database.replica().unwrap();
    assert_eq!(r.url, "postgres://u@replica:5432/db?sslmode=require");
    assert_eq!(r.replica_url, None);
    assert_eq!(
        var_of(&[("DATABASE_REPLICA_URL", "mysql://x")]),
        "DATABASE_REPLICA_URL"
    );
}

#[test]
fn a_redis_cluster_and_queue_shards() {
    let c = load(&[]).unwrap();
    assert!(c.redis.settings.cluster_urls.is_empty());
    assert_eq!(c.queue_settings().shards_of("sync"), 1);
    let c = load(&[
        (
            "REDIS_CLUSTER_URLS",
            "redis://a:7000, rediss://b:7001 ,redis://c:7002",
        ),
        ("REDIS_URL", "redis://ignored:1/0"),
        ("QUEUE_SHARDS", "sync=16, fanout=4"),
    ])
    .unwrap();
    assert_eq!(
        c.redis.settings.cluster_urls,
        ["redis://a:7000", "rediss://b:7001", "redis://c:7002"]
    );
    let q = c.queue_settings();
    assert_eq!(
        (q.shards_of("sync"), q.shards_of("fanout"), q.shards_of("x")),
        (16, 4, 1)
    );
    assert_eq!(
        var_of(&[("REDIS_CLUSTER_URLS", "http://a:1")]),
        "REDIS_CLUSTER_URLS"
    );
    assert_eq!(var_of(&[("QUEUE_SHARDS", "sync=0")]), "QUEUE_SHARDS");
    assert_eq!(var_of(&[("QUEUE_SHARDS", "sync")]), "QUEUE_SHARDS");
    assert_eq!(var_of(&[("REDIS_KEY_PREFIX", "a{b}")]), "REDIS_KEY_PREFIX");
}
