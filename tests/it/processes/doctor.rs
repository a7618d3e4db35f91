//! `lifesync doctor` as an operator runs it: one line per check, exit 0 when every provider
//! host, PostgreSQL and Redis are sound; exit 1 naming what is not (an untrusted provider
//! certificate, an unreachable database, an evicting Redis).

use std::process::{Command, Output};

use crate::common::{servers::*, *};

fn doctor(env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("doctor")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_sound_deployment_and_names_each_failure() {
    let sandbox = TestSandbox::spawn(3).await;
    let db = TestDb::new().await;
    let mut env = provider_env(&sandbox.base, "http://127.0.0.1:8080");
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.push(("REDIS_URL".into(), "redis://127.0.0.1:6379".into()));
    let trusted = [("SSL_CERT_FILE".to_string(), sandbox_ca_file())];

    // Sound: two lines for the stores, one per distinct provider origin (the sandbox serves
    // all three endpoints of a provider from one origin), all ok.
    let out = doctor(&[env.clone(), trusted.to_vec()].concat());
    let l = lines(&out);
    assert!(out.status.success(), "{l:?}");
    assert_eq!(l.len(), 2 + 6, "{l:?}");
    assert!(l.iter().all(|l| l.ends_with(": ok")), "{l:?}");
    assert!(l[0].starts_with("postgres "), "{l:?}");
    assert!(l[1].starts_with("redis "), "{l:?}");

    // The sandbox's CA not trusted: every provider line says so, exit 1.
    let out = doctor(&env);
    let l = lines(&out);
    assert_eq!(out.status.code(), Some(1), "{l:?}");
    let refused = l
        .iter()
        .filter(|l| l.contains("FAILED: tls: certificate for 127.0.0.1 not trusted"))
        .count();
    assert_eq!(refused, 6, "{l:?}");
    assert!(l[0].ends_with(": ok") && l[1].ends_with(": ok"), "{l:?}");

    // PostgreSQL unreachable and Redis evicting: both named.
    let mut redis =
        PrivateRedis::start_with(|_, _| vec!["--maxmemory-policy".into(), "volatile-lru".into()]);
    let broken: Vec<(String, String)> = [
        (
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{}/x", free_port()),
        ),
        ("REDIS_URL", redis.url()),
        ("SSL_CERT_FILE", sandbox_ca_file()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(
        env.iter()
            .filter(|(k, _)| !k.starts_with("DATABASE") && !k.starts_with("REDIS"))
            .cloned(),
    )
    .collect();
    let out = doctor(&broken);
    let l = lines(&out);
    assert_eq!(out.status.code(), Some(1), "{l:?}");
    assert!(
        l[0].starts_with("postgres ") && l[0].contains("FAILED"),
        "{l:?}"
    );
    assert!(
        l[1].contains("FAILED") && l[1].contains("maxmemory-policy is volatile-lru"),
        "{l:?}"
    );
    redis.crash();
    db.drop().await;
}
