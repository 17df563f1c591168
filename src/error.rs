//! The crate's error type. Every message names the value that failed and
//! leaves the consequence ("what happens now") to the caller, which knows it.

use thiserror::Error;

/// Errors raised while reading settings or talking to Vault.
///
/// None of the variants carries a secret value or a token: paths, keys,
/// addresses and Vault's own error text only.
#[derive(Debug, Error)]
pub enum Error {
  #[error("invalid {field} {value:?} from {origin}: {reason}")]
  InvalidSetting {
    field: &'static str,
    value: String,
    origin: String,
    reason: String,
  },

  #[error("config file {path}: {reason}")]
  ConfigFile { path: String, reason: String },

  #[error("invalid reference {value:?} in {key}: {reason}")]
  InvalidReference {
    key: String,
    value: String,
    reason: String,
  },

  #[error("vault unreachable at {address} ({reason})")]
  Unreachable { address: String, reason: String },

  #[error("vault rejected the token at {address} (status {status})")]
  TokenRejected { address: String, status: u16 },

  #[error("reading {path}: {reason}")]
  Read { path: String, reason: String },

  #[error("reading {path}: timed out after {millis} ms")]
  Timeout { path: String, millis: u64 },

  #[error("TLS setup for {subject}: {reason}")]
  Tls { subject: String, reason: String },

  #[error("vault login with {method} at {mount} failed: {reason}")]
  Login {
    method: &'static str,
    mount: String,
    reason: String,
  },

  #[error("no token for vault at {address}: set VAULT_TOKEN or ~/.vault-token, or point VAULT_ADDR at a proxy with auto-auth")]
  NoToken { address: String },

  #[error("vault is sealed at {address}")]
  Sealed { address: String },

  #[error("vault denied {path} (status 403, the token lacks a policy for it)")]
  Denied { path: String },
}

pub type Result<T> = std::result::Result<T, Error>;
