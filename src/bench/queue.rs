//! `lifesync bench queue --jobs N --concurrency C`: no-op jobs through the real queue, under a
//! throw-away key prefix removed afterwards. The phases and figures are
//! [`lifesync_jobs::bench`]'s.

use lifesync_jobs::{QueueSettings, Store};

use crate::config::RedisConfig;

pub use lifesync_jobs::bench::QueueBench;

pub async fn run(redis: &RedisConfig, jobs: u64, concurrency: usize) -> anyhow::Result<QueueBench> {
    let prefix = format!("{}:bench:{}", redis.key_prefix, ulid::Ulid::new());
    let store = Store::connect(redis.settings.clone(), QueueSettings::new(prefix)).await?;
    let result = lifesync_jobs::bench::measure(&store, jobs, concurrency).await;
    let removed = store.purge_prefix().await?;
    eprintln!("bench queue: removed {removed} keys");
    result.map_err(|e| anyhow::anyhow!(e))
}
