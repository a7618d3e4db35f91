//! Step 2 of an erase: every Redis key that holds something of the user, deleted.
//!
//! | key (P = the prefix) | found by |
//! |---|---|
//! | `{P:oauth}:state:<hash>` (+ its members of `{P:oauth}:states`, `…:verifiers`) | SCAN `{P:oauth}:*`, the record's `user_id` |
//! | `{P:oauth}:tmp:completion:<id>`, `…:tmp:held-job:<id>`, `…:tmp:checkpoint:<id>` | SCAN, the completion's or held job's `user_id` |
//! | `{P:oauth}:refresh:<source>` and any other `{P:oauth}:` key naming one of their sources | the source ids |
//! | `P:ratelimit:api:user:<hash>` | the user id |
//! | `{P:ratelimit:<provider>}:account:<account>` | the sources' accounts (a bucket another user shares only restarts) |
//! | `{P:<queue>[:<shard>]}:job:<id>`, or a fresh job's field of `{P:<queue>…}:fresh` / `…:done:<t>`, whose payload names the user or one of their sources, in any state, with its queue entries and unique key (`{P:<queue>…}:unique:sync:<source>`) | [`Store::scan_jobs`]: SCAN `{P:*}:job:*` (every master of a cluster) and HSCAN of each queue's `fresh` and `done:<t>` hashes, then [`Store::remove_jobs`] |
//!
//! A job of theirs goes whatever its state: queued, scheduled for later, waiting for a
//! retry, dead-lettered, succeeded, or held by a worker at this moment. The queue removes
//! each one atomically ([`Store::remove_jobs`]); a worker still running a sync of theirs
//! finds its source fenced or gone and ends without storing anything, and its
//! acknowledgement then finds no record and writes nothing back. The one exception is a live
//! account-connection job of the user: it is reported instead ([`Purged::live_connects`]) and
//! the erase waits for it, since cutting it loose could not stop a connection already being
//! exchanged. The scans cost one pass over the prefix's keys (SCAN in steps of
//! [`SCAN_COUNT`]), acceptable for a rare background job.

use std::collections::{HashMap, HashSet};

use lifesync_jobs::{payloads::queues, Store};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::{db::users::SourceToRevoke, oauth::state::StateStore};

/// Keys per SCAN step.
pub const SCAN_COUNT: usize = 1000;

/// What a purge did and saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Keys deleted.
    pub deleted: usize,
    /// Account-connection jobs of the user still queued or running.
    pub live_connects: usize,
}

/// Deletes the user's keys (see the module docs).
pub async fn purge(
    store: &Store,
    states: &StateStore,
    user_id: &str,
    sources: &[SourceToRevoke],
) -> anyhow::Result<Purged> {
    let mut out = Purged::default();
    let prefix = states.prefix().to_string();
    let mut conn = states.conn();
    let source_ids: HashSet<String> = sources.iter().map(|s| s.id.to_string()).collect();

    // Keys whose names we know.
    let mut exact = vec![crate::services::user_limit::user_key(&prefix, user_id)];
    for s in sources {
        exact.push(states.prefixed(&format!("refresh:{}", s.id)));
        exact.push(crate::providers::limiter::account_key(
            &prefix,
            &s.provider,
            &s.account_id,
        ));
    }
    out.deleted += conn.del::<_, usize>(&exact).await?;

    // OAuth states, completions and anything else under `oauth:` that names them (one hash
    // tag, so one slot: in a cluster the walk still visits every master, cheaply).
    let pattern = format!("{{{}:oauth}}:*", lifesync_jobs::store::glob_escape(&prefix));
    let state_head = states.prefixed("state:");
    let tmp_head = states.prefixed("tmp:");
    let mut found: Vec<String> = Vec::new();
    conn.clone()
        .scan_match(&pattern, SCAN_COUNT, |keys| {
            found.extend(keys);
            async { Ok(()) }
        })
        .await?;
    found.sort_unstable();
    found.dedup();
    let mut completions: HashSet<String> = HashSet::new();
    for keys in found.chunks(SCAN_COUNT) {
        let mut inspect = Vec::new();
        let mut doomed = Vec::new();
        for k in keys {
            if source_ids.iter().any(|id| k.contains(id.as_str())) {
                doomed.push(k.clone());
            } else if k.starts_with(&state_head)
                || k.starts_with(&format!("{tmp_head}completion:"))
                || k.starts_with(&format!("{tmp_head}held-job:"))
            {
                inspect.push(k.clone());
            }
        }
        if !inspect.is_empty() {
            let values: Vec<Option<String>> = conn.mget(&inspect).await?;
            for (k, v) in inspect.into_iter().zip(values) {
                if !v.as_deref().is_some_and(|v| names_user(v, user_id)) {
                    continue;
                }
                if let Some(hash) = k.strip_prefix(&state_head) {
                    states.discard_hashed(hash).await?;
                    out.deleted += 1;
                } else if let Some(id) = k
                    .strip_prefix(&format!("{tmp_head}completion:"))
                    .or_else(|| k.strip_prefix(&format!("{tmp_head}held-job:")))
                {
                    completions.insert(id.to_string());
                }
            }
        }
        if !doomed.is_empty() {
            out.deleted += conn.del::<_, usize>(&doomed).await?;
        }
    }
    for id in &completions {
        let names: Vec<String> = ["completion", "held-job", "checkpoint"]
            .iter()
            .map(|kind| states.prefixed(&format!("tmp:{kind}:{id}")))
            .collect();
        out.deleted += conn.del::<_, usize>(&names).await?;
    }

    // Jobs whose payload names the user or one of their sources, in any state.
    let mut doomed_jobs: HashMap<String, Vec<String>> = HashMap::new();
    store
        .scan_jobs(SCAN_COUNT, |jobs| {
            for j in jobs {
                let Ok(payload) = serde_json::from_str::<serde_json::Value>(&j.payload) else {
                    continue;
                };
                let names_source = payload["data_source_id"]
                    .as_str()
                    .and_then(|s| s.parse::<Uuid>().ok())
                    .is_some_and(|id| source_ids.contains(&id.to_string()));
                if payload["user_id"].as_str() != Some(user_id) && !names_source {
                    continue;
                }
                if j.queue == queues::OAUTH_COMPLETION && !j.is_finished() {
                    out.live_connects += 1;
                } else {
                    doomed_jobs.entry(j.queue).or_default().push(j.id);
                }
            }
        })
        .await?;
    for (queue, mut ids) in doomed_jobs {
        ids.sort_unstable();
        ids.dedup(); // SCAN may return a key twice
        out.deleted += store.remove_jobs(&queue, &ids).await?;
    }
    Ok(out)
}

/// Whether a stored JSON record (state, completion, held job) belongs to the user.
fn names_user(json: &str, user_id: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .is_some_and(|v| v["user_id"].as_str() == Some(user_id))
}
