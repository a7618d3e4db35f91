//! The one sandbox-only control API of the mailboxes, mounted under `/_sandbox/google` (Gmail)
//! and `/_sandbox/microsoft` (Outlook): `GET accounts/{a}/messages` (live ids),
//! `POST accounts/{a}/messages {"count"}` (add), `POST accounts/{a}/messages/delete
//! {"ids"?, "oldest"?}` (delete by id and/or the oldest n), `POST accounts/{a}/messages/read
//! {"ids"?, "count"?}` (mark read the given ones and/or the n oldest unread: Gmail's `UNREAD`
//! removed, a `labelsRemoved` history record; Graph's `isRead`, a change in delta rounds) and,
//! for a mailbox with folders (Outlook), `POST accounts/{a}/messages/move {"ids", "folder"}`
//! (to a folder by well-known name, 400 for an unknown one). Each answers `{"ids": [...]}`.

use std::sync::Arc;

use poem::{
    handler,
    http::StatusCode,
    web::{Data, Json, Path},
    EndpointExt, Response, Route,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{MailData, MailKind};
use crate::SandboxState;

/// What the control API does to one provider's mailboxes (every [`MailData`] does it).
pub trait Control: Send + Sync {
    fn ids(&self, account: &str) -> Vec<String>;
    fn add(&self, account: &str, n: usize) -> Vec<String>;
    fn delete(&self, account: &str, m: usize) -> Vec<String>;
    fn delete_ids(&self, account: &str, ids: &[String]) -> Vec<String>;
    fn mark_read(&self, account: &str, ids: &[String]) -> Vec<String>;
    fn unread(&self, account: &str, n: usize) -> Vec<String>;
    /// None when the folder is unknown.
    fn move_to(&self, account: &str, ids: &[String], folder: &str) -> Option<Vec<String>>;
}

impl<K: MailKind> Control for MailData<K> {
    fn ids(&self, account: &str) -> Vec<String> {
        MailData::ids(self, account)
    }
    fn add(&self, account: &str, n: usize) -> Vec<String> {
        MailData::add(self, account, n)
    }
    fn delete(&self, account: &str, m: usize) -> Vec<String> {
        MailData::delete(self, account, m)
    }
    fn delete_ids(&self, account: &str, ids: &[String]) -> Vec<String> {
        MailData::delete_ids(self, account, ids)
    }
    fn mark_read(&self, account: &str, ids: &[String]) -> Vec<String> {
        MailData::mark_read(self, account, ids)
    }
    fn unread(&self, account: &str, n: usize) -> Vec<String> {
        MailData::unread(self, account, n)
    }
    fn move_to(&self, account: &str, ids: &[String], folder: &str) -> Option<Vec<String>> {
        K::folder(folder).map(|name| self.move_ids(account, ids, name))
    }
}

/// Whose mailboxes a route set controls: where its data set is in the [`SandboxState`] (e.g.
/// `|s| &s.google`) and whether it has folders (its [`MailKind::FOLDERS`]).
#[derive(Clone, Copy)]
pub struct Mail {
    pub data: fn(&SandboxState) -> &dyn Control,
    pub folders: bool,
}

impl Mail {
    fn of(self, state: &SandboxState) -> &dyn Control {
        (self.data)(state)
    }
}

#[derive(Deserialize)]
struct AddBody {
    count: usize,
}

#[derive(Deserialize)]
struct DeleteBody {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    oldest: usize,
}

#[derive(Deserialize)]
struct ReadBody {
    #[serde(default)]
    ids: Vec<String>,
    /// Besides `ids`, this many unread messages (oldest first).
    #[serde(default)]
    count: usize,
}

#[derive(Deserialize)]
struct MoveBody {
    ids: Vec<String>,
    /// The destination's well-known name (`archive`, `junkemail`, …).
    folder: String,
}

#[handler]
fn list_ids(
    state: Data<&Arc<SandboxState>>,
    mail: Data<&Mail>,
    Path(account): Path<String>,
) -> Json<Value> {
    Json(json!({"ids": mail.of(&state).ids(&account)}))
}

#[handler]
fn add_messages(
    state: Data<&Arc<SandboxState>>,
    mail: Data<&Mail>,
    Path(account): Path<String>,
    body: Json<AddBody>,
) -> Json<Value> {
    Json(json!({"ids": mail.of(&state).add(&account, body.count)}))
}

#[handler]
fn delete_messages(
    state: Data<&Arc<SandboxState>>,
    mail: Data<&Mail>,
    Path(account): Path<String>,
    body: Json<DeleteBody>,
) -> Json<Value> {
    let data = mail.of(&state);
    let mut ids = data.delete_ids(&account, &body.ids);
    ids.extend(data.delete(&account, body.oldest));
    Json(json!({"ids": ids}))
}

#[handler]
fn read_messages(
    state: Data<&Arc<SandboxState>>,
    mail: Data<&Mail>,
    Path(account): Path<String>,
    body: Json<ReadBody>,
) -> Json<Value> {
    let data = mail.of(&state);
    let mut ids = body.ids.clone();
    ids.extend(data.unread(&account, body.count));
    Json(json!({"ids": data.mark_read(&account, &ids)}))
}

#[handler]
fn move_messages(
    state: Data<&Arc<SandboxState>>,
    mail: Data<&Mail>,
    Path(account): Path<String>,
    body: Json<MoveBody>,
) -> Response {
    match mail.of(&state).move_to(&account, &body.ids, &body.folder) {
        None => Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body("unknown folder"),
        Some(ids) => Response::builder()
            .content_type("application/json")
            .body(json!({ "ids": ids }).to_string()),
    }
}

/// The control routes of one provider's mailboxes.
pub fn routes(mail: Mail) -> Route {
    let mut routes = Route::new()
        .at(
            "/accounts/:account/messages/read",
            poem::post(read_messages),
        )
        .at(
            "/accounts/:account/messages",
            poem::get(list_ids).post(add_messages),
        )
        .at(
            "/accounts/:account/messages/delete",
            poem::post(delete_messages),
        );
    if mail.folders {
        routes = routes.at(
            "/accounts/:account/messages/move",
            poem::post(move_messages),
        );
    }
    Route::new().nest("/", routes.data(mail))
}
