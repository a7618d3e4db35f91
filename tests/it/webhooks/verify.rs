//! The Standard Webhooks verification, written here from the specification and independent of
//! the service's code (its HMAC-SHA256 too, from SHA-256): the signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`, the key the base64-decoded secret after `whsec_`,
//! and `webhook-signature` a space-separated list of `v1,<base64>`.

use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};

use super::receiver::Received;

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The expected `v1` signature of a message under `secret`.
pub fn expected(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64 secret");
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    STANDARD.encode(hmac_sha256(&key, &content))
}

/// Whether `secret` signed what arrived: one of its `v1` signatures matches, and its
/// timestamp is within five minutes of now (the specification's replay tolerance).
pub fn verifies(secret: &str, r: &Received) -> bool {
    let now = chrono::Utc::now().timestamp();
    let fresh = r
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() <= 300);
    let want = expected(secret, &r.id, &r.timestamp, &r.body);
    fresh
        && r.signature
            .split(' ')
            .filter_map(|s| s.split_once(','))
            .any(|(v, sig)| v == "v1" && sig == want)
}

#[test]
fn hmac_matches_rfc_4231_test_case_2() {
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn the_service_signs_what_this_verification_expects() {
    let secret = lifesync::webhooks::signing::new_secret();
    let body = br#"{"type":"sync.succeeded"}"#;
    let header = lifesync::webhooks::signing::signature_header(
        [secret.as_str()],
        "msg_x",
        1_700_000_000,
        body,
    );
    assert_eq!(
        header,
        format!("v1,{}", expected(&secret, "msg_x", "1700000000", body))
    );
}
