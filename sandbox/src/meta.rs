//! The Graph API helpers Meta's two stand-ins share ([`crate::instagram`],
//! [`crate::facebook`]): the `fields` syntax, Graph's error and fault replies, the invalid-token
//! reply, `paging.next` links (with the access token, as Meta embeds it) and signed CDN links
//! that expire.

use poem::{http::StatusCode, Request, Response};
use serde_json::json;

use crate::{
    faults::DataFault,
    preamble::{admit, origin, query},
    Provider, SandboxState,
};

/// The start of a Graph list request (`GET …/{node}/{edge}`, one page): admitted as a data
/// page (token, faults), and only for the token's own node (`me` or its id), as Graph answers
/// for any other. The account, and whether the reply is to be malformed.
pub(crate) async fn admit_own_edge(
    state: &SandboxState,
    provider: Provider,
    req: &Request,
    edge: &str,
) -> Result<(String, bool), Response> {
    let admitted = admit(state, provider, req, true).await?;
    let malformed = admitted.settle(state)?;
    let account = admitted.account;
    let node = req
        .uri()
        .path()
        .trim_end_matches(edge)
        .rsplit('/')
        .next()
        .unwrap_or("me");
    if node != "me" && node != account {
        return Err(graph_error(400, 100, &format!("Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."), false));
    }
    Ok((account, malformed))
}

/// A Graph error reply.
pub(crate) fn graph_error(status: u16, code: i64, message: &str, transient: bool) -> Response {
    let mut error = json!({ "message": message, "type": "OAuthException", "code": code,
                            "fbtrace_id": "AbCdEfGhIjK" });
    if transient {
        error["is_transient"] = json!(true);
    }
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .content_type("application/json; charset=UTF-8")
        .body(json!({ "error": error }).to_string())
}

/// Meta's invalid-token reply (Graph error 190, HTTP 400).
pub fn graph_token_error() -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .header(
            "www-authenticate",
            r#"OAuth "Facebook Platform" "invalid_token" "Error validating access token""#,
        )
        .body(
            json!({"error": {"message": "Error validating access token: Session has expired.",
                "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbCdEfGhIjK"}})
            .to_string(),
        )
}

/// A Meta data fault as Graph renders it: 503 code 2 `is_transient`; throttling, Instagram
/// (`buc_id`) as 403 code 80002 with `X-Business-Use-Case-Usage`, Facebook as 400 code 4 with
/// `X-App-Usage`. (A malformed page is no reply: the handler cuts its page.)
pub(crate) fn fault_reply(fault: DataFault, buc_id: Option<&str>) -> Response {
    match fault {
        DataFault::Throttled { reset_secs } => match buc_id {
            Some(id) => {
                let mut r = graph_error(
                    403,
                    80002,
                    "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
                    true,
                );
                let usage = json!({ id: [{ "type": "instagram", "call_count": 100, "total_cputime": 12,
                    "total_time": 14, "estimated_time_to_regain_access": reset_secs / 60 }] });
                if let Ok(v) = usage.to_string().parse() {
                    r.headers_mut().insert("x-business-use-case-usage", v);
                }
                r
            }
            None => {
                let mut r = graph_error(400, 4, "(#4) Application request limit reached", true);
                r.headers_mut().insert(
                    "x-app-usage",
                    poem::http::HeaderValue::from_static(
                        r#"{"call_count":100,"total_cputime":25,"total_time":25}"#,
                    ),
                );
                r
            }
        },
        DataFault::Unavailable | DataFault::Malformed => graph_error(
            503,
            2,
            "An unexpected error has occurred. Please retry your request later.",
            true,
        ),
    }
}

/// A Graph `fields` parameter: top-level names, each with its nested spec (`children{id}`).
pub(crate) fn fields(spec: &str) -> Vec<(String, Option<String>)> {
    let (mut out, mut depth, mut cur) = (Vec::new(), 0, String::new());
    let mut push = |cur: &mut String| {
        let f = std::mem::take(cur);
        let f = f.trim();
        if f.is_empty() {
            return;
        }
        match f.split_once('{') {
            Some((name, rest)) => out.push((
                name.trim().to_string(),
                Some(rest.trim_end_matches('}').to_string()),
            )),
            None => out.push((f.to_string(), None)),
        }
    };
    for c in spec.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                push(&mut cur);
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    push(&mut cur);
    out
}

/// `scheme://host` plus the mount prefix (`/instagram`) of the request: where `paging.next`
/// URLs point.
pub(crate) fn own_base(req: &Request) -> String {
    let full = req.original_uri().path();
    let inner = req.uri().path();
    let prefix = full.strip_suffix(inner).unwrap_or("");
    format!("{}{prefix}", origin(req))
}

/// The access token a request carried (bearer or `access_token`), for `paging.next`.
pub(crate) fn request_token(req: &Request) -> String {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(String::from)
        .or_else(|| query(req).remove("access_token"))
        .unwrap_or_default()
}

/// How long a signed CDN link lives at Meta's CDN in the sandbox: a link is re-signed every
/// day (sandbox clock) and expires [`CDN_LINK_DAYS`] days after its day began.
pub const CDN_LINK_DAYS: i64 = 3;

/// A Meta CDN link signed at `now_ms` (sandbox clock): `oh=` changes every day and `oe=` (the
/// expiry, unix seconds in hex, as at Meta) lies [`CDN_LINK_DAYS`] days after that day began.
pub fn signed_cdn(url_without_query: &str, query: &str, now_ms: i64) -> String {
    let day = now_ms.div_euclid(86_400_000);
    let expiry = (day + CDN_LINK_DAYS) * 86_400;
    let sig = url_without_query
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64 ^ day as u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    format!("{url_without_query}?{query}&oh=00_{sig:016x}&oe={expiry:X}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn graph_fields_keep_nested_specs() {
        assert_eq!(
            super::fields("id,caption,children{id,media_url},timestamp"),
            vec![
                ("id".to_string(), None),
                ("caption".to_string(), None),
                ("children".to_string(), Some("id,media_url".to_string())),
                ("timestamp".to_string(), None),
            ]
        );
    }
}
