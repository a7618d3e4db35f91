//! The sandbox's HTTPS: a private certificate authority generated at start (rcgen), server
//! certificates it signs for loopback names, and the CA's PEM for clients to trust (written to
//! a file that `lifesync sandbox --tls` names). Tests use the same CA for the private
//! PostgreSQL and Redis servers they start with TLS.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The names every sandbox certificate is valid for.
pub const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A certificate authority that exists only in this process (and in the CA file it writes).
pub struct PrivateCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server's certificate chain and private key, in PEM.
#[derive(Clone)]
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl PrivateCa {
    /// A fresh CA named `name`.
    pub fn generate(name: &str) -> Result<Self, rcgen::Error> {
        install_crypto_provider();
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { issuer })
    }

    /// The CA certificate clients trust.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes the CA certificate to `path` (created or replaced).
    pub fn write_cert(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.cert_pem())
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub fn issue_server(&self, names: &[&str]) -> Result<ServerCert, rcgen::Error> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Installs aws-lc-rs as the process's rustls crypto provider (idempotent; a no-op when the
/// process installed one already).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// What a sandbox serving HTTPS needs: its certificate, and the CA that clients trust.
pub struct SandboxTls {
    pub ca: PrivateCa,
    pub server: ServerCert,
}

impl SandboxTls {
    /// A new CA and a certificate for the loopback names.
    pub fn generate() -> Result<Self, rcgen::Error> {
        let ca = PrivateCa::generate("lifesync sandbox CA")?;
        let server = ca.issue_server(&LOOPBACK_NAMES)?;
        Ok(Self { ca, server })
    }
}
