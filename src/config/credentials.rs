//! Vault's own settings: address, namespace and token, read from Vault's
//! standard variables and their OpenBao `BAO_*` twins.

use std::fmt;
use std::path::Path;

use url::Url;

use super::auth::AuthSettings;
use super::source::Sources;
use super::tls::TlsSettings;
use crate::error::Error;

/// A token or other credential. `Debug` and `Display` never print it.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
  pub fn new(value: impl Into<String>) -> Self {
    Secret(value.into())
  }

  /// Returns the credential itself, for the one place that sends it.
  pub fn expose(&self) -> &str {
    &self.0
  }
}

impl fmt::Debug for Secret {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("[redacted]")
  }
}

impl fmt::Display for Secret {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("[redacted]")
  }
}

/// Environment variables that hold credentials. They are removed from the
/// environment after login, so the program and its children cannot read
/// them.
pub const CREDENTIAL_VARS: &[&str] = &[
  "VAULT_TOKEN",
  "BAO_TOKEN",
  "VAULT_SECRET_ID",
  "BAO_SECRET_ID",
  "VAULT_ROLE_ID",
  "BAO_ROLE_ID",
];

/// Where to reach Vault and how to log in.
#[derive(Debug, Clone)]
pub struct VaultSettings {
  pub address: Url,
  pub namespace: Option<String>,
  pub auth: AuthSettings,
  /// Names the source of the token (a variable or a file), never the token.
  pub token_source: String,
  pub tls: TlsSettings,
}

/// Picks a variable from its Vault and its OpenBao spelling, Vault's first.
pub fn vault_var<'a>(sources: &Sources<'a>, name: &'static str) -> Option<(&'static str, &'a str)> {
  let twin: &'static str = match name {
    "VAULT_ADDR" => "BAO_ADDR",
    "VAULT_TOKEN" => "BAO_TOKEN",
    "VAULT_NAMESPACE" => "BAO_NAMESPACE",
    "VAULT_ROLE_ID" => "BAO_ROLE_ID",
    "VAULT_SECRET_ID" => "BAO_SECRET_ID",
    "VAULT_CACERT" => "BAO_CACERT",
    "VAULT_CAPATH" => "BAO_CAPATH",
    "VAULT_CLIENT_CERT" => "BAO_CLIENT_CERT",
    "VAULT_CLIENT_KEY" => "BAO_CLIENT_KEY",
    "VAULT_TLS_SERVER_NAME" => "BAO_TLS_SERVER_NAME",
    _ => return sources.env_var(name).map(|v| (name, v)),
  };
  sources
    .env_var(name)
    .map(|v| (name, v))
    .or_else(|| sources.env_var(twin).map(|v| (twin, v)))
}

/// Reads the Vault address. Returns `None` when no address is configured,
/// which turns the preloader off.
pub fn read_address(sources: &Sources) -> Result<Option<Url>, Error> {
  let (origin, text) = match vault_var(sources, "VAULT_ADDR") {
    Some((name, text)) => (name.to_string(), text.to_string()),
    None => match sources.string("", "address", &[])? {
      Some(text) => (format!("address in {}", sources.file_path), text),
      None => return Ok(None),
    },
  };
  parse_address(&text)
    .map(Some)
    .map_err(|reason| Error::InvalidSetting {
      field: "address",
      value: text,
      origin,
      reason,
    })
}

/// Checks an address before it reaches the HTTP client, which would
/// otherwise panic on some malformed URLs.
pub fn parse_address(text: &str) -> Result<Url, String> {
  let url = Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
  if !matches!(url.scheme(), "http" | "https") {
    return Err(format!("scheme {:?} is not http or https", url.scheme()));
  }
  if url.host_str().is_none_or(str::is_empty) {
    return Err("no host".into());
  }
  if url.query().is_some() || url.fragment().is_some() {
    return Err("an address takes no query or fragment".into());
  }
  Ok(url)
}

/// Returns the address for messages and `settings()`: without a user name
/// or password, which a URL may carry, and without a trailing slash.
pub fn shown_address(address: &Url) -> String {
  let mut shown = address.clone();
  let _ = shown.set_password(None);
  let _ = shown.set_username("");
  shown.as_str().trim_end_matches('/').to_string()
}

/// Reads the token: `VAULT_TOKEN`, `BAO_TOKEN`, then `~/.vault-token`.
pub fn read_token(sources: &Sources, home: Option<&Path>) -> (Option<Secret>, String) {
  if let Some((name, token)) = vault_var(sources, "VAULT_TOKEN") {
    return (Some(Secret::new(token.trim())), name.to_string());
  }
  let Some(home) = home else {
    return (None, "none".into());
  };
  let path = home.join(".vault-token");
  match super::file::read_regular_text(&path) {
    Ok(text) if !text.trim().is_empty() => {
      (Some(Secret::new(text.trim())), path.display().to_string())
    }
    _ => (None, "none".into()),
  }
}
