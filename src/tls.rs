//! Trust for every outbound TLS connection the service makes — provider APIs, PostgreSQL and
//! Redis: the operating system's root store plus the extra anchors named by `SSL_CERT_FILE`
//! (a PEM bundle) and `SSL_CERT_DIR` (a folder of PEM files), as OpenSSL reads them, so a
//! corporate proxy's CA or a private CA works without code changes.
//!
//! The operating system's store is the distribution's CA bundle on Linux and the BSDs, the
//! platform store elsewhere; the bundled Mozilla set (`webpki-roots`) is used only where the
//! operating system has none. The crypto provider is aws-lc-rs, installed once per process.

use std::path::{Path, PathBuf};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer},
    ClientConfig, RootCertStore,
};

/// Which of the two extra-anchor settings a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustSource {
    /// `SSL_CERT_FILE`.
    File,
    /// `SSL_CERT_DIR`.
    Dir,
}

/// Where the CA bundles of the common distributions live (Debian/Ubuntu, Fedora/RHEL,
/// openSUSE, Alpine, the BSDs).
const OS_BUNDLES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
];

/// The extra trust anchors of this deployment (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    pub cert_file: Option<PathBuf>,
    pub cert_dir: Option<PathBuf>,
    /// Anchors given in memory (`lifesync dev` and tests: the sandbox's CA).
    pub inline: Vec<CertificateDer<'static>>,
}

impl TrustConfig {
    /// Trusts `cert_file` (a PEM bundle, as `SSL_CERT_FILE`) and the PEM files of `cert_dir`
    /// (as `SSL_CERT_DIR`) besides the operating system's; each must be readable, and the file
    /// must hold at least one certificate. The error names which of the two is wrong.
    pub fn from_paths(
        cert_file: Option<PathBuf>,
        cert_dir: Option<PathBuf>,
    ) -> Result<Self, (TrustSource, String)> {
        let trust = Self {
            cert_file,
            cert_dir,
            inline: Vec::new(),
        };
        if let Some(f) = &trust.cert_file {
            let n = read_pem_file(f)
                .map_err(|e| (TrustSource::File, e.to_string()))?
                .len();
            if n == 0 {
                return Err((TrustSource::File, "holds no PEM certificate".into()));
            }
        }
        if let Some(d) = &trust.cert_dir {
            read_pem_dir(d).map_err(|e| (TrustSource::Dir, e.to_string()))?;
        }
        Ok(trust)
    }

    /// Trusts the certificates in `file` besides the operating system's (as `SSL_CERT_FILE`).
    pub fn with_file(file: impl Into<PathBuf>) -> Self {
        Self {
            cert_file: Some(file.into()),
            ..Self::default()
        }
    }

    /// Also trusts the certificates of a PEM bundle.
    pub fn adding_pem(mut self, pem: &str) -> std::io::Result<Self> {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            self.inline
                .push(cert.map_err(|e| std::io::Error::other(format!("not PEM: {e}")))?);
        }
        Ok(self)
    }

    /// The extra anchors, in DER.
    pub fn extra_anchors(&self) -> std::io::Result<Vec<CertificateDer<'static>>> {
        let mut certs = self.inline.clone();
        if let Some(f) = &self.cert_file {
            certs.extend(read_pem_file(f)?);
        }
        if let Some(d) = &self.cert_dir {
            certs.extend(read_pem_dir(d)?);
        }
        Ok(certs)
    }

    /// The extra anchors as one PEM bundle (for clients that take PEM: sqlx, redis); `None`
    /// when there are none.
    pub fn extra_pem(&self) -> std::io::Result<Option<Vec<u8>>> {
        let certs = self.extra_anchors()?;
        if certs.is_empty() {
            return Ok(None);
        }
        Ok(Some(to_pem(&certs).into_bytes()))
    }

    /// The operating system's roots plus the extra anchors, as one PEM bundle (for clients
    /// that replace their store with the one given: redis).
    pub fn all_anchors_pem(&self) -> std::io::Result<String> {
        let mut certs = os_roots();
        certs.extend(self.extra_anchors()?);
        Ok(to_pem(&certs))
    }

    /// The operating system's roots plus the extra anchors.
    pub fn root_store(&self) -> std::io::Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(os_roots());
        if added == 0 {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in self.extra_anchors()? {
            store
                .add(cert)
                .map_err(|e| std::io::Error::other(format!("an extra CA is not usable: {e}")))?;
        }
        Ok(store)
    }

    /// A rustls client configuration trusting [`root_store`](Self::root_store), offering
    /// HTTP/2 and HTTP/1.1 by ALPN.
    pub fn client_config(&self) -> std::io::Result<ClientConfig> {
        install_crypto_provider();
        let mut config = ClientConfig::builder()
            .with_root_certificates(self.root_store()?)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Installs aws-lc-rs as the process's rustls crypto provider (idempotent). Every TLS client
/// and server of the process calls it before building a configuration.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The operating system's trust anchors, ignoring `SSL_CERT_*` (those are added, not
/// substituted).
fn os_roots() -> Vec<CertificateDer<'static>> {
    if cfg!(all(unix, not(target_os = "macos"))) {
        if let Some(certs) = OS_BUNDLES
            .iter()
            .map(Path::new)
            .filter(|p| p.is_file())
            .find_map(|p| read_pem_file(p).ok().filter(|c| !c.is_empty()))
        {
            return certs;
        }
    }
    rustls_native_certs::load_native_certs().certs
}

fn read_pem_file(path: &Path) -> std::io::Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| std::io::Error::other(format!("{}: not PEM: {e}", path.display())))
}

/// Every certificate of the PEM files in `dir` (files that hold none are skipped, as
/// OpenSSL's hashed-link folders also hold other files).
fn read_pem_dir(dir: &Path) -> std::io::Result<Vec<CertificateDer<'static>>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|p| read_pem_file(p).ok())
        .flatten()
        .collect())
}

/// DER certificates as a PEM bundle.
pub fn to_pem(certs: &[CertificateDer<'_>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for cert in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_roots_are_found_here() {
        assert!(
            os_roots().len() > 50,
            "the OS bundle should hold the public roots"
        );
    }

    #[test]
    fn extra_anchors_are_added_not_substituted() {
        let dir = std::env::temp_dir().join(format!("lifesync-tls-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let file = dir.join("ca.pem");
        std::fs::write(&file, ca.cert.pem()).unwrap();
        let base = TrustConfig::default().root_store().unwrap().len();
        let trust = TrustConfig::with_file(&file);
        assert_eq!(trust.root_store().unwrap().len(), base + 1);
        let pem = String::from_utf8(trust.extra_pem().unwrap().unwrap()).unwrap();
        assert_eq!(pem.trim(), ca.cert.pem().trim());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
