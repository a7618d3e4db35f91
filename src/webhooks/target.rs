//! Which URLs a webhook may call: `https` only, no credentials in the URL, and never an
//! address on loopback, a private or link-local range (cloud metadata at 169.254.169.254
//! included), shared, reserved, multicast or documentation space — unless
//! `WEBHOOK_ALLOW_PRIVATE_TARGETS=true` (dev and tests), which also allows `http`.
//!
//! The check runs at registration ([`check_url`], [`check_resolved`]) and again at every
//! connection: the delivery client resolves names through [`GuardedResolver`], which drops
//! forbidden addresses, so a name that moved to a private address since registration (DNS
//! rebinding) is refused at connect time; an address written in the URL never reaches a
//! resolver, so [`check_url`] runs before each request too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Why a target is refused (the API's `invalid_webhook_url` / `webhook_target_forbidden`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the URL is not a valid absolute URL")]
    Invalid,
    #[error("the URL must use https")]
    Scheme,
    #[error("the URL must not carry credentials")]
    Credentials,
    #[error("the URL's host is a loopback, private or reserved address")]
    Forbidden,
}

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Parses and checks a target URL (without resolving its name).
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, TargetError> {
    if raw.len() > MAX_URL_LEN {
        return Err(TargetError::Invalid);
    }
    let url = Url::parse(raw).map_err(|_| TargetError::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(TargetError::Scheme),
        _ => return Err(TargetError::Invalid),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let forbidden = match url.host() {
        None => return Err(TargetError::Invalid),
        Some(Host::Ipv4(ip)) => is_forbidden(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_forbidden(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => is_local_name(name),
    };
    if forbidden && !allow_private {
        return Err(TargetError::Forbidden);
    }
    Ok(url)
}

/// Resolves the URL's host now and refuses it when every address it has is forbidden. A name
/// that does not resolve (yet) is accepted: deliveries retry, and connect time checks again.
pub async fn check_resolved(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    let (Some(Host::Domain(name)), false) = (url.host(), allow_private) else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    match tokio::net::lookup_host((name, port)).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if !addrs.is_empty() && addrs.iter().all(|a| is_forbidden(a.ip())) {
                Err(TargetError::Forbidden)
            } else {
                Ok(())
            }
        }
        Err(_) => Ok(()),
    }
}

/// Names that mean this machine or its private network whatever DNS says.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.ends_with(".local")
        || name.ends_with(".internal")
}

/// Whether a webhook may not connect to `ip`.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let o = ip.octets();
        return is_forbidden_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local
        || (seg[0] & 0xffc0) == 0xfe80 // link-local
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

/// The delivery client's resolver: the system's, without the forbidden addresses (all of
/// them kept when private targets are allowed). A name left with none fails to connect.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !is_forbidden(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    Box::new(TargetError::Forbidden) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_refused_for_scheme_credentials_and_local_hosts() {
        let ok = check_url("https://hooks.example.com/in?x=1", false).unwrap();
        assert_eq!(ok.host_str(), Some("hooks.example.com"));
        assert_eq!(
            check_url("http://hooks.example.com/", false),
            Err(TargetError::Scheme)
        );
        assert_eq!(
            check_url("ftp://hooks.example.com/", false),
            Err(TargetError::Invalid)
        );
        assert_eq!(
            check_url("https://u:p@hooks.example.com/", false),
            Err(TargetError::Credentials)
        );
        assert_eq!(check_url("not a url", false), Err(TargetError::Invalid));
        for url in [
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://localhost/",
            "https://a.localhost/",
            "https://10.0.0.5/",
            "https://169.254.169.254/latest/meta-data",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://metadata.google.internal/",
        ] {
            assert_eq!(check_url(url, false), Err(TargetError::Forbidden), "{url}");
        }
        // Dev and tests: loopback and http are allowed.
        assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, false), Err(TargetError::Invalid));
    }
}
