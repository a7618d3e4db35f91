//! Graph's delta query on a mail folder, `GET /v1.0/me/mailFolders/{folder}/messages/delta`:
//! an initial round then change rounds, paged by `Prefer: odata.maxpagesize` (or `$top`), with
//! `@odata.nextLink` (`$skiptoken`) until the last page's `@odata.deltaLink` (`$deltatoken`);
//! the tokens encode the round.

use std::sync::Arc;

use base64::Engine;
use poem::{
    handler,
    web::{Data, Path},
    Request, Response,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    changed_v, folder, graph_error, link, message_json, no_such_folder, prefer, regular_id, reply,
    serve_data, top,
};
use crate::{
    mail::Mail,
    preamble::{first, pairs},
    SandboxState,
};

/// A delta round, encoded in `$skiptoken` (a page of a round) and `$deltatoken` (the next
/// round's start).
#[derive(Serialize, Deserialize)]
struct Round {
    /// Mailbox version the round reports changes after (None: the initial round).
    from: Option<u64>,
    /// Mailbox version the round reports up to.
    to: u64,
    offset: usize,
    select: Vec<String>,
    top: Option<usize>,
}

fn encode(r: &Round) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(r).expect("round serializes"))
}

fn decode(t: &str) -> Option<Round> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `GET /v1.0/me/mailFolders/{folder}/messages/delta`.
#[handler]
pub(super) async fn delta(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    Path(segment): Path<String>,
) -> Response {
    let Some((name, _, _)) = folder(&segment) else {
        return no_such_folder();
    };
    let q = pairs(req.uri().query().unwrap_or(""));
    let p = prefer(req);
    let state: &SandboxState = &state;
    serve_data(state, req, true, |account, malformed| {
        let current = state.microsoft.with(account, |mb| mb.version);
        let round = if let Some(t) = first(&q, "$deltatoken") {
            match decode(t) {
                Some(r) if !state.cursors_expired() && r.to <= current => Round {
                    from: Some(r.to),
                    to: current,
                    offset: 0,
                    select: r.select,
                    top: r.top,
                },
                _ => {
                    return graph_error(
                        410,
                        "SyncStateNotFound",
                        &format!(
                            "The sync state generation is not found; generation={};[highest={}]",
                            current.saturating_sub(8),
                            current
                        ),
                    )
                }
            }
        } else if let Some(t) = first(&q, "$skiptoken") {
            match decode(t) {
                Some(r) => r,
                None => {
                    return graph_error(400, "ErrorInvalidRequest", "The skip token is invalid.")
                }
            }
        } else {
            let t = match top(&q) {
                Ok(t) => t,
                Err(r) => return r,
            };
            Round {
                from: None,
                to: current,
                offset: 0,
                select: first(&q, "$select")
                    .map(|s| s.split(',').map(|f| f.trim().to_string()).collect())
                    .unwrap_or_default(),
                top: t,
            }
        };
        let n = p.max_page.or(round.top).unwrap_or(10).min(1000);
        let changes: Vec<Value> = state.microsoft.with(account, |mb| {
            let mut out: Vec<(u64, Value)> = Vec::new();
            let here = |m: &Mail, v: u64| m.live_at(v) && m.folder_at(v) == name;
            for m in &mb.mails {
                match round.from {
                    None => {
                        if here(m, round.to) {
                            out.push((0, message_json(m, &round.select, &p)));
                        }
                    }
                    Some(from) => {
                        let (was, is) = (here(m, from), here(m, round.to));
                        if is && (!was || m.read_v.is_some_and(|r| r > from && r <= round.to)) {
                            // Entered the folder (new or moved in) or changed in it.
                            out.push((changed_v(m), message_json(m, &round.select, &p)));
                        } else if was && !is {
                            let id = if p.immutable {
                                m.id.clone()
                            } else {
                                regular_id(&m.id)
                            };
                            let gone = m.deleted_v.unwrap_or_else(|| changed_v(m));
                            out.push((
                                gone,
                                json!({"@odata.type": "#microsoft.graph.message", "id": id,
                                       "@removed": {"reason": "deleted"}}),
                            ));
                        }
                    }
                }
            }
            out.sort_by_key(|(v, _)| *v);
            out.into_iter().map(|(_, v)| v).collect()
        });
        let page: Vec<Value> = changes.iter().skip(round.offset).take(n).cloned().collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)",
            "value": page,
        });
        if round.offset + n < changes.len() {
            let next = Round {
                offset: round.offset + n,
                ..round
            };
            body["@odata.nextLink"] = json!(link(req, &format!("$skiptoken={}", encode(&next))));
        } else {
            let next = Round {
                from: None,
                offset: 0,
                ..round
            };
            body["@odata.deltaLink"] = json!(link(req, &format!("$deltatoken={}", encode(&next))));
        }
        reply(&body, &p, n, malformed)
    })
    .await
}
