//! Bearer JWT authentication: HS256 with `JWT_SECRET`, `exp` required and `nbf` honoured (no
//! leeway), `sub` is the user id, `role: "admin"` marks administrators. A `sub` that is blank,
//! longer than 255 bytes or holds a control character (NUL included) is refused: such an id
//! is no user and could never be stored.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use poem::Request;
use poem_openapi::{auth::Bearer, SecurityScheme};
use serde::{Deserialize, Serialize};

use super::AppState;

/// The claims lifesync reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default)]
    pub role: Option<String>,
}

impl Claims {
    pub fn is_admin(&self) -> bool {
        self.role.as_deref() == Some("admin")
    }
}

/// An authenticated API user.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_token")]
pub struct User(pub Claims);

async fn check_token(req: &Request, bearer: Bearer) -> Option<Claims> {
    let state = req.data::<AppState>()?;
    verify(&state.jwt_key, &bearer.token)
}

/// Verifies an HS256 token with a required, unexpired `exp`, a reached `nbf` (when present)
/// and a usable `sub` ([`valid_sub`]).
pub fn verify(key: &DecodingKey, token: &str) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation).ok()?;
    valid_sub(&data.claims.sub).then_some(data.claims)
}

/// A user id: 1–255 bytes, not only whitespace, no control character.
pub fn valid_sub(sub: &str) -> bool {
    !sub.trim().is_empty() && sub.len() <= 255 && !sub.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::valid_sub;

    #[test]
    fn subs() {
        assert!(valid_sub("user-1"));
        assert!(!valid_sub(""));
        assert!(!valid_sub(" \t "));
        assert!(!valid_sub("a\u{0}b"));
        assert!(!valid_sub(&"x".repeat(256)));
    }
}
