//! lifesync-sandbox: a loopback stand-in for the six providers lifesync syncs from, with their
//! real wire shapes, deterministic data from a seed, and switchable faults. It knows nothing of
//! lifesync (the product depends on it, never the other way): its own provider names
//! ([`Provider`]), its own client configuration ([`provider_config`]), its own server
//! ([`serve()`]) and certificate authority ([`tls`]).
//!
//! Map of the crate (one file per provider, each with the same inner shape: its
//! [`ProviderSpec`](provider::ProviderSpec), data set, handlers, routes; sandbox-only control
//! endpoints live under `/_sandbox/` and never exist at a real provider):
//! - [`provider`]: the provider names, the one table of providers ([`provider::SPECS`]: each
//!   provider file's `SPEC`, which [`app`], the preamble, the OAuth engine and
//!   [`provider_config`] read instead of naming providers) and the endpoints that point a
//!   client at the sandbox;
//! - [`state`]: [`SandboxState`], the shared state of one sandbox: issued tokens, the clock,
//!   the request and revocation logs, and every provider's data set;
//! - [`faults`]: the faults a test switches on ([`Faults`]) and the one a request gets;
//! - [`preamble`]: the one request preamble of every data handler (record, faults, the
//!   provider's 401, quota, each the way its spec says), and the request and reply helpers the
//!   handlers share;
//! - [`oauth`]: one OAuth engine for all six providers, a [`oauth::Flavor`] each (in its
//!   spec);
//! - [`instagram`] (`/instagram`), [`twitter`] (`/twitter`), [`google`] (Gmail, `/google`),
//!   [`facebook`] (`/facebook`), [`linkedin`] (`/linkedin`), [`microsoft`] (Outlook,
//!   `/microsoft`): the providers' profile and data endpoints under their documented paths;
//! - [`meta`]: the Graph helpers Instagram and Facebook share (fields, errors, faults, paging
//!   links, signed CDN links);
//! - [`mail`]: the mailbox behind Gmail and Outlook (corpus, changes, versions) and its one
//!   control API;
//! - [`feed_control`], [`control`]: the control API of the social feeds and of the sandbox
//!   as a whole (tokens, clock, faults, logs);
//! - [`mod@serve`], [`tls`]: serving over HTTP or HTTPS (a private CA generated at start).
//!
//! Adding a provider `<p>`: one file `src/<p>.rs` with its routes (data handlers starting with
//! `preamble::admit`) and its `pub const SPEC: ProviderSpec` (name, OAuth endpoints and
//! [`oauth::Flavor`], scopes, 401 reply, fault and quota replies, routes, control routes),
//! declared `pub mod <p>;` here; its variant of [`Provider`] and its line in
//! [`provider::SPECS`] (in that order; a test checks it). A provider that keeps a data set
//! also gets its field in [`SandboxState`] (`src/state.rs`), which the handlers and the
//! product's tests read by name; a social feed whose items tests edit invokes
//! `feed_control::editable_feed!` on it and mounts `feed_control::routes` with
//! `Feed(|s| &s.<p>)`, a mailbox ([`mail::MailData`]) mounts `mail::control::routes` with
//! `Mail { data: |s| &s.<p>, folders }`.

// Helpers return the reply to send as their error: one per request, never hot.
#![allow(clippy::result_large_err)]

pub mod control;
pub mod facebook;
pub mod faults;
pub mod feed_control;
pub mod google;
pub mod instagram;
pub mod linkedin;
pub mod mail;
pub mod meta;
pub mod microsoft;
pub mod oauth;
pub mod preamble;
pub mod provider;
pub mod serve;
pub mod state;
pub mod tls;
pub mod twitter;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};

pub use faults::{DataFault, Faults};
pub use provider::{provider_config, ClientConfig, Provider};
pub use serve::{serve, serve_with};
pub use state::{Revocation, SandboxState, TokenInfo};

/// FNV-1a of a string: how every data set mixes the account into the seed.
pub(crate) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// A provider's routes, each request counted in [`SandboxState::hits`].
fn counted(p: Provider, routes: Route, state: &Arc<SandboxState>) -> impl Endpoint {
    let state = state.clone();
    routes.data(p).around(move |ep, req| {
        let state = state.clone();
        async move {
            state.hit(p);
            ep.call(req).await
        }
    })
}

/// The sandbox's routes: every provider of [`provider::SPECS`] at `/{name}` (counted) and its
/// control routes at `/_sandbox/{name}`, then the sandbox's own control API.
pub fn app(state: Arc<SandboxState>) -> impl Endpoint {
    let mut app = Route::new();
    for spec in provider::SPECS {
        app = app.nest(
            format!("/{}", spec.name),
            counted(spec.provider, (spec.routes)(), &state),
        );
        if let Some(control) = spec.control_routes {
            app = app.nest(format!("/_sandbox/{}", spec.name), control());
        }
    }
    app.nest("/_sandbox", control::routes()).data(state)
}
