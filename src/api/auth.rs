//! Bearer JWT authentication: HS256 with `JWT_SECRET`, `exp` required, `sub` is the user id,
//! `role: "admin"` marks administrators.

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

/// Verifies an HS256 token with a required, unexpired `exp` and a non-empty `sub`.
pub fn verify(key: &DecodingKey, token: &str) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation).ok()?;
    (!data.claims.sub.is_empty() && data.claims.sub.len() <= 255).then_some(data.claims)
}
