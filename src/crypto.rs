//! Sealing secrets at rest: provider access and refresh tokens in PostgreSQL, and the OAuth
//! code and PKCE verifier inside job payloads, with AES-256-GCM under `TOKEN_ENCRYPTION_KEY`.
//!
//! A sealed value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`, stored beside the id
//! of the key that sealed it, so a new key can be introduced while old rows still open. Nonces
//! are random per seal (96 bits: safe far beyond the number of tokens we will ever seal under
//! one key). Opening fails loudly on a wrong key or any tampering; no plaintext is logged.

use aes_gcm::{
    aead::{Aead, KeyInit},
    Aes256Gcm, Nonce,
};
use base64::Engine;
use secrecy::{ExposeSecret, SecretBox};

/// Why a configured key is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidKey {
    #[error("must be base64")]
    NotBase64,
    #[error("must decode to exactly 32 bytes")]
    WrongLength,
}

/// The AES-256-GCM key for provider tokens at rest, with a key id derived from it (the first
/// 8 bytes of its SHA-256, hex) so stored ciphertexts name the key that sealed them.
///
/// Rotation: a new key goes into `TOKEN_ENCRYPTION_KEY` and the old one into
/// `TOKEN_ENCRYPTION_KEY_PREVIOUS` (comma-separated, newest first). Values sealed under a
/// previous key still open; every write seals under the current key, so a token moves to the
/// new key the next time it is refreshed or stored. A previous key can be dropped once no row
/// names its key id (`SELECT DISTINCT key_id FROM oauth_tokens`).
pub struct TokenKey {
    pub key_id: String,
    key: SecretBox<[u8; 32]>,
    /// Keys that only open (never seal), from `TOKEN_ENCRYPTION_KEY_PREVIOUS`.
    pub previous: Vec<TokenKey>,
}

impl TokenKey {
    /// The key from its base64 form (`TOKEN_ENCRYPTION_KEY`'s value).
    pub fn from_base64(b64: &str) -> Result<Self, InvalidKey> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| InvalidKey::NotBase64)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| InvalidKey::WrongLength)?;
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key);
        let key_id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            key_id,
            key: SecretBox::new(Box::new(key)),
            previous: Vec::new(),
        })
    }

    /// This key with `previous` keys that still open old values.
    pub fn with_previous(mut self, previous: Vec<TokenKey>) -> Self {
        self.previous = previous;
        self
    }

    pub fn bytes(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }
}

impl Clone for TokenKey {
    fn clone(&self) -> Self {
        Self {
            key_id: self.key_id.clone(),
            key: SecretBox::new(Box::new(*self.bytes())),
            previous: self.previous.clone(),
        }
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({}, ***)", self.key_id)
    }
}

const NONCE_LEN: usize = 12;

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("sealed value is malformed or was tampered with")]
    Tampered,
}

/// A value sealed under the key `key_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({}, {} bytes)", self.key_id, self.bytes.len())
    }
}

/// Seals with the configured key; opens with it or any previous key (rotation, see
/// [`TokenKey`]).
pub struct TokenCipher<'k> {
    key: &'k TokenKey,
    aead: Aes256Gcm,
}

impl<'k> TokenCipher<'k> {
    pub fn new(key: &'k TokenKey) -> Self {
        Self {
            aead: Aes256Gcm::new(key.bytes().into()),
            key,
        }
    }

    /// Whether `sealed` was sealed under an older key (and should be re-sealed on next write).
    pub fn is_stale(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.key.key_id
    }

    pub fn seal(&self, plaintext: &[u8]) -> Sealed {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let ct = self
            .aead
            .encrypt(&Nonce::from(nonce_bytes), plaintext)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut bytes = Vec::with_capacity(NONCE_LEN + ct.len());
        bytes.extend_from_slice(&nonce_bytes);
        bytes.extend_from_slice(&ct);
        Sealed {
            key_id: self.key.key_id.clone(),
            bytes,
        }
    }

    pub fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, OpenError> {
        let previous;
        let aead = if sealed.key_id == self.key.key_id {
            &self.aead
        } else {
            let key = self
                .key
                .previous
                .iter()
                .find(|k| k.key_id == sealed.key_id)
                .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.clone()))?;
            previous = Aes256Gcm::new(key.bytes().into());
            &previous
        };
        if sealed.bytes.len() < NONCE_LEN + 16 {
            return Err(OpenError::Tampered);
        }
        let (nonce, ct) = sealed.bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Tampered)?;
        aead.decrypt(&Nonce::from(nonce), ct)
            .map_err(|_| OpenError::Tampered)
    }

    /// A sealed value as one string, for job payloads: `v1.<key_id>.<base64>`.
    pub fn seal_to_string(&self, plaintext: &str) -> String {
        let s = self.seal(plaintext.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&s.bytes);
        format!("v1.{}.{b64}", s.key_id)
    }

    /// Opens a value made by [`TokenCipher::seal_to_string`].
    pub fn open_string(&self, text: &str) -> Result<String, OpenError> {
        let mut parts = text.splitn(3, '.');
        let (Some("v1"), Some(key_id), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenError::Tampered);
        };
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| OpenError::Tampered)?;
        let plain = self.open(&Sealed {
            key_id: key_id.to_string(),
            bytes,
        })?;
        String::from_utf8(plain).map_err(|_| OpenError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b64: &str) -> TokenKey {
        TokenKey::from_base64(b64).unwrap()
    }
    const K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    #[test]
    fn seals_open_and_hide_the_plaintext() {
        let k = key(K1);
        let c = TokenCipher::new(&k);
        let token = b"ya29.a0AfH6SMBx-secret-access-token";
        let a = c.seal(token);
        let b = c.seal(token);
        assert_ne!(a.bytes, b.bytes, "a fresh nonce per seal");
        assert!(!a.bytes.windows(6).any(|w| w == b"secret"));
        assert_eq!(a.bytes.len(), 12 + token.len() + 16);
        assert_eq!(c.open(&a).unwrap(), token);
    }

    #[test]
    fn tampering_and_wrong_keys_are_refused() {
        let (k1, k2) = (key(K1), key(K2));
        let (c1, c2) = (TokenCipher::new(&k1), TokenCipher::new(&k2));
        let mut s = c1.seal(b"refresh-token");
        assert_eq!(c2.open(&s), Err(OpenError::UnknownKey(k1.key_id.clone())));
        // Same id, other key material: authentication fails.
        let forged = Sealed {
            key_id: k2.key_id.clone(),
            bytes: s.bytes.clone(),
        };
        assert_eq!(c2.open(&forged), Err(OpenError::Tampered));
        s.bytes[20] ^= 1;
        assert_eq!(c1.open(&s), Err(OpenError::Tampered));
        s.bytes.truncate(10);
        assert_eq!(c1.open(&s), Err(OpenError::Tampered));
    }

    #[test]
    fn previous_keys_still_open_and_new_seals_use_the_current_key() {
        let old = key(K1);
        let sealed_old = TokenCipher::new(&old).seal(b"token-under-k1");
        let rotated = key(K2).with_previous(vec![key(K1)]);
        let c = TokenCipher::new(&rotated);
        assert!(c.is_stale(&sealed_old));
        assert_eq!(c.open(&sealed_old).unwrap(), b"token-under-k1");
        let resealed = c.seal(b"token-under-k1");
        assert_eq!(resealed.key_id, rotated.key_id);
        assert!(!c.is_stale(&resealed));
        // Without the previous key, the old value does not open.
        assert!(matches!(
            TokenCipher::new(&key(K2)).open(&sealed_old),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn string_form_round_trips() {
        let k = key(K1);
        let c = TokenCipher::new(&k);
        let s = c.seal_to_string("auth-code-123");
        assert!(s.starts_with(&format!("v1.{}.", k.key_id)));
        assert!(!s.contains("auth-code"));
        assert_eq!(c.open_string(&s).unwrap(), "auth-code-123");
        assert_eq!(c.open_string("v2.x.y"), Err(OpenError::Tampered));
        assert_eq!(
            c.open_string(&s.replace("v1.", "v1.0")),
            Err(OpenError::UnknownKey(format!("0{}", k.key_id)))
        );
    }
}
