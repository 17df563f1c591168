//! The Vault client on `vaultrs`: address, namespace, timeouts, token auth,
//! and KV v1 and v2 reads with the mount's version found automatically.

mod errors;
mod kv;

use std::time::Duration;

use tracing::{debug, instrument};
use vaultrs::client::{VaultClient, VaultClientSettings};

use crate::config::VaultSettings;
use crate::error::{Error, Result};

pub use kv::{Document, ReadOutcome};

/// A logged-in client and what is known about the server's mounts.
pub struct Client {
  inner: VaultClient,
  address: String,
  timeout: Duration,
  mounts: kv::MountTable,
}

/// What a token lookup reported; no part of the token itself.
#[derive(Debug, Clone, Copy)]
pub struct TokenInfo {
  pub ttl_seconds: u64,
  pub renewable: bool,
}

impl Client {
  /// Builds a client. Settings are passed in full rather than through the
  /// `vaultrs` builder, whose defaults read the process environment and
  /// whose address setter panics on a malformed URL.
  pub fn new(settings: &VaultSettings, timeout: Duration) -> Result<Client> {
    let address = settings.address.to_string();
    let client_settings = VaultClientSettings {
      address: settings.address.clone(),
      ca_certs: Vec::new(),
      identity: None,
      timeout: Some(timeout),
      token: settings
        .token
        .as_ref()
        .map(|t| t.expose().to_string())
        .unwrap_or_default(),
      verify: true,
      version: 1,
      wrapping: false,
      namespace: settings.namespace.clone(),
      proxy: None,
    };
    let inner = VaultClient::new(client_settings).map_err(|e| Error::Unreachable {
      address: address.clone(),
      reason: errors::describe(&e),
    })?;
    Ok(Client {
      inner,
      address: address.trim_end_matches('/').to_string(),
      timeout,
      mounts: kv::MountTable::default(),
    })
  }

  /// Returns the server address, for messages.
  pub fn address(&self) -> &str {
    &self.address
  }

  /// Checks the token by looking it up, which also gives its TTL. A client
  /// without a token of its own (behind a Vault or OpenBao proxy with
  /// auto-auth) goes through the same call.
  #[instrument(skip(self), fields(address = %self.address))]
  pub async fn login(&self) -> Result<TokenInfo> {
    let lookup = vaultrs::token::lookup_self(&self.inner);
    let response = tokio::time::timeout(self.timeout, lookup)
      .await
      .map_err(|_| self.unreachable("timed out"))?
      .map_err(|e| errors::classify_login(&e, &self.address))?;
    debug!(ttl = response.ttl, "token accepted");
    Ok(TokenInfo {
      ttl_seconds: response.ttl,
      renewable: response.renewable.unwrap_or(false),
    })
  }

  /// Reads one KV document, as `mount/path` in either KV v2 spelling.
  pub async fn read(&self, path: &str) -> Result<ReadOutcome> {
    let read = kv::read(self, path);
    tokio::time::timeout(self.timeout * 2, read)
      .await
      .map_err(|_| Error::Timeout {
        path: path.to_string(),
        millis: (self.timeout * 2).as_millis() as u64,
      })?
  }

  /// Returns the one name of a document that `path` spells, once a read
  /// below the same mount has found the mount's KV version.
  pub fn canonical(&self, path: &str) -> Option<String> {
    kv::canonical(self, path)
  }

  fn unreachable(&self, reason: &str) -> Error {
    Error::Unreachable {
      address: self.address.clone(),
      reason: reason.to_string(),
    }
  }
}
