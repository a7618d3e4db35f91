//! Connecting accounts: OAuth 2.0 authorization-code flows for the six providers.
//!
//! Each provider's OAuth facts (endpoints, scopes, PKCE, client authentication, long-lived
//! exchange, refresh, revocation) are one table entry in `providers::oauth_spec`.
//!
//! * `apps` — the configured apps (each a `providers::app::ProviderApp`: credentials and the
//!   endpoints in force), with their shared HTTP client.
//! * `state` — state + sealed PKCE verifier in Redis, consumed once; temporary data; stats.
//! * `authorize` — the authorization URL (the `oauth2` crate).
//! * `token_client` — code exchange, long-lived exchange, refresh, revoke; lenient parsing.
//! * `completions` — completion records and the completion job's token checkpoint.
//! * `tokens` — a source's access token over its life: renewal before expiry and after a 401,
//!   one refresh at a time across processes, `reauth_required` when refused.
//! * `refresh_lock` — the per-source refresh lock: a renewed lease, a fencing token and the
//!   register of renewals in flight.
//!
//! Flow: `GET /authorize` stores a state and answers the URL → the provider redirects to
//! `GET /callback` → the state is consumed and an `OAuthCompletion` job enqueued → the job
//! exchanges the code, fetches the profile, upserts the data source, stores the tokens sealed
//! and enqueues the first full sync.

pub mod apps;
pub mod authorize;
pub mod completions;
pub mod refresh_lock;
pub mod state;
pub mod token_client;
pub mod tokens;
