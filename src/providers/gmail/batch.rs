//! Gmail's batch endpoint: up to 50 `messages.get` calls in one multipart/mixed request, and
//! the parsing of its multipart reply (per-part status, in request order).

use reqwest::header::HeaderMap;

use super::{
    google_error, malformed, message::Message, send, Gmail, Provider, ProviderError, RawItem,
    Session, BOUNDARY,
};

/// The messages behind `ids` through one batch request; messages gone meanwhile are skipped.
pub(super) async fn fetch_messages(
    s: &Session<'_>,
    ids: &[String],
) -> Result<Vec<RawItem>, ProviderError> {
    let mut body = String::new();
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(malformed("a message id that is not alphanumeric"));
        }
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n\
             GET /gmail/v1/users/me/messages/{id}?format=full HTTP/1.1\r\n\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    let r = send(
        s.http
            .post(s.app.api_url("/batch/gmail/v1"))
            .bearer_auth(s.token)
            .header(
                "content-type",
                format!("multipart/mixed; boundary={BOUNDARY}"),
            )
            .body(body),
    )
    .await?;
    if !r.ok() {
        return Err(r.error(Gmail::ID));
    }
    let content_type = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = parse_batch(content_type, &r.body)?;
    if parts.len() != ids.len() {
        return Err(malformed(format!(
            "batch reply with {} parts for {} requests",
            parts.len(),
            ids.len()
        )));
    }
    let mut items = Vec::with_capacity(ids.len());
    for part in parts {
        match part.status {
            200..=299 => {
                let m: Message = serde_json::from_str(&part.body).map_err(malformed)?;
                items.push(m.into_item()?);
            }
            404 => {} // deleted since it was listed
            status => return Err(google_error(status, &part.headers, &part.body)),
        }
    }
    Ok(items)
}

/// One inner reply of a batch.
#[derive(Debug)]
pub(super) struct BatchPart {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

/// The inner replies of a multipart/mixed batch reply, in request order (by `Content-ID`
/// `<response-itemN>` where present). A reply without its closing delimiter is malformed.
pub(super) fn parse_batch(content_type: &str, body: &str) -> Result<Vec<BatchPart>, ProviderError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty() && content_type.starts_with("multipart/"))
        .ok_or_else(|| malformed("batch reply without a multipart boundary"))?;
    let delimiter = format!("--{boundary}");
    if !body.contains(&format!("{delimiter}--")) {
        return Err(malformed("batch reply cut short"));
    }
    let mut parts: Vec<(Option<usize>, BatchPart)> = Vec::new();
    for raw in body
        .split(delimiter.as_str())
        .skip(1)
        .take_while(|p| !p.starts_with("--"))
    {
        let raw = raw.trim_start_matches(['\r', '\n']);
        let (head, http) = split_head(raw);
        let index = header_lines(head)
            .find(|(k, _)| k.eq_ignore_ascii_case("content-id"))
            .and_then(|(_, v)| {
                v.trim_matches(['<', '>'])
                    .strip_prefix("response-item")?
                    .parse()
                    .ok()
            });
        let (status_head, inner_body) = split_head(http);
        let mut lines = status_head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| malformed("batch part without a status line"))?;
        let mut headers = HeaderMap::new();
        for (k, v) in header_lines(&lines.collect::<Vec<_>>().join("\n")) {
            if let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) {
                headers.append(k, v);
            }
        }
        parts.push((
            index,
            BatchPart {
                status,
                headers,
                body: inner_body.trim_end_matches(['\r', '\n']).to_string(),
            },
        ));
    }
    if parts.iter().all(|(i, _)| i.is_some()) {
        parts.sort_by_key(|(i, _)| *i);
    }
    Ok(parts.into_iter().map(|(_, p)| p).collect())
}

fn split_head(s: &str) -> (&str, &str) {
    match (s.find("\r\n\r\n"), s.find("\n\n")) {
        (Some(a), Some(b)) if b < a => (&s[..b], &s[b + 2..]),
        (Some(a), _) => (&s[..a], &s[a + 4..]),
        (None, Some(b)) => (&s[..b], &s[b + 2..]),
        (None, None) => (s, ""),
    }
}

fn header_lines(head: &str) -> impl Iterator<Item = (&str, &str)> {
    head.lines().filter_map(|l| {
        let (k, v) = l.split_once(':')?;
        Some((k.trim(), v.trim()))
    })
}
