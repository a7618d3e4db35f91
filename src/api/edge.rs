//! The outermost layer of every reply: a request id (a fresh ULID, also the `X-Request-Id`
//! response header and the key to an internal error's log line), errors turned into the
//! contract's shape (with the id on a 500), bodyless error replies given one, `Allow` on a
//! 405, and the security headers: `X-Content-Type-Options: nosniff` and
//! `Cache-Control: no-store` everywhere, a Content-Security-Policy on `/docs`.

use std::sync::Arc;

use poem::{
    http::{header, HeaderValue, StatusCode},
    Endpoint, IntoResponse, Request, Response,
};

use super::{error, spec::Spec};

/// Swagger UI's page: its own inline script and styles, nothing from elsewhere.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Runs `ep` and finishes its reply (see the module doc).
pub async fn finish<E: Endpoint + 'static>(
    ep: Arc<E>,
    req: Request,
    spec: Arc<Spec>,
) -> poem::Result<Response> {
    let request_id = ulid::Ulid::new().to_string();
    let path = req.uri().path().to_string();
    let mut resp = match ep.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => error::to_response(e, &request_id),
    };
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error()) && is_bodyless(&resp) {
        resp = error::for_status(status, &request_id);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        if let Some(allow) = spec
            .allowed(&path)
            .and_then(|a| HeaderValue::from_str(&a).ok())
        {
            resp.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let headers = resp.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if path == "/docs" || path.starts_with("/docs/") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        );
    }
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", id);
    }
    Ok(resp)
}

/// Whether a reply has no body (nor a JSON one to keep).
fn is_bodyless(resp: &Response) -> bool {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    !json
}
