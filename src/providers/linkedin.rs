//! LinkedIn client (Posts API): the member's posts from
//! `GET /rest/posts?author=urn:li:person:{sub}&q=author&count=N&start=S&sortBy=LAST_MODIFIED`
//! with `LinkedIn-Version` (`LINKEDIN_API_VERSION`, default [`LINKEDIN_VERSION`]) and
//! `X-Restli-Protocol-Version: 2.0.0` (kind `post`), following the relative
//! `paging.links[rel=next].href` until there is none (the walk: `walk`); the profile from
//! `GET /v2/userinfo`.
//!
//! - Posts need the restricted [`POSTS_SCOPE`], which LinkedIn grants only to approved apps.
//!   When the configured scopes (`LINKEDIN_SCOPES`, default `openid profile email`) lack it,
//!   a sync succeeds with 0 posts without calling `/rest/posts`: the source stays connected
//!   (its profile is read at each run's start).
//! - Page state: `{"next": "/rest/posts?…&start=…", "newest": <lastModifiedAt ms>|null}`.
//! - Cursor: `{"last_modified": <ms>}`, the highest `lastModifiedAt` seen. There is no `since`:
//!   an incremental run pages by last modification and stops at the first post modified at or
//!   before the cursor, so it fetches new *and* edited posts.
//! - Deletions are invisible to the API: a full run walks every post and ends with a
//!   reconciliation ([`Reconcile::All`]) — posts no longer listed are marked deleted. (Offset
//!   paging: a post deleted while a full run walks can shift another past the run's offset; it
//!   is marked deleted, and the next sync that sees it again restores it.) A run without the
//!   posts scope lists nothing and reconciles nothing.
//! - `commentary` is "little text": `{hashtag|\#|tag}`, `@[Name](urn:li:person:…)` and
//!   backslash escapes become plain text, with the hashtags and mentions taken from them.
//! - 403 `ACCESS_DENIED` (a restricted member, or a token without `r_member_social`) is
//!   `Forbidden`, naming the scope: the run ends `failed`, the source's status becomes `error`,
//!   never a retry loop or a dead job. 426 `NONEXISTENT_VERSION` (the version left LinkedIn's
//!   window) is `Permanent`, naming `LINKEDIN_API_VERSION`. 429 carries no headers: a `DAY`
//!   limit waits for 00:00 UTC; any other throttle names no time (the queue's exponential
//!   throttle backoff).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    app::ProviderApp,
    http::{classify, get_json, get_json_with, Reply},
    walk::{self, Watermark},
    AccountProfile, ItemKind, Page, PageRequest, Provider, ProviderError, ProviderId, RawItem,
    Reconcile, Session,
};

/// The default Posts API version (`LINKEDIN_API_VERSION` overrides; LinkedIn keeps each
/// monthly version about one year, so this must move forward with the client).
pub const LINKEDIN_VERSION: &str = "202611";
/// The restricted scope that reading a member's posts needs.
pub const POSTS_SCOPE: &str = "r_member_social";

pub struct Linkedin;

impl Provider for Linkedin {
    const ID: ProviderId = ProviderId::Linkedin;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=100;

    async fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccountProfile, ProviderError> {
        #[derive(Deserialize)]
        struct UserInfo {
            sub: String,
            name: Option<String>,
        }
        let u: UserInfo = get_json(
            Self::ID,
            http.get(app.api_url("/v2/userinfo")).bearer_auth(token),
        )
        .await?;
        Ok(AccountProfile {
            account_id: u.sub,
            account_name: u.name,
            content_version: None,
        })
    }

    async fn fetch_page(s: &Session<'_>, req: PageRequest<'_>) -> Result<Page, ProviderError> {
        if !s.app.has_scope(POSTS_SCOPE) {
            // Not approved for posts: nothing to read, and asking would be a 403.
            return Ok(Page::default());
        }
        let version = s.app.api_version.as_deref().unwrap_or(LINKEDIN_VERSION);
        let watermark = walk::stop_at(req.mode, req.cursor, |c| {
            c.get("last_modified").and_then(Value::as_i64).map(Modified)
        });
        let request = s
            .http
            .get(page_url(s, req.page)?)
            .bearer_auth(s.token)
            .header("LinkedIn-Version", version)
            .header("X-Restli-Protocol-Version", "2.0.0");
        let body: PostList = get_json_with(Self::ID, request, |r| error(version, r)).await?;
        let run_newest = req
            .page
            .and_then(|p| p.get("newest"))
            .and_then(Value::as_i64)
            .map(Modified);
        let walked = walk::walk(body.elements, watermark.as_ref(), run_newest, |p| {
            Ok(Modified(p.last_modified_at.or(p.created_at).unwrap_or(0)))
        })?;
        let items = walked
            .kept
            .into_iter()
            .map(|(p, _)| p.into_item())
            .collect::<Result<Vec<_>, _>>()?;
        let newest = walked.newest.map(|m| m.0);
        let next = body
            .paging
            .links
            .into_iter()
            .find(|l| l.rel == "next")
            .map(|l| l.href)
            .filter(|_| !walked.reached && !items.is_empty())
            .map(|href| json!({ "next": href, "newest": newest }));
        let cursor = newest.map(|n| json!({ "last_modified": n }));
        Ok(walk::page(req.mode, items, next, cursor, Reconcile::All))
    }
}

/// A post's `lastModifiedAt` (ms): the run's newest is the highest seen; the walk ends at the
/// first post modified at or before the watermark.
#[derive(Debug, Clone, Copy)]
struct Modified(i64);

impl Watermark for Modified {
    fn newest(run: Option<Self>, seen: Self) -> Self {
        Self(run.map_or(seen.0, |r| r.0.max(seen.0)))
    }

    fn reached(&self, stop: &Self) -> bool {
        self.0 <= stop.0
    }
}

/// The page to request: the stored relative next link (checked), else the first page.
fn page_url(s: &Session<'_>, page: Option<&Value>) -> Result<url::Url, ProviderError> {
    match page.and_then(|p| p.get("next")).and_then(Value::as_str) {
        Some(href) => {
            if !href.starts_with("/rest/posts?") {
                return Err(ProviderError::Permanent(
                    "corrupt page state: next is not a posts link".into(),
                ));
            }
            let base = s.app.api_base.as_str().trim_end_matches('/');
            url::Url::parse(&format!("{base}{href}"))
                .map_err(|_| ProviderError::Permanent("corrupt page state: bad next link".into()))
        }
        None => {
            let mut u = s.app.api_url("/rest/posts");
            u.query_pairs_mut()
                .append_pair("author", &format!("urn:li:person:{}", s.account_id))
                .append_pair("q", "author")
                .append_pair("count", &s.page_size.to_string())
                .append_pair("start", "0")
                .append_pair("sortBy", "LAST_MODIFIED");
            Ok(u)
        }
    }
}

/// The class of a LinkedIn error reply (Rest.li body `{"status","code","message"}`).
fn error(version: &str, r: &Reply) -> ProviderError {
    let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    let message: String = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    match r.status {
        403 => ProviderError::Forbidden(format!(
            "LinkedIn denied r_member_social (reading a member's posts needs this restricted \
             scope): {message}"
        )),
        426 => ProviderError::Permanent(format!(
            "LinkedIn-Version {version} is not active (set LINKEDIN_API_VERSION to a month \
             within LinkedIn's support window, about the last 12): {message}"
        )),
        429 => super::http::throttled(
            ProviderId::Linkedin,
            message
                .contains("DAY")
                .then(|| until_utc_midnight(Utc::now())),
        ),
        _ => classify(ProviderId::Linkedin, r.status, &r.headers, &r.body),
    }
}

/// Time from `now` to the next 00:00 UTC, when LinkedIn's daily limits reset.
fn until_utc_midnight(now: DateTime<Utc>) -> Duration {
    let next = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc());
    next.and_then(|t| (t - now).to_std().ok())
        .unwrap_or(Duration::from_secs(3600))
        .max(Duration::from_secs(1))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostList {
    elements: Vec<Post>,
    paging: Paging,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Paging {
    links: Vec<Link>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Link {
    rel: String,
    href: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Post {
    id: String,
    commentary: String,
    visibility: Option<String>,
    lifecycle_state: Option<String>,
    content: Option<Value>,
    created_at: Option<i64>,
    published_at: Option<i64>,
    last_modified_at: Option<i64>,
}

impl Post {
    fn into_item(self) -> Result<RawItem, ProviderError> {
        let occurred_at = self
            .published_at
            .or(self.created_at)
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| {
                ProviderError::Permanent(format!(
                    "malformed reply: post {} has no valid createdAt",
                    self.id
                ))
            })?;
        let (text, hashtags, mentions) = little_text(&self.commentary);
        let content_type = self
            .content
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|o| o.keys().next().cloned());
        Ok(RawItem {
            permalink: Some(format!("https://www.linkedin.com/feed/update/{}/", self.id)),
            external_id: self.id,
            kind: ItemKind::Post,
            occurred_at,
            text,
            hashtags,
            mentions,
            location: None,
            media_url: None,
            metrics: json!({
                "visibility": self.visibility,
                "lifecycle_state": self.lifecycle_state,
                "content_type": content_type,
            }),
            subject: None,
            sender: None,
            html: None,
            mail: Default::default(),
        })
    }
}

/// Plain text, hashtags and mentioned names of a "little text" commentary.
fn little_text(s: &str) -> (String, Vec<String>, Vec<String>) {
    let (mut text, mut tags, mut mentions) = (String::new(), Vec::new(), Vec::new());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let find = |from: usize, c: char| chars[from..].iter().position(|&x| x == c).map(|p| p + from);
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                text.push(chars[i + 1]);
                i += 2;
            }
            '{' => {
                // {hashtag|\#|tag}
                let inner: Option<String> =
                    find(i, '}').map(|end| chars[i + 1..end].iter().collect());
                match inner.as_deref().and_then(|t| t.strip_prefix("hashtag|")) {
                    Some(rest) => {
                        let tag = rest.rsplit('|').next().unwrap_or_default().to_string();
                        text.push('#');
                        text.push_str(&tag);
                        tags.push(tag);
                        i += inner.map_or(0, |t| t.chars().count()) + 2;
                    }
                    None => {
                        text.push('{');
                        i += 1;
                    }
                }
            }
            '@' if chars.get(i + 1) == Some(&'[') => {
                // @[Name](urn:li:person:…)
                let close = find(i, ']');
                let urn_end = close
                    .filter(|&c| chars.get(c + 1) == Some(&'('))
                    .and_then(|c| find(c, ')'));
                match (close, urn_end) {
                    (Some(c), Some(e)) => {
                        let name: String = chars[i + 2..c].iter().collect();
                        text.push_str(&name);
                        mentions.push(name);
                        i = e + 1;
                    }
                    _ => {
                        text.push('@');
                        i += 1;
                    }
                }
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    (text, tags, mentions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_text_becomes_plain_text_with_entities() {
        let (text, tags, mentions) = little_text(
            r"Back from Zürich with @[Ana Silva](urn:li:person:abc) {hashtag|\#|travel} \(finally\) 🚆",
        );
        assert_eq!(text, "Back from Zürich with Ana Silva #travel (finally) 🚆");
        assert_eq!(tags, ["travel"]);
        assert_eq!(mentions, ["Ana Silva"]);
        assert_eq!(little_text("plain {x} @y").0, "plain {x} @y");
    }

    #[test]
    fn errors_name_the_scope_and_the_version() {
        let reply = |status: u16, body: &str| Reply {
            status,
            headers: reqwest::header::HeaderMap::new(),
            body: body.to_string(),
        };
        let e = error(
            LINKEDIN_VERSION,
            &reply(
                403,
                r#"{"status":403,"serviceErrorCode":100,"code":"ACCESS_DENIED","message":"Not enough permissions"}"#,
            ),
        );
        assert!(matches!(&e, ProviderError::Forbidden(m) if m.contains("r_member_social")));
        let e = error(
            "202401",
            &reply(426, r#"{"status":426,"code":"NONEXISTENT_VERSION"}"#),
        );
        assert!(
            matches!(&e, ProviderError::Permanent(m) if m.contains("202401") && m.contains("LINKEDIN_API_VERSION"))
        );
        let day = r#"{"serviceErrorCode":101,"message":"Resource level throttle APPLICATION DAY limit for calls to this resource is reached.","status":429}"#;
        assert!(
            matches!(error(LINKEDIN_VERSION, &reply(429, day)), ProviderError::RateLimited { retry_after: Some(d) } if d > Duration::ZERO)
        );
        let burst = r#"{"status":429,"message":"Too Many Requests"}"#;
        assert!(matches!(
            error(LINKEDIN_VERSION, &reply(429, burst)),
            ProviderError::RateLimited { retry_after: None }
        ));
        let now = DateTime::parse_from_rfc3339("2026-11-24T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(until_utc_midnight(now), Duration::from_secs(60));
    }
}
