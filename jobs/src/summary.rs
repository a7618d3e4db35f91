//! The per-queue summary a worker logs at INFO every [`QueueSettings::summary_every`]
//! (`jobs summary`: done, failed, retried, dead, p50/p99 duration), so per-job lines can stay at
//! DEBUG and a production log stays readable and cheap. Counting a job is two relaxed atomic
//! additions: one outcome counter and one bucket of a log-linear duration histogram (8 buckets
//! per power of two of microseconds, so a reported percentile is within 12.5 % of the truth).
//!
//! [`QueueSettings::summary_every`]: crate::QueueSettings::summary_every

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

/// How an attempt ended, as the summary counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Succeeded.
    Done,
    /// Failed or deferred, with another run scheduled.
    Retried,
    /// Failed for good: dead-lettered.
    Dead,
}

const SUB: usize = 8;
// The last bucket holds everything from about 2^62 µs on.
const BUCKETS: usize = 61 * SUB;

/// Counts since the last summary.
pub(crate) struct Tally {
    done: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    durations: Box<[AtomicU64]>,
}

/// One interval's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Summary {
    pub done: u64,
    pub retried: u64,
    pub dead: u64,
    /// Median and 99th percentile attempt duration (the upper edge of their buckets).
    pub p50: Duration,
    pub p99: Duration,
}

impl Summary {
    pub fn is_empty(&self) -> bool {
        self.done + self.retried + self.dead == 0
    }
}

fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let e = 63 - us.leading_zeros() as usize; // ≥ 3
    ((e - 2) * SUB + ((us >> (e - 3)) as usize & (SUB - 1))).min(BUCKETS - 1)
}

/// The smallest duration (µs) in bucket `i`.
fn bucket_floor(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let (e, m) = (i / SUB + 2, (i % SUB) as u64);
    (SUB as u64 + m) << (e - 3)
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            done: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            durations: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Tally {
    pub fn record(&self, ending: Ending, took: Duration) {
        let counter = match ending {
            Ending::Done => &self.done,
            Ending::Retried => &self.retried,
            Ending::Dead => &self.dead,
        };
        counter.fetch_add(1, Relaxed);
        self.durations[bucket(took.as_micros() as u64)].fetch_add(1, Relaxed);
    }

    /// The figures since the previous call, which starts a new interval.
    pub fn take(&self) -> Summary {
        let counts: Vec<u64> = self.durations.iter().map(|b| b.swap(0, Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let quantile = |q: f64| {
            let rank = ((total as f64 * q).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return Duration::from_micros(bucket_floor(i + 1));
                }
            }
            Duration::ZERO
        };
        Summary {
            done: self.done.swap(0, Relaxed),
            retried: self.retried.swap(0, Relaxed),
            dead: self.dead.swap(0, Relaxed),
            p50: if total > 0 {
                quantile(0.5)
            } else {
                Duration::ZERO
            },
            p99: if total > 0 {
                quantile(0.99)
            } else {
                Duration::ZERO
            },
        }
    }
}

/// Milliseconds to the microsecond.
fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e3
}

/// Logs `queue`'s summary at INFO, unless nothing ended in the interval.
pub(crate) fn log(queue: &str, worker: &str, s: Summary) {
    if s.is_empty() {
        return;
    }
    tracing::info!(
        queue,
        worker,
        done = s.done,
        failed = s.retried + s.dead,
        retried = s.retried,
        dead = s.dead,
        p50_ms = ms(s.p50),
        p99_ms = ms(s.p99),
        "jobs summary"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_within_an_eighth() {
        for i in 0..BUCKETS - 1 {
            assert_eq!(bucket(bucket_floor(i)), i, "floor of {i}");
            assert_eq!(bucket(bucket_floor(i + 1) - 1), i, "top of {i}");
        }
        for us in [9u64, 100, 1_000, 123_456, 60_000_000] {
            let upper = bucket_floor(bucket(us) + 1) as f64;
            assert!(
                upper > us as f64 && upper <= us as f64 * 1.125 + 1.0,
                "{us}"
            );
        }
    }

    #[test]
    fn a_summary_counts_endings_and_percentiles_then_starts_over() {
        let t = Tally::default();
        for ms in 1..=100 {
            t.record(Ending::Done, Duration::from_millis(ms));
        }
        t.record(Ending::Retried, Duration::from_millis(1));
        t.record(Ending::Dead, Duration::from_secs(5));
        let s = t.take();
        assert_eq!((s.done, s.retried, s.dead), (100, 1, 1));
        // 102 samples: the median is about 50 ms, the 99th percentile 100 ms.
        let p50 = s.p50.as_secs_f64() * 1e3;
        let p99 = s.p99.as_secs_f64() * 1e3;
        assert!((48.0..=57.0).contains(&p50), "p50 {p50}");
        assert!((100.0..=113.0).contains(&p99), "p99 {p99}");
        assert!(t.take().is_empty(), "a new interval starts empty");
    }
}
