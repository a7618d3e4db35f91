//! `lifesync bench statements --statements N`: the cost of running every statement in a
//! transaction of its own (`db::pinned`, what keeps a transaction-mode pooler's Parse and Bind
//! on one server connection) against a statement on the bare pool, alternating in one run.
//! Direct to PostgreSQL: a bare pool fails through PgBouncer 1.18 in transaction mode.

use std::time::Instant;

use crate::{config::Config, db};

/// The figures of one run: microseconds per statement, per round, bare and pinned.
pub struct StatementsBench {
    pub rounds: Vec<(f64, f64)>,
}

impl StatementsBench {
    /// Median of the per-round ratios pinned ÷ bare.
    pub fn median_ratio(&self) -> f64 {
        let mut r: Vec<f64> = self.rounds.iter().map(|(b, p)| p / b).collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }
}

pub async fn run(
    config: &Config,
    statements: u64,
    rounds: usize,
) -> anyhow::Result<StatementsBench> {
    let pool = db::connect_with(&config.database, 2).await?;
    let mut out = StatementsBench { rounds: Vec::new() };
    for round in 0..rounds.max(1) {
        let mut per = [0.0; 2];
        // Alternate which goes first, so a drift of the machine's speed favours neither.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for pinned in order {
            let started = Instant::now();
            for i in 0..statements as i64 {
                let q = sqlx::query_scalar::<_, i64>("SELECT $1::int8 + 1").bind(i);
                let got = if pinned == 1 {
                    q.fetch_one(db::pinned(&pool)).await?
                } else {
                    q.fetch_one(&pool).await?
                };
                anyhow::ensure!(got == i + 1, "wrong answer");
            }
            per[pinned] = started.elapsed().as_secs_f64() * 1e6 / statements as f64;
        }
        eprintln!(
            "bench statements: round {round}: bare {:.1} µs, pinned {:.1} µs ({:.2}×)",
            per[0],
            per[1],
            per[1] / per[0]
        );
        out.rounds.push((per[0], per[1]));
    }
    pool.close().await;
    Ok(out)
}
