//! `lifesync bench sync --items N`: a full sync of one sandbox account holding N items, with
//! one worker (concurrency 1) in this process: fetch (the sandbox over loopback HTTPS, or plain
//! HTTP with `--plain-http`; Twitter's largest page, 100) → normalize → store (one batched
//! upsert per page, one typed array per column, in the page's transaction with the run's
//! counters and resume point).
//! Throw-away database and key prefix; timed from the job's enqueue to the run's success.

use std::time::Instant;

use lifesync_jobs::{
    payloads::{SyncMode, SyncTrigger},
    runner::Handles,
    Producer,
};

use crate::{
    bootstrap,
    config::Config,
    crypto::TokenCipher,
    db,
    domain::ProviderId,
    sandbox_link,
    services::sync::request_sync,
    workers::{self},
};

pub struct SyncBench {
    pub items: u64,
    pub items_per_s: f64,
}

const ACCOUNT: &str = "4242";

/// `plain_http`: the sandbox speaks plain HTTP instead of HTTPS (to measure what TLS costs).
pub async fn run(config: &Config, items: u64, plain_http: bool) -> anyhow::Result<SyncBench> {
    let scratch = super::scratch::Scratch::create(config).await?;
    let (bench_db, _prefix, store) = (
        scratch.database.clone(),
        scratch.prefix.clone(),
        scratch.store.clone(),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let result = async {
        let pool = db::connect_with(&bench_db, 8).await?;
        db::migrate(&pool).await?;
        // The sandbox, with the account's items.
        let state = lifesync_sandbox::SandboxState::new(42);
        let existing = state.twitter.ids(ACCOUNT).len() as u64;
        if items > existing {
            state
                .twitter
                .add_tweets(ACCOUNT, (items - existing) as usize);
        }
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let sb = state.clone();
        let tls = if plain_http {
            None
        } else {
            Some(lifesync_sandbox::tls::SandboxTls::generate()?)
        };
        let outbound = match &tls {
            Some(t) => crate::outbound::OutboundConfig::trusting(
                crate::tls::TrustConfig::default().adding_pem(&t.ca.cert_pem())?,
            ),
            None => crate::outbound::OutboundConfig::default(),
        };
        let server_cert = tls.as_ref().map(|t| t.server.clone());
        tokio::spawn(async move {
            lifesync_sandbox::serve_with(
                "127.0.0.1:0",
                sb,
                server_cert.as_ref(),
                |a| {
                    let _ = addr_tx.send(a);
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
        });
        let addr = addr_rx.await?;
        let scheme = if plain_http { "http" } else { "https" };
        let base = url::Url::parse(&format!("{scheme}://{addr}"))?;
        let mut apps = std::collections::BTreeMap::new();
        apps.insert(
            ProviderId::Twitter,
            sandbox_link::provider_config(ProviderId::Twitter, &base, base.join("/cb")?),
        );
        let mut config = scratch.config(&[
            ("SYNC_BATCH_SIZE", "100"),
            ("SYNC_FANOUT_SPREAD_SECONDS", "0"),
            ("SYNC_DUPLICATE_WINDOW_HOURS", "72"),
        ])?;
        config.outbound = outbound;
        config.providers = apps;
        let key = config.token_key.clone().expect("the scratch key");
        let token = state.issue_token(ACCOUNT);
        let mut conn = pool.acquire().await?;
        let ds = db::data_sources::upsert_connected(&mut conn, "bench", "twitter", ACCOUNT, None)
            .await?;
        db::tokens::store(
            &mut conn,
            ds,
            &TokenCipher::new(&key).seal(token.as_bytes()),
            None,
            None,
            &[],
        )
        .await?;
        let deps = bootstrap::worker_deps(
            &config,
            pool.clone(),
            &store,
            bootstrap::provider_apps(&config)?,
        )?;
        let handles = Handles::default();
        let monitor = workers::register(&store, deps, &["sync".to_string()], 1, &handles);
        let (wstop_tx, wstop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(lifesync_jobs::runner::run_until(
            monitor,
            handles,
            async {
                let _ = wstop_rx.await;
                Ok(())
            },
            std::time::Duration::from_secs(5),
        ));
        let total = state.twitter.ids(ACCOUNT).len() as u64;
        eprintln!("bench sync: full sync of {total} items, one worker");
        let t = Instant::now();
        let started = request_sync(
            &pool,
            &Producer::new(store.clone()),
            ds,
            SyncMode::Full,
            SyncTrigger::Manual,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (status, fetched) = loop {
            let row: (String, i32) =
                sqlx::query_as("SELECT status, items_fetched FROM sync_runs WHERE id = $1")
                    .bind(started.sync_run_id)
                    .fetch_one(&pool)
                    .await?;
            if row.0 == "succeeded" || row.0 == "failed" {
                break row;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let secs = t.elapsed().as_secs_f64();
        let _ = wstop_tx.send(());
        let _ = worker.await;
        anyhow::ensure!(status == "succeeded", "the sync {status}");
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&pool)
            .await?;
        eprintln!("bench sync: {fetched} fetched, {stored} stored in {secs:.2} s");
        pool.close().await;
        anyhow::Ok(SyncBench {
            items: stored as u64,
            items_per_s: stored as f64 / secs,
        })
    }
    .await;
    let _ = stop_tx.send(());
    scratch.remove(config, "sync").await?;
    result
}
