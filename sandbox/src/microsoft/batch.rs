//! Graph's JSON batching, `POST /v1.0/$batch`: `{"requests": [{"id", "method", "url",
//! "headers"?, "dependsOn"?}]}` with 1 to [`MAX_REQUESTS`] GET requests, each `url` relative to
//! the version (`/me/mailFolders/…`). Every inner request is answered by the same routes as a
//! request of its own — token check, faults, throttling and all — with the batch's
//! `Authorization`; the batch is one request at the door. Inner requests run one after the other
//! in the order given; one whose `dependsOn` names a request that did not succeed is not run and
//! answers 424 `FailedDependency`, as at Graph. Responses come back in reverse order (Graph
//! promises no order: clients match them by `id`).

use std::{collections::HashMap, sync::Arc};

use poem::{
    handler,
    http::{header, Method},
    web::{Data, LocalAddr, RemoteAddr},
    EndpointExt, Request, RequestParts, Response, Route,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::graph_error;
use crate::{preamble::origin, Provider, SandboxState};

/// Graph's limit of requests in one batch.
pub const MAX_REQUESTS: usize = 20;

#[derive(Deserialize)]
struct Batch {
    requests: Vec<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default, rename = "dependsOn")]
    depends_on: Vec<String>,
}

fn invalid() -> Response {
    graph_error(400, "BadRequest", "Invalid batch payload format.")
}

/// `POST /v1.0/$batch`.
#[handler]
pub(super) async fn batch(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    body: String,
) -> Response {
    if let Err(r) = state.authenticate(Provider::Microsoft, req) {
        return r;
    }
    let Ok(batch) = serde_json::from_str::<Batch>(&body) else {
        return invalid();
    };
    if batch.requests.len() > MAX_REQUESTS {
        return graph_error(
            400,
            "BadRequest",
            "Number of batch requests exceeds the limit of 20.",
        );
    }
    let mut ids = std::collections::HashSet::new();
    for (n, r) in batch.requests.iter().enumerate() {
        let known_dependencies = r
            .depends_on
            .iter()
            .all(|d| batch.requests[..n].iter().any(|e| &e.id == d));
        if r.id.is_empty() || !ids.insert(r.id.as_str()) || !known_dependencies {
            return invalid();
        }
        if !r.url.starts_with('/') {
            return invalid();
        }
    }
    if batch.requests.is_empty() {
        return invalid();
    }
    // The batch's own prefix (`/microsoft`), under which the inner requests are routed.
    let path = req.original_uri().path();
    let prefix = path.strip_suffix("/v1.0/$batch").unwrap_or("").to_string();
    let routes = Route::new()
        .nest(
            if prefix.is_empty() { "/" } else { &prefix },
            super::routes(),
        )
        .data(state.0.clone())
        .data(Provider::Microsoft);
    let outer_origin = origin(req);
    let auth = req.headers().get(header::AUTHORIZATION).cloned();
    let mut statuses: HashMap<&str, u16> = HashMap::new();
    let mut responses = Vec::new();
    for r in &batch.requests {
        let failed_dependency = r.depends_on.iter().any(|d| {
            !statuses
                .get(d.as_str())
                .is_some_and(|s| (200..300).contains(s))
        });
        let (status, headers, body) = if failed_dependency {
            let body = json!({"error": {"code": "FailedDependency",
                "message": "The request was not run: a request it depends on failed."}});
            (424, Map::new(), body)
        } else if !r.method.eq_ignore_ascii_case("GET") {
            let body = json!({"error": {"code": "BadRequest",
                "message": "The sandbox answers only GET requests in a batch."}});
            (400, Map::new(), body)
        } else {
            let mut inner = poem::http::Request::builder()
                .method(Method::GET)
                .uri(format!("{outer_origin}{prefix}/v1.0{}", r.url));
            if let Some(a) = &auth {
                inner = inner.header(header::AUTHORIZATION, a.clone());
            }
            for (k, v) in &r.headers {
                inner = inner.header(k.as_str(), v.as_str());
            }
            let Ok(inner) = inner.body(()) else {
                return invalid();
            };
            // As a request of its own to the batch's origin (scheme and authority): its links
            // point where the batch was sent.
            let (parts, ()) = inner.into_parts();
            let parts = RequestParts::from((
                parts,
                LocalAddr::default(),
                RemoteAddr::default(),
                req.scheme().clone(),
            ));
            let inner = Request::from_parts(parts, poem::Body::empty());
            let reply = match routes.call(inner).await {
                Ok(reply) => reply,
                Err(e) => e.into_response(),
            };
            answer(reply).await
        };
        statuses.insert(r.id.as_str(), status);
        responses.push(json!({"id": r.id, "status": status, "headers": headers, "body": body}));
    }
    responses.reverse();
    Response::builder()
        .content_type("application/json")
        .body(json!({ "responses": responses }).to_string())
}

/// An inner reply as a batch response part: status, headers, body (JSON when it parses).
async fn answer(reply: Response) -> (u16, Map<String, Value>, Value) {
    let status = reply.status().as_u16();
    let mut headers = Map::new();
    for (k, v) in reply.headers() {
        if let Ok(v) = v.to_str() {
            headers.insert(k.as_str().to_string(), json!(v));
        }
    }
    let text = reply.into_body().into_string().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}
