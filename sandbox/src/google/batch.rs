//! Gmail's batch endpoint, `POST /batch/gmail/v1`: a multipart/mixed body of up to
//! [`MAX_BATCH`] `application/http` parts, each a `GET /gmail/v1/users/me/messages/{id}?…`,
//! answered in order with its own status; every inner call is charged to the quota.

use std::sync::Arc;

use poem::{handler, web::Data, Request, Response};
use serde_json::json;

use super::{admit, bad_request, message_json, MAX_BATCH};
use crate::{faults::truncated, mail::mix, SandboxState};

/// `POST /batch/gmail/v1`: multipart/mixed of `application/http` parts, each a
/// `GET /gmail/v1/users/me/messages/{id}?…` answered in order with its own status.
#[handler]
pub(super) async fn batch(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    body: String,
) -> Response {
    // Every inner call counts against the quota.
    let calls = body.matches("application/http").count().max(1) as u32;
    let (account, malformed) = match admit(&state, req, true, 5 * calls).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(boundary) = ct
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .filter(|_| ct.starts_with("multipart/mixed"))
    else {
        return bad_request("Batch requests must be multipart/mixed with a boundary");
    };
    let delimiter = format!("--{boundary}");
    let parts: Vec<&str> = body
        .split(delimiter.as_str())
        .skip(1)
        .take_while(|p| !p.starts_with("--"))
        .collect();
    if parts.is_empty() {
        return bad_request("Empty batch request");
    }
    if parts.len() > MAX_BATCH {
        return bad_request(&format!(
            "Too many requests in batch: {} (maximum {MAX_BATCH})",
            parts.len()
        ));
    }
    let out_boundary = format!(
        "batch_{:016x}",
        mix(state.seed, &account) ^ parts.len() as u64
    );
    let mut out = String::new();
    for (n, part) in parts.iter().enumerate() {
        let part = part.trim_start_matches(['\r', '\n']);
        let (head, inner) = split_head(part);
        let content_id = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-id")
                    .then(|| v.trim().trim_matches(['<', '>']).to_string())
            })
            .unwrap_or_else(|| format!("item{}", n + 1));
        let request_line = inner.trim_start().lines().next().unwrap_or("");
        let mut words = request_line.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let (status, reply) = match (method, path.strip_prefix("/gmail/v1/users/me/messages/")) {
            ("GET", Some(id)) if !id.is_empty() && !id.contains('/') => {
                message_json(&state, &account, id, query)
            }
            _ => (
                404,
                json!({"error": {"code": 404, "message": "Requested entity was not found.",
                    "errors": [{"message": "Not Found", "domain": "global", "reason": "notFound"}],
                    "status": "NOT_FOUND"}}),
            ),
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            _ => "Not Found",
        };
        out.push_str(&format!(
            "--{out_boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{content_id}>\r\n\r\n\
             HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\nVary: Origin\r\n\r\n{reply}\r\n"
        ));
    }
    out.push_str(&format!("--{out_boundary}--\r\n"));
    Response::builder()
        .content_type(format!("multipart/mixed; boundary={out_boundary}"))
        .body(if malformed { truncated(&out) } else { out })
}

/// Splits a MIME entity at its first blank line: (headers, rest).
fn split_head(s: &str) -> (&str, &str) {
    if let Some(i) = s.find("\r\n\r\n") {
        (&s[..i], &s[i + 4..])
    } else if let Some(i) = s.find("\n\n") {
        (&s[..i], &s[i + 2..])
    } else {
        (s, "")
    }
}
