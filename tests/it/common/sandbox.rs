//! The sandbox of a test: served in process over HTTPS with the test CA, the clients that trust
//! it, and the provider configuration (apps for in-process services, the environment for
//! processes) that points all six providers at it.

use super::{app::serve_on_free_port, *};

/// The private CA of every sandbox this test binary starts, and the certificate they serve.
pub fn sandbox_tls() -> &'static lifesync_sandbox::tls::SandboxTls {
    static TLS: std::sync::OnceLock<lifesync_sandbox::tls::SandboxTls> = std::sync::OnceLock::new();
    TLS.get_or_init(|| lifesync_sandbox::tls::SandboxTls::generate().unwrap())
}

/// How the service reaches a test sandbox: the production client, trusting the test CA.
pub fn sandbox_outbound() -> lifesync::outbound::OutboundConfig {
    lifesync::outbound::OutboundConfig::trusting(
        lifesync::tls::TrustConfig::default()
            .adding_pem(&sandbox_tls().ca.cert_pem())
            .unwrap(),
    )
}

/// A client for the sandbox (and the API), trusting the test CA.
pub fn sandbox_client() -> reqwest::Client {
    sandbox_outbound().client().unwrap()
}

/// The test CA in a file, for `SSL_CERT_FILE` of the service processes a test starts against
/// an in-process [`TestSandbox`].
pub fn sandbox_ca_file() -> String {
    static FILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("lifesync-test-ca-{}.pem", ulid::Ulid::new()));
        sandbox_tls().ca.write_cert(&path).unwrap();
        path.to_string_lossy().to_string()
    })
    .clone()
}

/// A stand-in browser: trusts the test CA, does not follow redirects.
pub fn browser() -> reqwest::Client {
    sandbox_outbound()
        .builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Waits (at most 30 s) until a `lifesync sandbox --tls --ca-file PATH` process has written
/// its CA, and returns the outbound configuration that trusts it — what `SSL_CERT_FILE=PATH`
/// gives the service's own processes.
pub async fn trust_ca_file(path: &std::path::Path) -> lifesync::outbound::OutboundConfig {
    let start = std::time::Instant::now();
    loop {
        if let Ok(trust) = lifesync::tls::TrustConfig::from_paths(Some(path.to_path_buf()), None) {
            return lifesync::outbound::OutboundConfig::trusting(trust);
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the sandbox never wrote its CA to {}",
            path.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A sandbox of this test's own on a free port, over HTTPS.
pub struct TestSandbox {
    pub base: String,
    pub state: std::sync::Arc<lifesync_sandbox::SandboxState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestSandbox {
    /// Serves with the test CA's certificate ([`sandbox_tls`]).
    pub async fn spawn(seed: u64) -> Self {
        Self::spawn_with_cert(seed, sandbox_tls().server.clone()).await
    }

    /// Serves with a certificate from a CA that nobody trusts.
    pub async fn spawn_untrusted(seed: u64) -> Self {
        let stranger = lifesync_sandbox::tls::SandboxTls::generate().unwrap();
        Self::spawn_with_cert(seed, stranger.server).await
    }

    async fn spawn_with_cert(seed: u64, cert: lifesync_sandbox::tls::ServerCert) -> Self {
        let state = lifesync_sandbox::SandboxState::new(seed);
        let s = state.clone();
        let (addr, stop) = serve_on_free_port(|bound, stopped| async move {
            lifesync_sandbox::serve_with("127.0.0.1:0", s, Some(&cert), bound, stopped).await
        })
        .await;
        Self {
            base: format!("https://{addr}"),
            state,
            stop: Some(stop),
        }
    }

    pub fn twitter_base(&self) -> String {
        format!("{}/twitter", self.base)
    }

    /// Timeline requests seen so far, as `path?query`.
    pub fn timeline_requests(&self) -> Vec<String> {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains("/tweets"))
            .cloned()
            .collect()
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The environment that configures all six providers against a sandbox served at
/// `sandbox_base`, with redirect URIs on the API at `web_base`: what an operator would set.
pub fn provider_env(sandbox_base: &str, web_base: &str) -> Vec<(String, String)> {
    use secrecy::ExposeSecret;
    let base = url::Url::parse(sandbox_base).unwrap();
    let mut env = Vec::new();
    for p in lifesync::providers::ProviderId::ALL {
        let redirect = url::Url::parse(&format!("{web_base}/api/v1/oauth/{p}/callback")).unwrap();
        let c = lifesync::sandbox_link::provider_config(p, &base, redirect);
        let pre = p.env_prefix();
        let (id, secret) = match p {
            lifesync::providers::ProviderId::Facebook => (
                "FACEBOOK_APP_ID".to_string(),
                "FACEBOOK_APP_SECRET".to_string(),
            ),
            _ => (format!("{pre}_CLIENT_ID"), format!("{pre}_CLIENT_SECRET")),
        };
        env.push((id, c.client_id.clone()));
        env.push((secret, c.client_secret.expose_secret().to_string()));
        env.push((format!("{pre}_REDIRECT_URI"), c.redirect_uri.to_string()));
        env.push((format!("{pre}_AUTH_URL"), c.auth_url.unwrap().to_string()));
        env.push((format!("{pre}_TOKEN_URL"), c.token_url.unwrap().to_string()));
        env.push((
            format!("{pre}_API_BASE_URL"),
            c.api_base_url.unwrap().to_string(),
        ));
        if let Some(scopes) = &c.scopes {
            // The sandbox's LinkedIn app is approved for posts.
            env.push((format!("{pre}_SCOPES"), scopes.join(" ")));
        }
    }
    env
}

/// Where tests pretend the API's OAuth callback lives (tests call the callback themselves).
pub fn redirect_uri(p: lifesync::providers::ProviderId) -> url::Url {
    url::Url::parse(&format!("http://127.0.0.1:9/api/v1/oauth/{p}/callback")).unwrap()
}

/// All six provider apps pointed at a sandbox served at `sandbox_base`.
pub fn sandbox_apps(sandbox_base: &str) -> std::sync::Arc<lifesync::oauth::apps::ProviderApps> {
    let base = url::Url::parse(sandbox_base).unwrap();
    let configs = lifesync::providers::ProviderId::ALL
        .into_iter()
        .map(|p| {
            (
                p,
                lifesync::sandbox_link::provider_config(p, &base, redirect_uri(p)),
            )
        })
        .collect();
    std::sync::Arc::new(lifesync::oauth::apps::ProviderApps::new(
        &configs,
        sandbox_client(),
    ))
}

/// OAuth set up against a sandbox, with the test key.
pub fn sandbox_oauth(sandbox_base: &str) -> lifesync::api::OAuthSetup {
    lifesync::api::OAuthSetup {
        apps: sandbox_apps(sandbox_base),
        token_key: token_key(),
        success_redirect: None,
        clock: None,
    }
}
