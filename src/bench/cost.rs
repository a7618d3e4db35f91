//! `lifesync bench cost`: what a sync costs the providers. Against the sandbox (over HTTPS),
//! for each provider: a first full sync, an unchanged daily full sync, and an incremental sync
//! after 10 new items, of a 10,000-message mailbox (Gmail, Outlook), a 3,200-post timeline
//! (Twitter, its API's cap) and 1,000-post feeds (Instagram, Facebook, LinkedIn), with one
//! worker and the default page size (`SYNC_BATCH_SIZE` 100).
//!
//! Requests are counted by the sandbox at each provider's door (every HTTP request: profile,
//! lists, batches; a Gmail batch is one request), Gmail quota units as Gmail charges them
//! (`getProfile` 1, `messages.list` 5, `messages.get` 5, `history.list` 2, a batch the sum of
//! its inner calls). The last line is `cost: <provider>_daily_full_ratio=<r> …` (daily full
//! requests ÷ first full requests), plus `google_daily_full_units_ratio` and
//! `<provider>_incremental_requests`.
//! Throw-away database and key prefix, removed at the end.

use lifesync_jobs::{
    payloads::{SyncMode, SyncTrigger},
    runner::Handles,
    Producer,
};
use lifesync_sandbox::SandboxState;
use uuid::Uuid;

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

/// One sync's cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub requests: u64,
    pub units: u64,
    pub fetched: i64,
}

/// One provider's three syncs.
#[derive(Debug, Clone)]
pub struct ProviderCost {
    pub provider: ProviderId,
    pub items: usize,
    pub first: Cost,
    pub daily: Cost,
    pub incremental: Cost,
}

/// New items before the incremental sync.
pub const NEW_ITEMS: usize = 10;

/// The account and its size for each provider.
fn account(p: ProviderId) -> (&'static str, usize) {
    match p {
        ProviderId::Google => (lifesync_sandbox::google::ACCOUNT, 10_000),
        ProviderId::Microsoft => (lifesync_sandbox::microsoft::ACCOUNT, 10_000),
        ProviderId::Twitter => ("4242", 3_200),
        ProviderId::Instagram => (lifesync_sandbox::instagram::ACCOUNT, 1_000),
        ProviderId::Facebook => (lifesync_sandbox::facebook::ACCOUNT, 1_000),
        ProviderId::Linkedin => (lifesync_sandbox::linkedin::ACCOUNT, 1_000),
    }
}

/// `only`: the providers to measure (empty: all six).
pub async fn run(config: &Config, only: &[ProviderId]) -> anyhow::Result<Vec<ProviderCost>> {
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
        let state = SandboxState::new(42);
        let tls = lifesync_sandbox::tls::SandboxTls::generate()?;
        let outbound = crate::outbound::OutboundConfig::trusting(
            crate::tls::TrustConfig::default().adding_pem(&tls.ca.cert_pem())?,
        );
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let sb = state.clone();
        let server_cert = tls.server.clone();
        tokio::spawn(async move {
            lifesync_sandbox::serve_with(
                "127.0.0.1:0",
                sb,
                Some(&server_cert),
                |a| {
                    let _ = addr_tx.send(a);
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
        });
        let base = url::Url::parse(&format!("https://{}", addr_rx.await?))?;
        let apps: std::collections::BTreeMap<_, _> = ProviderId::ALL
            .into_iter()
            .map(|p| {
                let cb = base.join("/cb").expect("static path");
                (p, sandbox_link::provider_config(p, &base, cb))
            })
            .collect();
        let mut config = scratch.config(&[
            ("SYNC_BATCH_SIZE", "100"),
            ("SYNC_FANOUT_SPREAD_SECONDS", "0"),
            ("SYNC_DUPLICATE_WINDOW_HOURS", "72"),
        ])?;
        config.outbound = outbound;
        config.providers = apps;
        let key = config.token_key.clone().expect("the scratch key");
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
        let mut out = Vec::new();
        let producer = Producer::new(store.clone());
        let outcome = async {
            for p in ProviderId::ALL {
                if !only.is_empty() && !only.contains(&p) {
                    continue;
                }
                let (acct, size) = account(p);
                state.add_items(p, acct, size.saturating_sub(state.item_ids(p, acct).len()));
                let items = state.item_ids(p, acct).len();
                let token = state.issue_token_for(p, acct, 30 * 86_400);
                let mut conn = pool.acquire().await?;
                let ds =
                    db::data_sources::upsert_connected(&mut conn, "bench", p.as_str(), acct, None)
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
                eprintln!("bench cost: {p}: {items} items");
                // Each run as the product starts it: the connect's full sync, the schedule's
                // daily full and incremental syncs.
                let sync = |mode, trigger| measure(&state, &pool, &producer, p, ds, mode, trigger);
                let first = sync(SyncMode::Full, SyncTrigger::Oauth).await?;
                let daily = sync(SyncMode::Full, SyncTrigger::Daily).await?;
                state.add_items(p, acct, NEW_ITEMS);
                let incremental = sync(SyncMode::Incremental, SyncTrigger::Incremental).await?;
                eprintln!(
                    "bench cost: {p}: first {} req {} units, daily full {} req {} units, \
                     incremental {} req {} units ({} fetched)",
                    first.requests,
                    first.units,
                    daily.requests,
                    daily.units,
                    incremental.requests,
                    incremental.units,
                    incremental.fetched
                );
                out.push(ProviderCost {
                    provider: p,
                    items,
                    first,
                    daily,
                    incremental,
                });
            }
            anyhow::Ok(())
        }
        .await;
        let _ = wstop_tx.send(());
        let _ = worker.await;
        pool.close().await;
        outcome.map(|()| out)
    }
    .await;
    let _ = stop_tx.send(());
    scratch.remove(config, "cost").await?;
    result
}

/// Runs one sync of `ds` to its end and returns what it cost at the sandbox.
async fn measure(
    state: &SandboxState,
    pool: &sqlx::PgPool,
    producer: &Producer,
    p: ProviderId,
    ds: Uuid,
    mode: SyncMode,
    trigger: SyncTrigger,
) -> anyhow::Result<Cost> {
    let (hits, units) = (state.hits(p), state.google.units_spent());
    // The previous run's job may still hold the source's queue key for a moment after the run
    // ended: wait for it.
    let mut tries = 0;
    let started = loop {
        match request_sync(pool, producer, ds, mode, trigger).await {
            Ok(s) => break s,
            Err(e) if tries < 100 => {
                tries += 1;
                tracing::debug!(error = %e, "bench cost: the previous sync is still finishing");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => anyhow::bail!("{e}"),
        }
    };
    let (status, fetched, error) = loop {
        let row: (String, i32, Option<String>) =
            sqlx::query_as("SELECT status, items_fetched, error FROM sync_runs WHERE id = $1")
                .bind(started.sync_run_id)
                .fetch_one(pool)
                .await?;
        if row.0 != "queued" && row.0 != "running" {
            break row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    anyhow::ensure!(
        status == "succeeded",
        "{p} {mode:?} sync {status}: {}",
        error.unwrap_or_default()
    );
    Ok(Cost {
        requests: state.hits(p) - hits,
        units: if p == ProviderId::Google {
            state.google.units_spent() - units
        } else {
            0
        },
        fetched: i64::from(fetched),
    })
}

/// The human table and the machine-readable last line.
pub fn report(costs: &[ProviderCost]) -> (String, String) {
    let mut table = String::from(
        "| provider | items | first full: requests (units) | daily full, unchanged: requests (units) | daily ÷ first | incremental, 10 new: requests (units), fetched |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    let mut line = vec![];
    for c in costs {
        let units = |x: &Cost| {
            if c.provider == ProviderId::Google {
                format!(" ({})", x.units)
            } else {
                String::new()
            }
        };
        let ratio = c.daily.requests as f64 / c.first.requests.max(1) as f64;
        let unit_ratio = c.daily.units as f64 / c.first.units.max(1) as f64;
        table.push_str(&format!(
            "| {} | {} | {}{} | {}{} | {:.1} %{} | {}{}, {} |\n",
            c.provider,
            c.items,
            c.first.requests,
            units(&c.first),
            c.daily.requests,
            units(&c.daily),
            ratio * 100.0,
            if c.provider == ProviderId::Google {
                format!(" ({:.2} % of units)", unit_ratio * 100.0)
            } else {
                String::new()
            },
            c.incremental.requests,
            units(&c.incremental),
            c.incremental.fetched,
        ));
        line.push(format!("{}_daily_full_ratio={ratio:.4}", c.provider));
        if c.provider == ProviderId::Google {
            line.push(format!("google_daily_full_units_ratio={unit_ratio:.4}"));
        }
        line.push(format!(
            "{}_incremental_requests={}",
            c.provider, c.incremental.requests
        ));
    }
    (table, format!("cost: {}", line.join(" ")))
}
