//! The one request preamble of the providers' data handlers: `admit` records the request
//! (`provider path?query`, the log tests read), applies the faults in force (slow replies,
//! holds, the fault this request draws), checks the access token (the provider's own 401,
//! [`unauthorized`]; X on arrival, the others when the reply is due) and answers the quota
//! fault in the provider's shape; `Admitted::settle` then renders the drawn fault (5xx,
//! throttling) the provider's way, or says whether to cut the page. Rate budgets and their headers (X's `x-rate-limit-*`, Meta's usage headers,
//! Gmail's quota units, Outlook's mailbox concurrency) stay with their provider, which applies
//! them between the two steps or after, as the real one does. Outlook composes the same pieces
//! in its own order (the token first, then its mailbox's concurrency, then the faults).
//!
//! Beside it, the request and reply helpers the handlers share: the query's pairs, the origin
//! a client reached (for absolute next links), a JSON reply that the malformed-page fault cuts.

use poem::{http::StatusCode, Request, Response};

use crate::{faults::DataFault, Provider, SandboxState};

/// `scheme://host[:port]` as the client reached this sandbox (the Host header under HTTP/1.1,
/// the `:authority` under HTTP/2): where absolute next links point.
pub(crate) fn origin(req: &Request) -> String {
    let host = req
        .original_uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(String::from)
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    format!("{}://{host}", req.scheme())
}

/// A data request as the request log spells it: `provider path?query`.
pub(crate) fn describe(p: Provider, req: &Request) -> String {
    format!(
        "{} {}{}",
        p.as_str(),
        req.uri().path(),
        req.uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    )
}

/// The query string's pairs (last value wins).
pub(crate) fn query(req: &Request) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A query string's pairs, in order, repeated keys kept.
pub(crate) fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `k` among `q`.
pub(crate) fn first<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// Every value of `k` among `q`, in order.
pub(crate) fn all<'a>(q: &'a [(String, String)], k: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A JSON reply (`charset=UTF-8`, as Google and Meta send it), cut in the middle when
/// `malformed`.
pub(crate) fn json_reply(body: &serde_json::Value, malformed: bool) -> Response {
    let text = body.to_string();
    Response::builder()
        .content_type("application/json; charset=UTF-8")
        .body(if malformed {
            crate::faults::truncated(&text)
        } else {
            text
        })
}

impl SandboxState {
    /// The account behind a request's bearer token (or Meta's `access_token` query parameter),
    /// or the provider's own 401 reply.
    pub fn authenticate(&self, provider: Provider, req: &Request) -> Result<String, Response> {
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(String::from);
        let token = if provider.spec().token_in_query {
            bearer.or_else(|| query(req).remove("access_token"))
        } else {
            bearer
        };
        token
            .and_then(|t| self.token_info(provider, &t))
            .map(|i| i.account)
            .ok_or_else(|| unauthorized(provider))
    }
}

/// A provider's reply to a missing, expired or revoked access token (its
/// [`ProviderSpec::unauthorized`](crate::provider::ProviderSpec::unauthorized)).
pub fn unauthorized(provider: Provider) -> Response {
    (provider.spec().unauthorized)()
}

/// A 401 with this JSON body: how Google, LinkedIn and Microsoft refuse a token.
pub(crate) fn json_401(body: &serde_json::Value) -> Response {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .content_type("application/json")
        .body(body.to_string())
}

/// A request the preamble let through: whose it is, and the fault it drew.
pub(crate) struct Admitted {
    pub provider: Provider,
    pub account: String,
    pub fault: Option<DataFault>,
}

impl Admitted {
    /// The drawn fault as the provider renders it (Err: the reply to send), else whether this
    /// reply is to be cut in the middle (the malformed-page fault).
    pub fn settle(&self, state: &SandboxState) -> Result<bool, Response> {
        match self.fault {
            None => Ok(false),
            Some(DataFault::Malformed) => Ok(true),
            Some(f) => Err(fault_reply(state, self.provider, &self.account, f)),
        }
    }
}

/// Records the request, applies the faults in force, authenticates it and answers the quota
/// fault (Gmail's and X's; the others have none); Err is the reply to send.
/// `page` says whether the request returns a page of items (only those get malformed).
pub(crate) async fn admit(
    state: &SandboxState,
    provider: Provider,
    req: &Request,
    page: bool,
) -> Result<Admitted, Response> {
    // X checks the token as the request arrives: a request admitted before its token is
    // revoked gets its reply, however long a fault holds it. The others check it when the
    // reply is due.
    let spec = provider.spec();
    let on_arrival = spec
        .token_on_arrival
        .then(|| state.authenticate(provider, req));
    let fault = state.before_reply(describe(provider, req), page).await;
    let account = match on_arrival {
        Some(checked) => checked?,
        None => state.authenticate(provider, req)?,
    };
    let quota = state
        .quota_fault()
        .and_then(|kind| (spec.quota_reply)(&kind));
    if let Some(reply) = quota {
        return Err(reply);
    }
    Ok(Admitted {
        provider,
        account,
        fault,
    })
}

/// A 5xx or throttling fault in provider `p`'s shape.
pub(crate) fn fault_reply(
    state: &SandboxState,
    p: Provider,
    account: &str,
    fault: DataFault,
) -> Response {
    (p.spec().fault_reply)(state, account, fault)
}
