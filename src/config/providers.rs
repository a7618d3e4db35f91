//! One provider's OAuth client, endpoint overrides, rate limits and quirks (`{P}_*`).

use secrecy::SecretString;
use url::Url;

use super::{err, get, parse_url, ConfigError, Lookup};
use crate::domain::{ClientAuth, ProviderId};

/// One provider's OAuth client and endpoint overrides.
#[derive(Debug)]
pub struct ProviderConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: Url,
    pub auth_url: Option<Url>,
    pub token_url: Option<Url>,
    pub api_base_url: Option<Url>,
    /// `{P}_TOKEN_AUTH`: `client_secret_basic` or `client_secret_post` (None: the provider's
    /// documented method), for standards-conformant servers behind the endpoint overrides.
    pub token_auth: Option<ClientAuth>,
    /// `{P}_APP_RATE_LIMIT`: requests per minute for the whole app, across all workers.
    pub app_rate_limit: Option<u32>,
    /// `{P}_ACCOUNT_RATE_LIMIT`: requests per minute per connected account.
    pub account_rate_limit: Option<u32>,
    /// `{P}_SCOPES` (space-separated): the scopes requested (None: the provider's documented
    /// default in `providers::oauth_spec`).
    pub scopes: Option<Vec<String>>,
    /// `LINKEDIN_API_VERSION` (`YYYYMM`, LinkedIn only; None: the client's default).
    pub api_version: Option<String>,
    /// `MICROSOFT_EXCLUDED_FOLDERS` (Outlook only): mail folders not synced, by Graph
    /// well-known name or folder id (None: the client's default, Junk Email and Deleted Items).
    pub excluded_folders: Option<Vec<String>>,
}

impl ProviderConfig {
    /// None when the provider is disabled (no credentials); an error when only some are set.
    pub(super) fn from_env(env: Lookup, p: ProviderId) -> Result<Option<Self>, ConfigError> {
        let (id_var, secret_var) = match p {
            ProviderId::Facebook => (
                "FACEBOOK_APP_ID".to_string(),
                "FACEBOOK_APP_SECRET".to_string(),
            ),
            _ => (
                format!("{}_CLIENT_ID", p.env_prefix()),
                format!("{}_CLIENT_SECRET", p.env_prefix()),
            ),
        };
        let redirect_var = format!("{}_REDIRECT_URI", p.env_prefix());
        let id = get(env, &id_var);
        let secret = get(env, &secret_var);
        let redirect = parse_url(env, &redirect_var)?;
        let overrides = |suffix: &str| parse_url(env, &format!("{}_{suffix}", p.env_prefix()));
        let (auth_url, token_url, api_base_url) = (
            overrides("AUTH_URL")?,
            overrides("TOKEN_URL")?,
            overrides("API_BASE_URL")?,
        );
        let auth_var = format!("{}_TOKEN_AUTH", p.env_prefix());
        let token_auth = get(env, &auth_var)
            .map(|v| {
                ClientAuth::parse(&v).ok_or_else(|| {
                    err(
                        &auth_var,
                        "must be client_secret_basic or client_secret_post",
                    )
                })
            })
            .transpose()?;
        let rate = |suffix: &str| -> Result<Option<u32>, ConfigError> {
            let var = format!("{}_{suffix}", p.env_prefix());
            get(env, &var)
                .map(|v| match v.trim().parse::<u32>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(err(
                        &var,
                        "must be a positive number of requests per minute",
                    )),
                })
                .transpose()
        };
        let (app_rate_limit, account_rate_limit) =
            (rate("APP_RATE_LIMIT")?, rate("ACCOUNT_RATE_LIMIT")?);
        let scopes_var = format!("{}_SCOPES", p.env_prefix());
        let scopes = get(env, &scopes_var)
            .map(|v| {
                let s: Vec<String> = v.split_whitespace().map(String::from).collect();
                if s.is_empty() {
                    Err(err(
                        &scopes_var,
                        "must name at least one scope (space-separated)",
                    ))
                } else {
                    Ok(s)
                }
            })
            .transpose()?;
        let api_version = match p {
            ProviderId::Linkedin => get(env, "LINKEDIN_API_VERSION")
                .map(|v| {
                    let v = v.trim().to_string();
                    let month = v.get(4..6).and_then(|m| m.parse::<u32>().ok());
                    if v.len() == 6
                        && v.bytes().all(|b| b.is_ascii_digit())
                        && month.is_some_and(|m| (1..=12).contains(&m))
                    {
                        Ok(v)
                    } else {
                        Err(err(
                            "LINKEDIN_API_VERSION",
                            "must be a month as YYYYMM, e.g. 202611",
                        ))
                    }
                })
                .transpose()?,
            _ => None,
        };
        let excluded_folders = match p {
            ProviderId::Microsoft => get(env, "MICROSOFT_EXCLUDED_FOLDERS").map(|v| {
                v.split([',', ' '])
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(String::from)
                    .collect()
            }),
            _ => None,
        };
        match (id, secret, redirect) {
            (None, None, None) => Ok(None),
            (Some(client_id), Some(secret), Some(redirect_uri)) => Ok(Some(Self {
                client_id,
                client_secret: SecretString::from(secret),
                redirect_uri,
                auth_url,
                token_url,
                api_base_url,
                token_auth,
                app_rate_limit,
                account_rate_limit,
                scopes,
                api_version,
                excluded_folders,
            })),
            (id, secret, redirect) => {
                let missing = [
                    (id.is_none(), id_var),
                    (secret.is_none(), secret_var),
                    (redirect.is_none(), redirect_var),
                ]
                .into_iter()
                .find(|(m, _)| *m)
                .map(|(_, v)| v)
                .expect("one is missing");
                Err(err(
                    missing,
                    format!("must be set when any of {}'s OAuth credentials is set", p),
                ))
            }
        }
    }
}
