//! lifesync: syncs a person's posts, photos and emails out of the services they use into
//! PostgreSQL, through a durable Redis job queue (the `lifesync-jobs` crate).
//!
//! Map of the crate (data flows one way: api → jobs → workers → providers → normalizer → db):
//! - [`config`]: typed configuration from the environment, validated at start-up;
//! - [`crypto`]: AES-256-GCM sealing of provider tokens and OAuth secrets at rest;
//! - [`db`]: PostgreSQL connection and the embedded migrations (`migrations/`);
//! - [`providers`]: the provider ids (the provider clients arrive with the sync issues);
//! - [`bench`]: the `lifesync bench …` measurements.

pub mod bench;
pub mod config;
pub mod crypto;
pub mod db;
pub mod providers;
