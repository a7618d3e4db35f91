//! Typed enqueue: the only way to create jobs. A payload type implements [`Job`]; its queue,
//! attempt budget, unique key and deterministic id come from the type, never from the caller.

use std::time::Duration;

use crate::{
    payloads::Job,
    store::{Enqueued, NewJob, QueueError, Store},
};

/// Options for one enqueue.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Run no earlier than this from now (zero: at once).
    pub delay: Duration,
    /// Overrides the type's attempt budget.
    pub max_attempts: Option<u32>,
}

/// Writes typed jobs to their queues.
#[derive(Debug, Clone)]
pub struct Producer {
    store: Store,
}

impl Producer {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Enqueues one job to run at once.
    pub async fn enqueue<J: Job>(&self, job: &J) -> Result<Enqueued, QueueError> {
        self.enqueue_with(job, EnqueueOptions::default()).await
    }

    /// Enqueues one job with options.
    pub async fn enqueue_with<J: Job>(
        &self,
        job: &J,
        opts: EnqueueOptions,
    ) -> Result<Enqueued, QueueError> {
        let new = new_job(job, &opts)?;
        let mut out = self.store.enqueue(J::QUEUE, &[new]).await?;
        Ok(out.remove(0))
    }

    /// Enqueues many jobs of one type in bounded batches (one script call per 500 jobs).
    pub async fn enqueue_batch<J: Job>(
        &self,
        jobs: &[J],
        opts: EnqueueOptions,
    ) -> Result<Vec<Enqueued>, QueueError> {
        let new = jobs
            .iter()
            .map(|j| new_job(j, &opts))
            .collect::<Result<Vec<_>, _>>()?;
        self.store.enqueue(J::QUEUE, &new).await
    }

    /// Enqueues many jobs of one type, each with its own options (e.g. a spread of delays).
    pub async fn enqueue_batch_each<J: Job>(
        &self,
        jobs: &[(J, EnqueueOptions)],
    ) -> Result<Vec<Enqueued>, QueueError> {
        let new = jobs
            .iter()
            .map(|(j, o)| new_job(j, o))
            .collect::<Result<Vec<_>, _>>()?;
        self.store.enqueue(J::QUEUE, &new).await
    }
}

fn new_job<J: Job>(job: &J, opts: &EnqueueOptions) -> Result<NewJob, QueueError> {
    let fixed = job.job_id();
    Ok(NewJob {
        fixed_id: fixed.is_some(),
        id: fixed.unwrap_or_else(|| ulid::Ulid::new().to_string()),
        payload: serde_json::to_string(job)?,
        max_attempts: opts.max_attempts.unwrap_or(J::MAX_ATTEMPTS),
        delay: opts.delay,
        unique_key: job.unique_key(),
    })
}
