//! Every provider has every piece (`complete`); each provider against the sandbox (the four social feeds through
//! `common::feed_sync_scenarios`, the two mailboxes through `common::mail_sync_scenarios`,
//! plus their own quirks), LinkedIn's configuration, the shared rate limiter and TLS on the
//! provider path.

mod complete;
mod facebook;
mod gmail;
mod instagram;
mod limiter;
mod linkedin;
mod linkedin_config;
mod outlook;
mod tls;
mod twitter;
