//! The contract's metrics exist from process start: a freshly started `lifesync web`, before
//! any work, exports every contract metric with its known label sets at 0. (A real process:
//! the metrics recorder is per process, and this test binary's is shared by every test.)

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use crate::common::{servers::free_port, *};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_contract_metric_is_exported_at_zero_before_any_work() {
    let db = TestDb::new().await;
    let port = free_port();
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut env = service_env(&db.url, &prefix);
    env.push(("HOST".into(), "127.0.0.1".into()));
    env.push(("PORT".into(), port.to_string()));
    let mut web = lifesync_command(&["web"], &env)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = sandbox_client();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let start = Instant::now();
    let text = loop {
        if let Ok(r) = http.get(&url).send().await {
            break r.text().await.unwrap();
        }
        assert!(
            web.try_wait().unwrap().is_none(),
            "lifesync web exited before serving"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "lifesync web never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    web.kill().unwrap();
    web.wait().unwrap();
    let has = |series: &str| {
        text.lines()
            .any(|l| l.starts_with(series) && l[series.len()..].trim() == "0")
    };
    let providers = [
        "instagram",
        "twitter",
        "google",
        "facebook",
        "linkedin",
        "microsoft",
    ];
    let mut missing = Vec::new();
    let mut want = |s: String| {
        if !has(&s) {
            missing.push(s);
        }
    };
    for p in providers {
        want(format!(
            r#"lifesync_provider_rate_limited_total{{provider="{p}"}}"#
        ));
        want(format!(
            r#"lifesync_provider_requests_total{{provider="{p}",status="429"}}"#
        ));
        for t in ["oauth", "manual", "daily", "incremental", "admin"] {
            for o in ["succeeded", "failed", "cancelled"] {
                want(format!(
                    r#"lifesync_sync_runs_total{{provider="{p}",trigger="{t}",outcome="{o}"}}"#
                ));
            }
        }
        for k in ["post", "media", "email"] {
            for r in ["new", "updated", "duplicate"] {
                want(format!(
                    r#"lifesync_sync_items_total{{provider="{p}",kind="{k}",result="{r}"}}"#
                ));
            }
        }
        for o in ["connected", "failed"] {
            want(format!(
                r#"lifesync_oauth_completions_total{{provider="{p}",outcome="{o}"}}"#
            ));
        }
        for s in ["active", "reauth_required", "disconnected", "error"] {
            want(format!(
                r#"lifesync_data_sources{{provider="{p}",status="{s}"}}"#
            ));
        }
    }
    for q in ["oauth_completion", "sync", "fanout"] {
        for o in ["succeeded", "retried", "dead"] {
            want(format!(
                r#"lifesync_jobs_total{{queue="{q}",outcome="{o}"}}"#
            ));
        }
        for s in ["pending", "scheduled", "running", "retrying", "dead"] {
            want(format!(
                r#"lifesync_queue_depth{{queue="{q}",state="{s}"}}"#
            ));
        }
        want(format!(
            r#"lifesync_job_duration_seconds_count{{queue="{q}"}}"#
        ));
    }
    for o in ["delivered", "retried", "failed"] {
        want(format!(
            r#"lifesync_webhook_deliveries_total{{outcome="{o}"}}"#
        ));
    }
    want("lifesync_oauth_states_active".to_string());
    assert!(missing.is_empty(), "missing at 0: {missing:#?}\n{text}");
    let prefix_keys = lifesync_jobs::Store::connect(
        lifesync_jobs::RedisSettings::new("redis://127.0.0.1:6379"),
        lifesync_jobs::QueueSettings::new(prefix),
    )
    .await
    .unwrap();
    prefix_keys.purge_prefix().await.unwrap();
    db.drop().await;
}
