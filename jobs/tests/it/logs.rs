//! What a worker logs: per-job lines at DEBUG only, a `jobs summary` line per queue at INFO
//! (done, failed, retried, p50/p99), and every failure at WARN naming its job.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::common::*;
use lifesync_jobs::probe::{Behaviour, ProbeJob};
use serde_json::Value;

/// Log lines written by the subscriber, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// On a current-thread runtime, so that the subscriber set as this thread's default sees this
/// test's worker (all its tasks run here) and none of the other tests sharing the process.
#[tokio::test(flavor = "current_thread")]
async fn job_lines_are_debug_with_an_info_summary_and_failures_at_warn() {
    let captured = Captured::default();
    let writer = captured.clone();
    let _only_this_test = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .json()
            .with_env_filter("lifesync_jobs=debug")
            .with_writer(move || writer.clone())
            .finish(),
    );
    // A callsite first hit by another test's thread while this subscriber was being set can
    // keep the interest computed without it (never): recompute every callsite's interest now
    // that the subscriber is registered (tracing-core caches interest per callsite).
    tracing::callsite::rebuild_interest_cache();

    let env = Env::shared_with(|s| s.summary_every = Duration::from_millis(300)).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let behaviour = if n < 2 {
            Behaviour::Abort
        } else {
            Behaviour::Succeed
        };
        ids.push(
            env.enqueue(ProbeJob {
                n,
                behaviour,
                ..Default::default()
            })
            .await,
        );
    }
    let w = env.start_worker(4);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            env.store.stats("probe").await.unwrap().succeeded == 18
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(700)).await; // a summary interval passes
                                                          // Read before the worker stops: the periodic summaries alone account for every ending.
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    w.stop().await;

    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let message = |v: &Value| v["fields"]["message"].as_str().unwrap_or("").to_string();
    let (mut succeeded, mut failed, mut done, mut dead) = (0, 0, 0, 0);
    for v in &lines {
        match message(v).as_str() {
            "job succeeded" => {
                assert_eq!(v["level"], "DEBUG", "{v}");
                succeeded += 1;
            }
            "job failed" => {
                assert_eq!(v["level"], "WARN", "{v}");
                let id = v["fields"]["job_id"].as_str().unwrap();
                assert!(ids[..2].contains(&id.to_string()), "{v}");
                assert_eq!(v["fields"]["outcome"], "dead", "{v}");
                failed += 1;
            }
            "jobs summary" => {
                assert_eq!(v["level"], "INFO", "{v}");
                assert_eq!(v["fields"]["queue"], "probe", "{v}");
                assert!(
                    v["fields"]["p99_ms"].as_f64().unwrap()
                        >= v["fields"]["p50_ms"].as_f64().unwrap()
                );
                done += v["fields"]["done"].as_u64().unwrap();
                dead += v["fields"]["dead"].as_u64().unwrap();
                assert_eq!(
                    v["fields"]["failed"],
                    v["fields"]["dead"].as_u64().unwrap()
                        + v["fields"]["retried"].as_u64().unwrap()
                );
            }
            _ => {}
        }
    }
    assert_eq!((succeeded, failed), (18, 2), "per-job lines");
    assert_eq!(
        (done, dead),
        (18, 2),
        "the summaries add up to every ending"
    );
    let info_lines = lines.iter().filter(|v| v["level"] == "INFO").count();
    assert!(info_lines < 10, "{info_lines} INFO lines for 20 jobs");
    env.cleanup().await;
}
