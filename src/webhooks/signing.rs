//! Standard Webhooks signing (<https://www.standardwebhooks.com>): a secret is `whsec_` and the
//! base64 of 32 random bytes; a message is signed as HMAC-SHA256, keyed with the secret's
//! bytes, of `{webhook-id}.{webhook-timestamp}.{body}`, and the `webhook-signature` header
//! holds `v1,<base64 signature>` for every secret in force, separated by spaces (during a
//! rotation, the new one and the previous one), so a receiver's stock library verifies it.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new random signing secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The key bytes of a secret (`whsec_` + base64). None: not a secret of ours.
pub fn key_bytes(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX)?)
        .ok()
        .filter(|b| !b.is_empty())
}

/// One signature, `v1,<base64>`, of a message under one secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes(secret)?).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header's value: one signature per secret, space-separated.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .filter_map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_decode_to_32_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(key_bytes(&a).unwrap().len(), 32);
        assert_eq!(key_bytes("not_a_secret"), None);
    }

    #[test]
    fn the_specifications_example_signs_as_published() {
        // The example of the Standard Webhooks specification (its libraries' test vector).
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn the_header_carries_one_signature_per_secret() {
        let (a, b) = (new_secret(), new_secret());
        let h = signature_header([a.as_str(), b.as_str()], "msg_1", 1_700_000_000, b"{}");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&a, "msg_1", 1_700_000_000, b"{}").unwrap());
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        // Any change to the id, the time or the body changes the signature.
        assert_ne!(
            sign(&a, "msg_2", 1_700_000_000, b"{}"),
            sign(&a, "msg_1", 1_700_000_000, b"{}")
        );
        assert_ne!(
            sign(&a, "msg_1", 1_700_000_001, b"{}"),
            sign(&a, "msg_1", 1_700_000_000, b"{}")
        );
        assert_ne!(
            sign(&a, "msg_1", 1_700_000_000, b"{ }"),
            sign(&a, "msg_1", 1_700_000_000, b"{}")
        );
    }
}
