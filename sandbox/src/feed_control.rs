//! Sandbox-only control of the social feeds (Instagram media, Facebook posts, LinkedIn posts),
//! one set of handlers for all three, mounted under `/_sandbox/{provider}`:
//! `POST /accounts/:id/{collection}` `{"count"}` adds items, `POST /accounts/:id/edits`
//! `{"count"}` edits the text of that many, `POST /accounts/:id/deletions` `{"count"}` deletes
//! that many (each answers `{"ids": [...]}`), `GET /accounts/:id/{collection}` lists live ids.

use std::sync::Arc;

use poem::{
    handler,
    web::{Data, Json, Path},
    EndpointExt, Route,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::SandboxState;

/// A feed whose items tests add, edit and delete between syncs.
pub trait EditableFeed: Send + Sync {
    fn ids(&self, account: &str) -> Vec<String>;
    fn add(&self, account: &str, n: usize) -> Vec<String>;
    fn edit(&self, account: &str, n: usize) -> Vec<String>;
    fn delete(&self, account: &str, n: usize) -> Vec<String>;
}

/// `editable_feed!(T)`: [`EditableFeed`] for a data set `T` with inherent `ids`, `add`, `edit`
/// and `delete` (invoked in each feed provider's file).
macro_rules! editable_feed {
    ($($t:ty),*) => {$(
        impl $crate::feed_control::EditableFeed for $t {
            fn ids(&self, account: &str) -> Vec<String> { <$t>::ids(self, account) }
            fn add(&self, account: &str, n: usize) -> Vec<String> { <$t>::add(self, account, n) }
            fn edit(&self, account: &str, n: usize) -> Vec<String> { <$t>::edit(self, account, n) }
            fn delete(&self, account: &str, n: usize) -> Vec<String> { <$t>::delete(self, account, n) }
        }
    )*};
}

pub(crate) use editable_feed;

/// Which feed a route set controls: where its data set is in the [`SandboxState`] (e.g.
/// `Feed(|s| &s.linkedin)`).
#[derive(Clone, Copy)]
pub struct Feed(pub fn(&SandboxState) -> &dyn EditableFeed);

impl Feed {
    fn of(self, state: &SandboxState) -> &dyn EditableFeed {
        (self.0)(state)
    }
}

#[derive(Deserialize)]
struct Count {
    count: usize,
}

#[handler]
fn add(
    state: Data<&Arc<SandboxState>>,
    feed: Data<&Feed>,
    Path(account): Path<String>,
    body: Json<Count>,
) -> Json<Value> {
    Json(json!({ "ids": feed.of(&state).add(&account, body.count) }))
}

#[handler]
fn edit(
    state: Data<&Arc<SandboxState>>,
    feed: Data<&Feed>,
    Path(account): Path<String>,
    body: Json<Count>,
) -> Json<Value> {
    Json(json!({ "ids": feed.of(&state).edit(&account, body.count) }))
}

#[handler]
fn delete(
    state: Data<&Arc<SandboxState>>,
    feed: Data<&Feed>,
    Path(account): Path<String>,
    body: Json<Count>,
) -> Json<Value> {
    Json(json!({ "ids": feed.of(&state).delete(&account, body.count) }))
}

#[handler]
fn ids(
    state: Data<&Arc<SandboxState>>,
    feed: Data<&Feed>,
    Path(account): Path<String>,
) -> Json<Value> {
    Json(json!({ "ids": feed.of(&state).ids(&account) }))
}

/// The control routes of one feed; `collection` names its items (`media`, `posts`).
pub fn routes(collection: &str, feed: Feed) -> Route {
    Route::new().nest(
        "/",
        Route::new()
            .at(
                format!("/accounts/:id/{collection}"),
                poem::post(add).get(ids),
            )
            .at("/accounts/:id/edits", poem::post(edit))
            .at("/accounts/:id/deletions", poem::post(delete))
            .data(feed),
    )
}
