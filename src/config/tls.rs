//! TLS settings for the Vault connection, from Vault's standard variables
//! and their `BAO_*` twins.

use std::path::PathBuf;

use tracing::warn;

use super::credentials::vault_var;
use super::source::{parse_bool, Sources};

/// CA bundle, client certificate and verification settings.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
  pub ca_cert: Option<PathBuf>,
  pub ca_path: Option<PathBuf>,
  pub client_cert: Option<PathBuf>,
  pub client_key: Option<PathBuf>,
  /// Name to verify the server's certificate against, when it differs
  /// from the host in the address.
  pub server_name: Option<String>,
  pub skip_verify: bool,
}

/// Reads the TLS settings.
pub fn read_tls(src: &Sources) -> TlsSettings {
  let path = |name: &'static str| vault_var(src, name).map(|(_, v)| PathBuf::from(v));
  TlsSettings {
    ca_cert: path("VAULT_CACERT"),
    ca_path: path("VAULT_CAPATH"),
    client_cert: path("VAULT_CLIENT_CERT"),
    client_key: path("VAULT_CLIENT_KEY"),
    server_name: vault_var(src, "VAULT_TLS_SERVER_NAME").map(|(_, v)| v.to_string()),
    skip_verify: read_skip_verify(src),
  }
}

/// Turns verification off only for a value that parses as true. An empty
/// or unparsable value keeps it on, and says so, since a typo here must
/// not silently weaken TLS.
fn read_skip_verify(src: &Sources) -> bool {
  let raw = ["VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"]
    .iter()
    .find_map(|name| src.env.get(*name).map(|v| (*name, v.as_str())));
  let Some((name, text)) = raw else {
    return false;
  };
  match parse_bool(text) {
    Some(skip) => skip,
    None => {
      warn!("invalid {name} {text:?}: expected true or false; TLS certificates are verified");
      false
    }
  }
}
