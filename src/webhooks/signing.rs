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

/// How far a delivery's `webhook-timestamp` may be from the receiver's clock (the
/// specification's replay tolerance).
pub const TOLERANCE_SECONDS: i64 = 300;

/// A receiver's check: one of the `v1` signatures in `signature_header` is `secret`'s of the
/// message, and `timestamp` is within [`TOLERANCE_SECONDS`] of `now` (Unix seconds).
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    let Some(expected) = sign(secret, msg_id, ts, body) else {
        return false;
    };
    (now - ts).abs() <= TOLERANCE_SECONDS
        && signature_header
            .split(' ')
            .any(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    fn verification_needs_the_secret_and_a_fresh_timestamp() {
        let secret = new_secret();
        let header = signature_header(
            [new_secret().as_str(), secret.as_str()],
            "msg_1",
            1000,
            b"{}",
        );
        assert!(verify(&secret, "msg_1", "1000", &header, b"{}", 1200));
        assert!(
            !verify(&secret, "msg_1", "1000", &header, b"{}", 1301),
            "stale"
        );
        assert!(
            !verify(&secret, "msg_1", "1000", &header, b"{ }", 1000),
            "body changed"
        );
        assert!(
            !verify(&new_secret(), "msg_1", "1000", &header, b"{}", 1000),
            "other secret"
        );
        assert!(!verify(&secret, "msg_1", "soon", &header, b"{}", 1000));
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
