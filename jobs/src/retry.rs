//! Retry policy and the error kinds a job handler returns.
//!
//! The kind alone decides what happens next: [`JobError::Retryable`] spends an attempt and
//! waits an exponential, jittered delay; [`JobError::RetryAfter`] waits exactly the delay the
//! provider asked for and spends no attempt; [`JobError::Throttled`] (a throttle that named no
//! time) spends no attempt and waits the queue's throttle backoff at the job's deferral count
//! (1 min doubling to 1 h by default); [`JobError::Permanent`] dead-letters at once. Both
//! deferrals count toward the queue's deferral cap, past which the job is dead.
//! apalis's own `AbortError` and `RetryAfterError` are understood too; any other error,
//! a timeout or a panic counts as retryable.

use std::time::Duration;

use apalis_core::error::{AbortError, BoxDynError, RetryAfterError};
use rand::Rng;

/// Exponential backoff with jitter: attempt n waits `base * factor^(n-1)`, capped at `max`,
/// multiplied by a random factor in `[1 - jitter, 1 + jitter]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub factor: f64,
    pub max: Duration,
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            factor: 2.0,
            max: Duration::from_secs(3600),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The wait after a provider throttle that named no time: 1 min doubling to 1 h, ±20 %.
    pub fn throttle_default() -> Self {
        Self {
            base: Duration::from_secs(60),
            factor: 2.0,
            max: Duration::from_secs(3600),
            jitter: 0.2,
        }
    }

    /// The delay before the attempt after failed attempt `attempt` (1-based), without jitter.
    pub fn nominal_delay(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(64) as i32);
        let secs = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        Duration::from_secs_f64(secs)
    }

    /// The nominal delay with jitter applied.
    pub fn delay(&self, attempt: u32) -> Duration {
        let nominal = self.nominal_delay(attempt).as_secs_f64();
        let j = self.jitter.clamp(0.0, 1.0);
        let factor = if j > 0.0 {
            rand::rng().random_range(1.0 - j..=1.0 + j)
        } else {
            1.0
        };
        Duration::from_secs_f64(nominal * factor)
    }
}

/// What a job handler returns when it fails.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A transient failure: retried with backoff until the attempts run out.
    #[error("{0}")]
    Retryable(BoxDynError),
    /// The provider asked us to come back later (Retry-After, rate-limit reset): rescheduled
    /// exactly then, without spending an attempt.
    #[error("retry after {delay:?}: {source}")]
    RetryAfter {
        delay: Duration,
        #[source]
        source: BoxDynError,
    },
    /// The provider throttled us without saying for how long: rescheduled after the queue's
    /// throttle backoff for the job's deferral count (exponential, jittered), without spending
    /// an attempt.
    #[error("throttled: {0}")]
    Throttled(BoxDynError),
    /// Retrying cannot help (bad input, a bug): dead-lettered at once.
    #[error("permanent: {0}")]
    Permanent(BoxDynError),
}

impl JobError {
    pub fn retryable(e: impl Into<BoxDynError>) -> Self {
        Self::Retryable(e.into())
    }
    pub fn retry_after(delay: Duration, e: impl Into<BoxDynError>) -> Self {
        Self::RetryAfter {
            delay,
            source: e.into(),
        }
    }
    pub fn permanent(e: impl Into<BoxDynError>) -> Self {
        Self::Permanent(e.into())
    }
    pub fn throttled(e: impl Into<BoxDynError>) -> Self {
        Self::Throttled(e.into())
    }
}

/// The queue-level decision for a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FailureClass {
    Retry,
    RetryAfter(Duration),
    Throttled,
    Abort,
}

/// Classifies a handler error by its type (ours first, then apalis's).
pub(crate) fn classify(err: &(dyn std::error::Error + 'static)) -> FailureClass {
    if let Some(e) = err.downcast_ref::<JobError>() {
        return match e {
            JobError::Retryable(_) => FailureClass::Retry,
            JobError::RetryAfter { delay, .. } => FailureClass::RetryAfter(*delay),
            JobError::Throttled(_) => FailureClass::Throttled,
            JobError::Permanent(_) => FailureClass::Abort,
        };
    }
    if err.downcast_ref::<AbortError>().is_some() {
        return FailureClass::Abort;
    }
    if let Some(e) = err.downcast_ref::<RetryAfterError>() {
        return FailureClass::RetryAfter(e.get_duration());
    }
    FailureClass::Retry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_and_cap() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            factor: 2.0,
            max: Duration::from_secs(10),
            jitter: 0.0,
        };
        let got: Vec<u64> = (1..=6).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = RetryPolicy {
            base: Duration::from_millis(1000),
            jitter: 0.2,
            ..RetryPolicy::default()
        };
        for _ in 0..1000 {
            let d = p.delay(1).as_millis();
            assert!((800..=1200).contains(&d), "{d}");
        }
    }

    #[test]
    fn classification_by_type() {
        let e: BoxDynError = Box::new(JobError::permanent("gone"));
        assert_eq!(classify(e.as_ref()), FailureClass::Abort);
        let e: BoxDynError = Box::new(JobError::retry_after(Duration::from_secs(7), "429"));
        assert_eq!(
            classify(e.as_ref()),
            FailureClass::RetryAfter(Duration::from_secs(7))
        );
        let e: BoxDynError = Box::new(JobError::throttled("code 4"));
        assert_eq!(classify(e.as_ref()), FailureClass::Throttled);
        let e: BoxDynError = Box::new(AbortError::new("x"));
        assert_eq!(classify(e.as_ref()), FailureClass::Abort);
        let e: BoxDynError = "plain".into();
        assert_eq!(classify(e.as_ref()), FailureClass::Retry);
    }
}
