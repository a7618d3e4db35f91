//! The connected account behind a token, for each provider: its stable id (the data source's
//! `account_id`, always a string, exact beyond 2^53) and a display name. Each provider's wire
//! shape stays private here; the OAuth completion job calls [`fetch`].

use serde::Deserialize;

use super::{http::get_json, twitter::TwitterClient, ProviderError, ProviderId};
use crate::oauth::apps::ProviderApp;

/// Who connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    pub account_id: String,
    pub account_name: Option<String>,
}

/// Fetches the profile of the account `token` belongs to.
pub async fn fetch(
    app: &ProviderApp,
    http: &reqwest::Client,
    token: &str,
) -> Result<AccountProfile, ProviderError> {
    match app.id {
        ProviderId::Twitter => {
            let p = TwitterClient::new(http.clone(), Some(&app.api_base))
                .profile(token)
                .await?;
            Ok(AccountProfile {
                account_id: p.id,
                account_name: p.username.or(p.name),
            })
        }
        ProviderId::Instagram => {
            #[derive(Deserialize)]
            struct Me {
                user_id: Option<IdValue>,
                id: Option<IdValue>,
                username: Option<String>,
            }
            let me: Me = get_json(
                app.id,
                http.get(app.api_url("/me"))
                    .query(&[("fields", "user_id,username,name,account_type")])
                    .bearer_auth(token),
            )
            .await?;
            let id = me.user_id.or(me.id).ok_or_else(no_id)?;
            Ok(AccountProfile {
                account_id: id.0,
                account_name: me.username,
            })
        }
        ProviderId::Google => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Profile {
                email_address: String,
            }
            let p: Profile = get_json(
                app.id,
                http.get(app.api_url("/gmail/v1/users/me/profile"))
                    .bearer_auth(token),
            )
            .await?;
            Ok(AccountProfile {
                account_name: Some(p.email_address.clone()),
                account_id: p.email_address,
            })
        }
        ProviderId::Facebook => {
            #[derive(Deserialize)]
            struct Me {
                id: IdValue,
                name: Option<String>,
            }
            let me: Me = get_json(
                app.id,
                http.get(app.api_url("/v18.0/me"))
                    .query(&[("fields", "id,name")])
                    .bearer_auth(token),
            )
            .await?;
            Ok(AccountProfile {
                account_id: me.id.0,
                account_name: me.name,
            })
        }
        ProviderId::Linkedin => {
            #[derive(Deserialize)]
            struct UserInfo {
                sub: String,
                name: Option<String>,
            }
            let u: UserInfo = get_json(
                app.id,
                http.get(app.api_url("/v2/userinfo")).bearer_auth(token),
            )
            .await?;
            Ok(AccountProfile {
                account_id: u.sub,
                account_name: u.name,
            })
        }
        ProviderId::Microsoft => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Me {
                id: String,
                display_name: Option<String>,
                mail: Option<String>,
                user_principal_name: Option<String>,
            }
            let me: Me =
                get_json(app.id, http.get(app.api_url("/v1.0/me")).bearer_auth(token)).await?;
            Ok(AccountProfile {
                account_id: me.id,
                account_name: me.display_name.or(me.mail).or(me.user_principal_name),
            })
        }
    }
}

fn no_id() -> ProviderError {
    ProviderError::Permanent("profile without an id".into())
}

/// An id sent as a JSON string or number, kept exact as a string.
struct IdValue(String);

impl<'de> Deserialize<'de> for IdValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Self(s)),
            serde_json::Value::Number(n) => Ok(Self(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected an id, got {other}"
            ))),
        }
    }
}
