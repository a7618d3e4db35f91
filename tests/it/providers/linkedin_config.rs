//! LinkedIn's configurable scopes and API version against the sandbox: without the posts scope
//! a sync reads no posts and sends no posts request; the authorization asks for the configured
//! scopes; a version outside the sandbox clock's support window is refused with an error that
//! names `LINKEDIN_API_VERSION`.

use crate::common::*;
use lifesync::providers::{
    self, app::ProviderApp, linkedin::LINKEDIN_VERSION, PageRequest, ProviderError, ProviderId,
    Session,
};
use lifesync_jobs::payloads::SyncMode;

const ACCOUNT: &str = "782bbtaQ";

fn app(sandbox: &TestSandbox, scopes: Option<&[&str]>, version: Option<&str>) -> ProviderApp {
    let base = url::Url::parse(&sandbox.base).unwrap();
    let mut c = lifesync::sandbox_link::provider_config(
        ProviderId::Linkedin,
        &base,
        redirect_uri(ProviderId::Linkedin),
    );
    c.scopes = scopes.map(|s| s.iter().map(|x| x.to_string()).collect());
    c.api_version = version.map(String::from);
    ProviderApp::new(ProviderId::Linkedin, &c)
}

async fn first_page(
    app: &ProviderApp,
    token: &str,
) -> Result<lifesync::providers::Page, ProviderError> {
    // The client the tests' provider apps use (it trusts the sandbox however it is served).
    let http = sandbox_apps(&app.api_base.origin().ascii_serialization())
        .http
        .clone();
    let s = Session {
        http: &http,
        app,
        token,
        account_id: ACCOUNT,
        page_size: 10,
    };
    providers::fetch_page(
        ProviderId::Linkedin,
        &s,
        PageRequest {
            mode: SyncMode::Full,
            cursor: None,
            page: None,
            known: None,
        },
    )
    .await
}

fn posts_requests(sandbox: &TestSandbox) -> usize {
    sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.starts_with("linkedin /rest/posts"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_posts_scope_no_posts_are_requested() {
    let sandbox = TestSandbox::spawn(7).await;
    let token = sandbox
        .state
        .issue_token_for(ProviderId::Linkedin, ACCOUNT, 3600);

    // The documented default: what an app without partner approval is granted.
    let default = app(&sandbox, None, None);
    assert_eq!(default.scopes, ["openid", "profile", "email"]);
    let auth = lifesync::oauth::authorize::authorization_url(&default, "st");
    let scope = auth
        .url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(scope, "openid profile email");
    let page = first_page(&default, &token).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
    assert_eq!(
        posts_requests(&sandbox),
        0,
        "no /rest/posts without the scope"
    );

    // An approved app (LINKEDIN_SCOPES with r_member_social) reads posts.
    let approved = app(
        &sandbox,
        Some(&["openid", "profile", "email", "r_member_social"]),
        None,
    );
    let page = first_page(&approved, &token).await.unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(posts_requests(&sandbox), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_outside_the_window_names_the_variable() {
    let sandbox = TestSandbox::spawn(7).await;
    let token = sandbox
        .state
        .issue_token_for(ProviderId::Linkedin, ACCOUNT, 10 * 365 * 86400);
    let posts = Some(&["openid", "profile", "email", "r_member_social"][..]);

    // The default version is inside the window today.
    assert!(first_page(&app(&sandbox, posts, None), &token)
        .await
        .is_ok());
    // A configured version two years old is not.
    let old = app(&sandbox, posts, Some("202412"));
    match first_page(&old, &token).await {
        Err(ProviderError::Permanent(m)) => {
            assert!(
                m.contains("LINKEDIN_API_VERSION") && m.contains("202412"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    // The window moves with the sandbox's clock: 13 months on, the default has left it too.
    sandbox
        .state
        .advance_clock(std::time::Duration::from_secs(13 * 31 * 86400));
    match first_page(&app(&sandbox, posts, None), &token).await {
        Err(ProviderError::Permanent(m)) => {
            assert!(m.contains(LINKEDIN_VERSION) && m.contains("LINKEDIN_API_VERSION"))
        }
        other => panic!("{other:?}"),
    }
}
