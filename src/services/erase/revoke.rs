//! Step 1 of an erase: revoke a source's grant at its provider, where the provider lets us.
//!
//! | provider | how | notes |
//! |---|---|---|
//! | Twitter | `POST /2/oauth2/revoke`, refresh then access token | RFC 7009; Basic client auth |
//! | Google | `POST https://oauth2.googleapis.com/revoke` | either token ends the whole grant |
//! | LinkedIn | `POST /oauth/v2/revoke` (client id and secret) | access token |
//! | Facebook | `DELETE /me/permissions` | the app loses every permission of the user |
//! | Instagram, Microsoft | none | no per-token revocation exists: the tokens are deleted with the user; access tokens lapse (Microsoft ≈ 1 h, Instagram ≤ 60 days) and the user can remove the app in the provider's settings |
//!
//! A provider's 4xx (the token is already revoked or expired, or the provider refuses)
//! counts as done: nothing we can send would change it. A 5xx, 429 or transport failure is
//! [`Outcome::Unreachable`]: the caller decides whether to retry. No token ever reaches a log.

use crate::{
    crypto::{TokenCipher, TokenKey},
    db::users::SourceToRevoke,
    domain::ProviderId,
    oauth::{
        apps::ProviderApps,
        token_client::{self, OAuthError},
    },
};

/// How one source's revocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted at least one revocation.
    Revoked,
    /// Nothing to call: the provider has no revocation, the source no token, or its
    /// provider is not configured on this server.
    NotOffered,
    /// The provider answered 4xx (already revoked, expired, or refused): done.
    Refused(String),
    /// The provider could not be reached or failed (5xx, 429, timeout, TLS).
    Unreachable(String),
}

impl Outcome {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::NotOffered => "not_offered",
            Self::Refused(_) => "refused",
            Self::Unreachable(_) => "unreachable",
        }
    }
}

/// Revokes the source's refresh token, then its access token.
pub async fn revoke_source(apps: &ProviderApps, key: &TokenKey, s: &SourceToRevoke) -> Outcome {
    let Some(app) = ProviderId::parse(&s.provider).and_then(|p| apps.get(p)) else {
        return Outcome::NotOffered;
    };
    let cipher = TokenCipher::new(key);
    let open = |sealed: &Option<crate::crypto::Sealed>| {
        sealed
            .as_ref()
            .and_then(|t| cipher.open(t).ok())
            .and_then(|t| String::from_utf8(t).ok())
    };
    let (access, refresh) = (open(&s.access), open(&s.refresh));
    let mut results = Vec::new();
    if let Some(r) = &refresh {
        results.push(token_client::revoke_refresh(app, &apps.http, r).await);
    }
    if let Some(a) = &access {
        results.push(token_client::revoke(app, &apps.http, a).await);
    }
    combine(results)
}

/// One outcome for a source from its calls: unreachable wins (the grant may still live),
/// then revoked, then refused.
fn combine(results: Vec<Result<bool, OAuthError>>) -> Outcome {
    let mut outcome = Outcome::NotOffered;
    for r in results {
        outcome = match (outcome, r) {
            (o @ Outcome::Unreachable(_), _) => o,
            (_, Err(e @ (OAuthError::Transient(_) | OAuthError::Tls(_)))) => {
                Outcome::Unreachable(e.to_string())
            }
            (Outcome::Revoked, _) | (_, Ok(true)) => Outcome::Revoked,
            (_, Err(e @ OAuthError::Rejected { .. })) => Outcome::Refused(e.to_string()),
            (o, Ok(false)) => o,
        };
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected() -> Result<bool, OAuthError> {
        Err(OAuthError::Rejected {
            status: 400,
            error: "invalid_token".into(),
            description: String::new(),
        })
    }

    #[test]
    fn outcomes_combine() {
        assert_eq!(combine(vec![]), Outcome::NotOffered);
        assert_eq!(combine(vec![Ok(false)]), Outcome::NotOffered);
        // Google: the refresh token's revocation ends the grant; the access token is then
        // unknown to it.
        assert_eq!(combine(vec![Ok(true), rejected()]), Outcome::Revoked);
        assert!(matches!(combine(vec![rejected()]), Outcome::Refused(_)));
        assert!(matches!(
            combine(vec![Ok(true), Err(OAuthError::Transient("503".into()))]),
            Outcome::Unreachable(_)
        ));
    }
}
