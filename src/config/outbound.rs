//! How provider calls connect (`SSL_CERT_FILE`, `SSL_CERT_DIR`, `HTTPS_PROXY`, `HTTP_PROXY`,
//! `NO_PROXY` in either case, `PROVIDER_HTTP_TIMEOUT_SECONDS`), read into the types of `tls`
//! and `outbound`.

use std::{path::PathBuf, time::Duration};

use super::{err, get, ConfigError, Lookup};
use crate::{
    outbound::{OutboundConfig, ProxyConfig},
    tls::{TrustConfig, TrustSource},
};

/// The outbound settings from the environment.
pub fn from_env(env: Lookup) -> Result<OutboundConfig, ConfigError> {
    let timeout = match get(env, "PROVIDER_HTTP_TIMEOUT_SECONDS") {
        None => 30,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=600).contains(s))
            .ok_or_else(|| {
                err(
                    "PROVIDER_HTTP_TIMEOUT_SECONDS",
                    "must be a whole number of seconds from 1 to 600",
                )
            })?,
    };
    Ok(OutboundConfig {
        trust: trust_from_env(env)?,
        proxy: proxy_from_env(env)?,
        timeout: Duration::from_secs(timeout),
    })
}

/// `SSL_CERT_FILE` and `SSL_CERT_DIR`; each must name something readable that holds at least
/// one PEM certificate.
fn trust_from_env(env: Lookup) -> Result<TrustConfig, ConfigError> {
    let path = |name: &str| get(env, name).map(PathBuf::from);
    TrustConfig::from_paths(path("SSL_CERT_FILE"), path("SSL_CERT_DIR")).map_err(|(source, why)| {
        match source {
            TrustSource::File => err("SSL_CERT_FILE", why),
            TrustSource::Dir => err("SSL_CERT_DIR", why),
        }
    })
}

/// The proxies as the conventional variables name them, upper case first, then lower.
fn proxy_from_env(env: Lookup) -> Result<ProxyConfig, ConfigError> {
    let read = |name: &str| get(env, name).or_else(|| get(env, &name.to_ascii_lowercase()));
    let proxy = ProxyConfig {
        https: read("HTTPS_PROXY"),
        http: read("HTTP_PROXY"),
        no_proxy: read("NO_PROXY"),
    };
    for (var, url) in [("HTTPS_PROXY", &proxy.https), ("HTTP_PROXY", &proxy.http)] {
        if let Some(u) = url {
            reqwest::Proxy::all(u.as_str()).map_err(|_| err(var, "is not a proxy URL"))?;
        }
    }
    Ok(proxy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pem_file_of_ssl_cert_dir_is_trusted_and_other_files_are_skipped() {
        let dir = std::env::temp_dir().join(format!("lifesync-tls-dir-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["a.pem", "b.crt"] {
            let ca = rcgen::generate_simple_self_signed(vec![format!("{name}.test")]).unwrap();
            std::fs::write(dir.join(name), ca.cert.pem()).unwrap();
        }
        std::fs::write(dir.join("README"), "not a certificate").unwrap();
        let d = dir.to_string_lossy().to_string();
        let env = move |k: &str| (k == "SSL_CERT_DIR").then(|| d.clone());
        let trust = from_env(&env).unwrap().trust;
        assert_eq!(trust.extra_anchors().unwrap().len(), 2);
        let base = TrustConfig::default().root_store().unwrap().len();
        assert_eq!(trust.root_store().unwrap().len(), base + 2);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_without_certificates_is_a_configuration_error() {
        let file = std::env::temp_dir().join(format!("lifesync-tls-{}.pem", ulid::Ulid::new()));
        std::fs::write(&file, "not a certificate").unwrap();
        let f = file.to_string_lossy().to_string();
        let env = move |k: &str| (k == "SSL_CERT_FILE").then(|| f.clone());
        let e = from_env(&env).unwrap_err();
        assert_eq!(e.var, "SSL_CERT_FILE");
        let env = |k: &str| (k == "SSL_CERT_FILE").then(|| "/nonexistent/ca.pem".to_string());
        assert_eq!(from_env(&env).unwrap_err().var, "SSL_CERT_FILE");
        std::fs::remove_file(file).unwrap();
    }
}
