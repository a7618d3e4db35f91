//! PostgreSQL and Redis over TLS, as managed services demand, on private servers started by
//! the tests with certificates from a test CA: every libpq `sslmode` that verifies, trust from
//! `SSL_CERT_FILE` or `sslrootcert`, refusals when the CA or the name is wrong; the queue,
//! OAuth state and limiter over `rediss://` with an ACL user; Redis's eviction policy checked.

use std::process::Command;

use crate::common::{servers::*, *};
use lifesync::{
    config::{Config, DatabaseConfig},
    providers::ProviderId,
};
use lifesync_sandbox::tls::PrivateCa;

/// A test CA written to `dir/ca.pem`, with a server certificate (and key) for `names`
/// written to `dir/server.crt` / `dir/server.key` (key readable by its owner only).
fn certificates(dir: &std::path::Path, names: &[&str]) -> PrivateCa {
    use std::os::unix::fs::PermissionsExt;
    let ca = PrivateCa::generate("lifesync test CA").unwrap();
    ca.write_cert(&dir.join("ca.pem")).unwrap();
    let server = ca.issue_server(names).unwrap();
    std::fs::write(dir.join("server.crt"), &server.cert_pem).unwrap();
    let key = dir.join("server.key");
    std::fs::write(&key, &server.key_pem).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    ca
}

/// The service's configuration from these variables alone.
fn config(vars: &[(&str, String)]) -> Result<Config, lifesync::config::ConfigError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Config::from_env(&move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
}

async fn uses_tls(db: &DatabaseConfig) -> Result<bool, sqlx::Error> {
    let pool = lifesync::db::connect_with(db, 1).await?;
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(ssl)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sslmodes_verify_the_server_against_the_configured_trust() {
    let pg = PrivatePostgres::start_with(|dir| {
        certificates(dir, &["localhost"]);
        vec![
            "ssl=on".into(),
            format!("ssl_cert_file={}", dir.join("server.crt").display()),
            format!("ssl_key_file={}", dir.join("server.key").display()),
        ]
    });
    let ca = pg.dir.join("ca.pem").to_string_lossy().to_string();
    let at = |host: &str, query: &str| {
        format!(
            "postgres://postgres@{host}:{}/lifesync_tls?{query}",
            pg.port
        )
    };

    // verify-full with the CA from SSL_CERT_FILE: the database is created, migrated, and the
    // connection is encrypted.
    let c = config(&[
        ("DATABASE_URL", at("localhost", "sslmode=verify-full")),
        ("SSL_CERT_FILE", ca.clone()),
    ])
    .unwrap();
    assert!(lifesync::db::ensure_database(&c.database).await.unwrap());
    let pool = lifesync::db::connect_with(&c.database, 2).await.unwrap();
    lifesync::db::migrate(&pool).await.unwrap();
    pool.close().await;
    assert!(uses_tls(&c.database).await.unwrap());

    // sslrootcert in the URL, as libpq takes it, with no SSL_CERT_FILE.
    let c = config(&[(
        "DATABASE_URL",
        at(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    )])
    .unwrap();
    assert!(uses_tls(&c.database).await.unwrap());

    // verify-full without the CA: refused.
    let c = config(&[("DATABASE_URL", at("localhost", "sslmode=verify-full"))]).unwrap();
    let e = uses_tls(&c.database).await.unwrap_err().to_string();
    assert!(e.to_lowercase().contains("certificate"), "{e}");

    // The certificate names localhost, not 127.0.0.1: verify-full refuses the address,
    // verify-ca (no name check) accepts it.
    let c = config(&[
        ("DATABASE_URL", at("127.0.0.1", "sslmode=verify-full")),
        ("SSL_CERT_FILE", ca.clone()),
    ])
    .unwrap();
    assert!(uses_tls(&c.database).await.is_err());
    let c = config(&[
        ("DATABASE_URL", at("127.0.0.1", "sslmode=verify-ca")),
        ("SSL_CERT_FILE", ca.clone()),
    ])
    .unwrap();
    assert!(uses_tls(&c.database).await.unwrap());

    // require encrypts; disable does not.
    let c = config(&[("DATABASE_URL", at("127.0.0.1", "sslmode=require"))]).unwrap();
    assert!(uses_tls(&c.database).await.unwrap());
    let c = config(&[("DATABASE_URL", at("127.0.0.1", "sslmode=disable"))]).unwrap();
    assert!(!uses_tls(&c.database).await.unwrap());

    // The binary, as an operator runs it after a deploy.
    let out = Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("migrate")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("DATABASE_URL", at("localhost", "sslmode=verify-full"))
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const ACL_USER: &str = "lifesync";
const ACL_PASSWORD: &str = "s3cret-acl-password";

/// A Redis that speaks only TLS, with an ACL user, and this eviction policy.
fn tls_redis(policy: &str, config_disabled: bool) -> PrivateRedis {
    let policy = policy.to_string();
    PrivateRedis::start_with(move |dir, port| {
        certificates(dir, &["localhost"]);
        let file = |f: &str| dir.join(f).to_string_lossy().to_string();
        let mut args = vec![
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            file("server.crt"),
            "--tls-key-file".into(),
            file("server.key"),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
            "--user".into(),
            "default".into(),
            "off".into(),
            "--user".into(),
            ACL_USER.into(),
            "on".into(),
            format!(">{ACL_PASSWORD}"),
            "~*".into(),
            "&*".into(),
            "+@all".into(),
            "--maxmemory-policy".into(),
            policy,
        ];
        if config_disabled {
            args.extend(["--rename-command".into(), "CONFIG".into(), "".into()]);
        }
        args
    })
}

fn rediss_url(redis: &PrivateRedis) -> String {
    format!(
        "rediss://{ACL_USER}:{ACL_PASSWORD}@localhost:{}/0",
        redis.port
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_oauth_state_and_limiter_work_over_rediss_with_an_acl_user() {
    let redis = tls_redis("noeviction", false);
    let ca = redis.dir.join("ca.pem").to_string_lossy().to_string();
    let c = config(&[
        ("REDIS_URL", rediss_url(&redis)),
        ("SSL_CERT_FILE", ca.clone()),
    ])
    .unwrap();
    assert!(c.redis.settings.trusted_pem.is_some());

    // OAuth connect (state saved and consumed in Redis), completion job, first sync job:
    // all through the TLS connection.
    let h = SyncHarness::on_redis(21, 50, c.redis.settings.clone()).await;
    let Connected {
        run:
            RunOutcome {
                status,
                fetched,
                new,
                error,
                ..
            },
        ..
    } = h.connect(ProviderId::Twitter, "alice", "1001").await;
    assert_eq!(status, "succeeded", "{error:?}");
    assert!(fetched > 0 && new == fetched);
    assert_eq!(h.app.store.eviction_policy().await.unwrap(), "noeviction");

    // The shared limiter over the same connection.
    let limiter = lifesync::providers::limiter::Limiter::new(h.app.store.connection(), "tls");
    let wait = limiter
        .acquire(
            ProviderId::Twitter,
            "1001",
            None,
            Some(lifesync::providers::limiter::PerMinute(60)),
        )
        .await
        .unwrap();
    assert_eq!(wait, None);
    h.shutdown().await;

    // Without the CA the TLS handshake is refused: never a fallback to plain text.
    let c = config(&[("REDIS_URL", rediss_url(&redis))]).unwrap();
    let e = lifesync_jobs::Store::connect(
        c.redis.settings.clone(),
        lifesync_jobs::QueueSettings::new("t"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.to_lowercase().contains("certificate"), "{e}");

    // A wrong password is refused too.
    let c = config(&[
        (
            "REDIS_URL",
            rediss_url(&redis).replace(ACL_PASSWORD, "wrong"),
        ),
        ("SSL_CERT_FILE", ca),
    ])
    .unwrap();
    assert!(lifesync_jobs::Store::connect(
        c.redis.settings.clone(),
        lifesync_jobs::QueueSettings::new("t")
    )
    .await
    .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_redis_is_named_whether_or_not_config_is_allowed() {
    for config_disabled in [false, true] {
        let redis = tls_redis("allkeys-lru", config_disabled);
        let ca = redis.dir.join("ca.pem").to_string_lossy().to_string();
        let c = config(&[("REDIS_URL", rediss_url(&redis)), ("SSL_CERT_FILE", ca)]).unwrap();
        let store = lifesync_jobs::Store::connect(
            c.redis.settings.clone(),
            lifesync_jobs::QueueSettings::new("t"),
        )
        .await
        .unwrap();
        assert_eq!(store.eviction_policy().await.unwrap(), "allkeys-lru");
        let problem = lifesync::doctor::eviction_problem(&store).await;
        let problem = problem.expect("an evicting policy is a problem");
        assert!(problem.contains("maxmemory-policy"), "{problem}");
        assert!(problem.contains("noeviction"), "{problem}");
    }
}
