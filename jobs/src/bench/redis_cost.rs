//! What a benchmark phase cost the Redis server by its own accounting: CPU time from
//! `INFO cpu` (`used_cpu_user` + `used_cpu_sys`, every thread of the server: event loop and
//! network included) and commands from `INFO commandstats` (scripts count once as `EVALSHA` and
//! once per `redis.call` inside them, and their `usec` is the time spent running them), read
//! before and after the phase. The figures are the whole server's: run the bench against a
//! Redis nobody else is using for clean numbers.

use std::collections::HashMap;

use crate::conn::RedisConn;

/// The server's counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct RedisCounters {
    /// CPU seconds the server has used (user + system).
    cpu_s: f64,
    /// Calls and µs spent per command (`cmdstat_<name>`).
    calls: HashMap<String, (u64, u64)>,
}

/// Per-job cost of a phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct PhaseCost {
    /// Redis CPU time per job, µs.
    pub cpu_us: f64,
    /// Commands per job, those run inside scripts included.
    pub commands: f64,
    /// Script calls (`EVALSHA`, `EVAL`) per job.
    pub scripts: f64,
    /// Time spent running scripts per job, µs (commandstats `usec`, inner commands included).
    pub script_us: f64,
}

impl std::fmt::Display for PhaseCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Redis {:.2} µs CPU, {:.2} commands ({:.3} script calls, {:.2} µs in scripts) per job",
            self.cpu_us, self.commands, self.scripts, self.script_us
        )
    }
}

/// Reads the counters (two INFO commands, themselves counted in the next reading); in a
/// cluster, every master's, summed.
pub async fn read(conn: &mut RedisConn) -> Result<RedisCounters, redis::RedisError> {
    let masters = conn.masters().await?;
    let nodes: Vec<Option<(String, u16)>> = if masters.is_empty() {
        vec![None]
    } else {
        masters.into_iter().map(Some).collect()
    };
    let mut sum = RedisCounters::default();
    for node in nodes {
        let cpu: String = conn
            .query_node(redis::cmd("INFO").arg("cpu"), node.clone())
            .await?;
        let stats: String = conn
            .query_node(redis::cmd("INFO").arg("commandstats"), node)
            .await?;
        let one = parse(&cpu, &stats);
        sum.cpu_s += one.cpu_s;
        for (k, (c, u)) in one.calls {
            let e = sum.calls.entry(k).or_default();
            e.0 += c;
            e.1 += u;
        }
    }
    Ok(sum)
}

fn parse(cpu: &str, stats: &str) -> RedisCounters {
    let field = |name: &str| {
        cpu.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let calls = stats
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |key: &str| -> Option<u64> {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(key))?
                    .parse()
                    .ok()
            };
            Some((
                name.to_string(),
                (field("calls=")?, field("usec=").unwrap_or(0)),
            ))
        })
        .collect();
    RedisCounters {
        cpu_s: field("used_cpu_user") + field("used_cpu_sys"),
        calls,
    }
}

/// The cost per job of `jobs` jobs between two readings.
pub fn per_job(before: &RedisCounters, after: &RedisCounters, jobs: u64) -> PhaseCost {
    let jobs = jobs.max(1) as f64;
    let delta = |name: &str| {
        let (a, b) = (after.calls.get(name), before.calls.get(name));
        let (a, b) = (a.copied().unwrap_or((0, 0)), b.copied().unwrap_or((0, 0)));
        (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1))
    };
    let commands: u64 = after.calls.keys().map(|k| delta(k).0).sum();
    let (evalsha, eval) = (delta("evalsha"), delta("eval"));
    PhaseCost {
        cpu_us: (after.cpu_s - before.cpu_s).max(0.0) * 1e6 / jobs,
        commands: commands as f64 / jobs,
        scripts: (evalsha.0 + eval.0) as f64 / jobs,
        script_us: (evalsha.1 + eval.1) as f64 / jobs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_and_differenced_per_job() {
        let cpu0 = "# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.5\r\nused_cpu_sys_children:9\r\n";
        let cpu1 = "# CPU\r\nused_cpu_sys:2.0\r\nused_cpu_user:3.0\r\n";
        let st0 = "# Commandstats\r\ncmdstat_evalsha:calls=10,usec=5,usec_per_call=0.5,rejected_calls=0,failed_calls=0\r\ncmdstat_hset:calls=3,usec=1\r\n";
        let st1 = "cmdstat_evalsha:calls=30,usec=9\r\ncmdstat_hset:calls=53,usec=2\r\ncmdstat_info:calls=2,usec=1\r\n";
        let cost = per_job(&parse(cpu0, st0), &parse(cpu1, st1), 10);
        assert!((cost.cpu_us - 100_000.0).abs() < 1e-6, "{cost:?}");
        assert!((cost.commands - 7.2).abs() < 1e-9, "{cost:?}");
        assert!((cost.scripts - 2.0).abs() < 1e-9, "{cost:?}");
        assert!((cost.script_us - 0.4).abs() < 1e-9, "{cost:?}");
    }
}
