//! Hostile input stopped at the door, before any handler or parser sees it: a request line
//! longer than [`MAX_URI_BYTES`] (414), a path or query whose percent-decoded bytes are not
//! UTF-8 or hold a NUL (400 `invalid_input`), a body over the configured limit (413
//! `body_too_large`, refused by its `Content-Length` before a byte is read, and a streamed
//! body cut off at the limit). Strings in bodies are held to their schema instead (a stored
//! id declares a pattern without NUL, which PostgreSQL rejects).

use std::sync::Arc;

use poem::{http::StatusCode, Body, Endpoint, IntoResponse, Request, Response};

use super::error::error_response;

/// The longest request target (path and query) served; longer answers 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Checks the request line and reads the body (at most `max_body` bytes) before `ep` runs.
pub async fn guard<E: Endpoint + 'static>(
    ep: Arc<E>,
    mut req: Request,
    max_body: usize,
) -> poem::Result<Response> {
    let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("");
    if target.len() > MAX_URI_BYTES {
        return Ok(error_response(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            &format!("the request target is longer than {MAX_URI_BYTES} bytes"),
            None,
        ));
    }
    if !clean(req.uri().path()) || !clean(req.uri().query().unwrap_or("")) {
        return Ok(invalid_input(
            "the path or query holds invalid UTF-8 or a NUL byte",
        ));
    }
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return Ok(too_large(max_body));
    }
    let body = match req.take_body().into_bytes_limit(max_body).await {
        Ok(b) => b,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large(max_body)),
        Err(_) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read",
                None,
            ))
        }
    };
    req.set_body(Body::from(body));
    Ok(ep.call(req).await?.into_response())
}

fn too_large(max_body: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        &format!("the request body is larger than {max_body} bytes"),
        None,
    )
}

fn invalid_input(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "invalid_input", message, None)
}

/// Whether percent-decoding `s` gives UTF-8 without a NUL (a malformed escape is kept as is).
fn clean(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16);
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    !out.contains(&0) && std::str::from_utf8(&out).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths_and_queries() {
        assert!(clean("/api/v1/items"));
        assert!(clean("provider=twitter&x=%C3%A9"));
        assert!(!clean("provider=%00"));
        assert!(!clean("/api/v1/oauth/%ff/authorize"));
        assert!(clean("a=%zz&b=%"));
    }
}
