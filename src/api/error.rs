//! The contract's error shape, `{"error": "<stable_code>", "message": "<human text>"}`, for
//! every failure: handler errors ([`ApiError`]) and everything poem or poem-openapi rejects
//! before a handler runs (bad JSON, bad parameters, missing auth, unknown routes and methods).
//! 5xx bodies are opaque: an internal error answers 500 `internal` naming the request id
//! (also the `X-Request-Id` header) and its cause goes to the log only. Messages never carry
//! more of the caller's input than a short excerpt ([`excerpt`]), and every message leaves
//! with `<`, `>` and `&` escaped as HTML entities and control characters as `\u{..}`.

use poem::{error::ResponseError, http::StatusCode, Body, Response};
use serde_json::json;

/// A failure a handler reports, with its stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(&'static str, String),
    #[error("not found")]
    NotFound,
    /// A 404 with its own code (`unknown_provider`, …).
    #[error("{1}")]
    Missing(&'static str, String),
    #[error("forbidden")]
    Forbidden,
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(..) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::Missing(..) => StatusCode::NOT_FOUND,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        let (code, message, extra) = match self {
            Self::BadRequest(code, m) => (*code, m.clone(), None),
            Self::NotFound => ("not_found", "no such resource".into(), None),
            Self::Missing(code, m) => (*code, m.clone(), None),
            Self::Forbidden => ("forbidden", "not allowed for this user".into(), None),
            Self::Conflict {
                code,
                message,
                details,
            } => (*code, message.clone(), Some(details.clone())),
            Self::Unavailable(dep) => ("unavailable", format!("{dep} is unavailable"), None),
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                ("internal", "internal error".into(), None)
            }
        };
        error_response(self.status(), code, &message, extra)
    }
}

/// At most this many characters of the caller's input appear in a message.
pub const EXCERPT_CHARS: usize = 40;

/// A short excerpt of untrusted input for a message: its first [`EXCERPT_CHARS`] characters
/// (then `…`); [`error_response`] escapes what it holds.
pub fn excerpt(input: &str) -> String {
    let mut out: String = input.chars().take(EXCERPT_CHARS).collect();
    if input.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Escapes `<`, `>`, `&` as HTML entities and control characters as `\u{..}`, so a message
/// is inert in a page or a terminal.
pub fn escape(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Builds an error body in the contract's shape (extra fields merged in; the message escaped).
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: Option<serde_json::Value>,
) -> Response {
    let mut body = json!({ "error": code, "message": escape(message) });
    if let (Some(serde_json::Value::Object(extra)), Some(obj)) = (extra, body.as_object_mut()) {
        obj.extend(extra);
    }
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(Body::from_json(body).expect("json"))
}

/// The reply to an internal error: its cause is logged with the request id, never sent.
pub fn internal_response(request_id: &str, cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(request_id, error = %cause, "internal error");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        &format!("internal error; request id {request_id}"),
        None,
    )
}

/// The reply for an error status that carries no body of its own (poem's, hyper's).
pub fn for_status(status: StatusCode, request_id: &str) -> Response {
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        StatusCode::UNAUTHORIZED => ("unauthorized", "a valid bearer token is required"),
        StatusCode::FORBIDDEN => ("forbidden", "not allowed for this user"),
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::URI_TOO_LONG => ("uri_too_long", "the request URI is too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported content type")
        }
        s if s.is_client_error() => ("bad_request", "the request was refused"),
        _ => return internal_response(request_id, &format!("status {status} without a body")),
    };
    error_response(status, code, message, None)
}

/// The first line of a framework error's text, cut short: serde and poem quote the input.
fn framework_detail(err: &poem::Error) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default();
    let mut out: String = first.chars().take(120).collect();
    if first.chars().nth(120).is_some() {
        out.push('…');
    }
    out
}

/// Maps any error that reached the edge to the contract's shape and a stable code.
pub fn to_response(err: poem::Error, request_id: &str) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };
    if let Some(e) = err.downcast_ref::<ApiError>() {
        if let ApiError::Internal(cause) = e {
            return internal_response(request_id, &format!("{cause:#}"));
        }
        return e.as_response();
    }
    let status = err.status();
    let (code, message) = if err.is::<ParseRequestPayloadError>() {
        ("invalid_json", framework_detail(&err))
    } else if err.is::<ParsePathError>() || err.is::<ParseParamError>() {
        ("invalid_parameter", framework_detail(&err))
    } else if err.is::<ContentTypeError>() {
        ("unsupported_media_type", framework_detail(&err))
    } else if err.is::<AuthorizationError>() || status == StatusCode::UNAUTHORIZED {
        (
            "unauthorized",
            "a valid bearer token is required".to_string(),
        )
    } else {
        match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route".to_string()),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "method not allowed on this route".to_string(),
            ),
            s if s.is_client_error() => ("bad_request", framework_detail(&err)),
            _ => return internal_response(request_id, &err),
        }
    };
    error_response(status, code, &message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_html_and_controls_inert() {
        assert_eq!(
            escape("<b a='x'>&\u{0}\n"),
            "&lt;b a='x'&gt;&amp;\\u{0}\\u{a}"
        );
    }

    #[test]
    fn excerpt_is_short() {
        let long = "x".repeat(10_000);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt("abc"), "abc");
    }
}
