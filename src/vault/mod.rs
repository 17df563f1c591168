//! The Vault client on `vaultrs`: address, TLS, namespace, timeouts, the
//! login methods and token renewal, and KV v1 and v2 reads with the mount's
//! version found automatically.

mod auth;
mod errors;
mod http;
mod kv;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tracing::instrument;
use vaultrs::api::EndpointMiddleware;
use vaultrs::client::{VaultClient, VaultClientSettings};

use crate::config::{Resilience, VaultSettings};
use crate::error::Result;

pub use kv::{Document, ReadOutcome};

/// A client whose token can change (after a login), and what is known
/// about the server's mounts.
pub struct Client {
  current: RwLock<Arc<VaultClient>>,
  http: reqwest::Client,
  base: String,
  settings: VaultSettings,
  /// The configured address, for messages.
  address: String,
  mounts: kv::MountTable,
}

/// The token lifetime that a login, lookup or renewal reported, without
/// any part of the token.
#[derive(Debug, Clone, Copy)]
pub struct TokenInfo {
  /// Seconds left; 0 for a token that never expires, such as a root token.
  pub ttl_seconds: u64,
  pub renewable: bool,
}

impl Client {
  /// Builds a client. The `vaultrs` settings are filled in here rather than
  /// through its builder, whose defaults read the process environment and
  /// whose address setter panics on a malformed URL.
  pub fn new(settings: &VaultSettings, resilience: &Resilience) -> Result<Client> {
    let connect = Duration::from_millis(resilience.connect_timeout_ms);
    let timeout = Duration::from_millis(resilience.request_timeout_ms);
    let http = http::build(&settings.address, &settings.tls, connect, timeout)?;
    let client = Client {
      current: RwLock::new(Arc::new(VaultClient {
        http: rustify::clients::reqwest::Client::new(&http.base, http.client.clone()),
        middle: EndpointMiddleware {
          token: String::new(),
          version: "v1".into(),
          wrap: None,
          namespace: None,
        },
        settings: client_settings(settings, timeout),
      })),
      http: http.client,
      base: http.base,
      settings: settings.clone(),
      address: crate::config::shown_address(&settings.address),
      mounts: kv::MountTable::default(),
    };
    let token = match &settings.auth.method {
      crate::config::AuthMethod::Token(Some(token)) => token.expose().to_string(),
      _ => String::new(),
    };
    client.set_token(&token);
    Ok(client)
  }

  /// Returns the server address, for messages.
  pub fn address(&self) -> &str {
    &self.address
  }

  /// Logs in with the configured method, or checks the given token, and
  /// returns the token's lifetime.
  #[instrument(skip(self), fields(address = %self.address, method = self.settings.auth.method_name()))]
  pub async fn login(&self) -> Result<TokenInfo> {
    auth::login(self).await
  }

  /// Looks up the current token, whatever the auth method, to tell a
  /// rejected token from a missing policy after a 403.
  pub async fn check_token(&self) -> Result<TokenInfo> {
    auth::check(self).await
  }

  /// Renews the token for its usual increment.
  #[instrument(skip(self), fields(address = %self.address))]
  pub async fn renew(&self) -> Result<TokenInfo> {
    auth::renew(self).await
  }

  /// Tells whether the method logs in, so a rejected token can be replaced.
  pub fn logs_in(&self) -> bool {
    self.settings.auth.logs_in()
  }

  /// Reads one KV document, as `mount/path` in either KV v2 spelling.
  pub async fn read(&self, path: &str) -> Result<ReadOutcome> {
    kv::read(self, path).await
  }

  /// Finds the mount holding `path` and its KV version, once per mount.
  pub async fn learn_mount(&self, path: &str) -> Result<()> {
    kv::learn_mount(self, path).await
  }

  /// Returns the one name of a document that `path` spells, once a read
  /// below the same mount has found the mount's KV version.
  pub fn canonical(&self, path: &str) -> Option<String> {
    kv::canonical(self, path)
  }

  /// Sends a GET to `/v1/<api_path>` with the client's headers and returns
  /// the status and the JSON body (null when the body is not JSON). Used
  /// where `vaultrs` has no endpoint or expects fields a server may omit.
  async fn get_json(&self, api_path: &str) -> Result<(u16, serde_json::Value)> {
    let vault = self.vault();
    let url = format!("{}/v1/{api_path}", self.base);
    let mut request = self.http.get(url).header("X-Vault-Request", "true");
    if !vault.settings.token.is_empty() {
      request = request.header("X-Vault-Token", vault.settings.token.as_str());
    }
    if let Some(namespace) = &vault.settings.namespace {
      request = request.header("X-Vault-Namespace", namespace.as_str());
    }
    let response = request
      .send()
      .await
      .map_err(|e| crate::error::Error::Unreachable {
        address: self.address.clone(),
        reason: errors::innermost(&e),
      })?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
  }

  fn vault(&self) -> Arc<VaultClient> {
    self
      .current
      .read()
      .unwrap_or_else(|e| e.into_inner())
      .clone()
  }

  fn set_token(&self, token: &str) {
    let previous = self.vault();
    let next = VaultClient {
      http: rustify::clients::reqwest::Client::new(&self.base, self.http.clone()),
      middle: EndpointMiddleware {
        token: token.to_string(),
        version: "v1".into(),
        wrap: None,
        namespace: self.settings.namespace.clone(),
      },
      settings: VaultClientSettings {
        token: token.to_string(),
        ..previous.settings.clone()
      },
    };
    *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
  }
}

fn client_settings(settings: &VaultSettings, timeout: Duration) -> VaultClientSettings {
  VaultClientSettings {
    address: settings.address.clone(),
    ca_certs: Vec::new(),
    identity: None,
    timeout: Some(timeout),
    token: String::new(),
    verify: !settings.tls.skip_verify,
    version: 1,
    wrapping: false,
    namespace: settings.namespace.clone(),
    proxy: None,
  }
}
