//! The contract's error shape, `{"error": "<stable_code>", "message": "<human text>"}`, for
//! every failure: handler errors ([`ApiError`]) and everything poem or poem-openapi rejects
//! before a handler runs (bad JSON, bad parameters, missing auth, unknown routes and methods).
//! 5xx bodies are opaque; the cause goes to the log.

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

/// Builds an error body in the contract's shape (extra fields merged in).
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: Option<serde_json::Value>,
) -> Response {
    let mut body = json!({ "error": code, "message": message });
    if let (Some(serde_json::Value::Object(extra)), Some(obj)) = (extra, body.as_object_mut()) {
        obj.extend(extra);
    }
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(Body::from_json(body).expect("json"))
}

/// Maps any error that reached the edge to the contract's shape and a stable code.
pub fn to_response(err: poem::Error) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };
    if let Some(e) = err.downcast_ref::<ApiError>() {
        return e.as_response();
    }
    let status = err.status();
    let (code, message) = if err.is::<ParseRequestPayloadError>() {
        ("invalid_json", err.to_string())
    } else if err.is::<ParsePathError>() || err.is::<ParseParamError>() {
        ("invalid_parameter", err.to_string())
    } else if err.is::<ContentTypeError>() {
        ("unsupported_media_type", err.to_string())
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
            s if s.is_client_error() => ("bad_request", err.to_string()),
            _ => {
                tracing::error!(error = %err, "unhandled error");
                ("internal", "internal error".to_string())
            }
        }
    };
    error_response(status, code, &message, None)
}
