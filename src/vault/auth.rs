//! Login and renewal for each auth method.

use vaultrs::api::AuthInfo;
use vaultrs::error::ClientError;

use super::{errors, Client, TokenInfo};
use crate::config::{AuthMethod, SecretSource};
use crate::error::{Error, Result};

/// Logs in, or for a given token looks it up, and installs the new token.
pub async fn login(client: &Client) -> Result<TokenInfo> {
  let auth = &client.settings.auth;
  let mount = auth.mount.as_str();
  let vault = client.vault();
  let result = match &auth.method {
    AuthMethod::Token(token) => return lookup(client, token.is_some()).await,
    AuthMethod::AppRole { role_id, secret_id } => {
      let secret_id = read_secret(secret_id, "secret id")?;
      vaultrs::auth::approle::login(vault.as_ref(), mount, role_id, &secret_id).await
    }
    AuthMethod::Kubernetes { role, jwt_file } => {
      let jwt = read_secret(
        &SecretSource::File(jwt_file.clone()),
        "service account token",
      )?;
      vaultrs::auth::kubernetes::login(vault.as_ref(), mount, role, &jwt).await
    }
    AuthMethod::Jwt { role, jwt_file } => {
      let jwt = read_secret(&SecretSource::File(jwt_file.clone()), "JWT")?;
      vaultrs::auth::oidc::login(vault.as_ref(), mount, &jwt, role.clone()).await
    }
  };
  let info = result.map_err(|e| login_error(client, &e))?;
  client.set_token(&info.client_token);
  Ok(token_info(&info))
}

/// Looks up the current token with a plain request that reads only the
/// TTL and the renewable flag: a Vault or OpenBao proxy returns the lookup
/// without some fields (the accessor among them) that `vaultrs` requires.
async fn lookup(client: &Client, has_token: bool) -> Result<TokenInfo> {
  let (status, body) = client.get_json("auth/token/lookup-self").await?;
  match status {
    200 => Ok(TokenInfo {
      ttl_seconds: body
        .pointer("/data/ttl")
        .and_then(|v| v.as_u64())
        .unwrap_or(0),
      renewable: body
        .pointer("/data/renewable")
        .and_then(|v| v.as_bool())
        .unwrap_or(false),
    }),
    401 | 403 if !has_token => Err(Error::NoToken {
      address: client.address.clone(),
    }),
    401 | 403 => Err(Error::TokenRejected {
      address: client.address.clone(),
      status,
    }),
    503 => Err(Error::Sealed {
      address: client.address.clone(),
    }),
    _ => Err(Error::Read {
      path: "auth/token/lookup-self".into(),
      reason: format!("status {status}{}", errors::first_error(&body)),
    }),
  }
}

/// Looks up the current token.
pub async fn check(client: &Client) -> Result<TokenInfo> {
  lookup(client, true).await
}

/// Renews the current token.
pub async fn renew(client: &Client) -> Result<TokenInfo> {
  let vault = client.vault();
  let info = vaultrs::token::renew_self(vault.as_ref(), None)
    .await
    .map_err(|e| errors::classify_login(&e, &client.address))?;
  Ok(token_info(&info))
}

fn token_info(info: &AuthInfo) -> TokenInfo {
  TokenInfo {
    ttl_seconds: info.lease_duration,
    renewable: info.renewable,
  }
}

fn read_secret(source: &SecretSource, what: &str) -> Result<String> {
  match source {
    SecretSource::Value(secret) => Ok(secret.expose().to_string()),
    SecretSource::File(path) => {
      let text = crate::config::read_regular_text(path).map_err(|e| Error::Login {
        method: "file",
        mount: path.display().to_string(),
        reason: format!("reading the {what}: {e}"),
      })?;
      Ok(text.trim().to_string())
    }
  }
}

fn login_error(client: &Client, error: &ClientError) -> Error {
  match errors::status(error) {
    None => Error::Unreachable {
      address: client.address.clone(),
      reason: errors::describe(error),
    },
    Some(_) => Error::Login {
      method: client.settings.auth.method_name(),
      mount: format!("auth/{}", client.settings.auth.mount),
      reason: errors::describe(error),
    },
  }
}
