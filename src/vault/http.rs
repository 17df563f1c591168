//! The HTTP client under `vaultrs`: connect and total timeouts, CA bundle,
//! client certificate and TLS server name, none of which `vaultrs` sets.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::Duration;

use tracing::warn;
use url::Url;

use crate::config::TlsSettings;
use crate::error::Error;

/// An HTTP client and the base URL to send requests to. The base differs
/// from the configured address only when `VAULT_TLS_SERVER_NAME` is set:
/// requests then name that host, which is resolved to the address's.
pub struct Http {
  pub client: reqwest::Client,
  pub base: String,
}

/// Builds the client.
pub fn build(
  address: &Url,
  tls: &TlsSettings,
  connect: Duration,
  total: Duration,
) -> Result<Http, Error> {
  let mut builder = reqwest::Client::builder()
    .connect_timeout(connect)
    .timeout(total)
    // A redirect would carry X-Vault-Token, or a login body with a secret
    // id, to whatever address it names, even from https to http.
    .redirect(reqwest::redirect::Policy::none())
    .pool_max_idle_per_host(4)
    .no_proxy();
  let mut base = address.clone();

  if address.scheme() == "http" {
    // No TLS: skip loading the platform's root store, which costs startup
    // time and is never used.
    builder = builder.tls_certs_only(Vec::new());
  } else {
    builder = configure_tls(builder, tls)?;
    if let Some(name) = &tls.server_name {
      let target = socket_address(address)?;
      builder = builder.resolve(name, target);
      base
        .set_host(Some(name))
        .map_err(|e| tls_error(name, &e.to_string()))?;
    }
  }

  let client = builder.build().map_err(|e| Error::Unreachable {
    address: address.to_string(),
    reason: format!("HTTP client setup failed: {e}"),
  })?;
  Ok(Http {
    client,
    base: base.as_str().trim_end_matches('/').to_string(),
  })
}

fn configure_tls(
  mut builder: reqwest::ClientBuilder,
  tls: &TlsSettings,
) -> Result<reqwest::ClientBuilder, Error> {
  let mut roots = Vec::new();
  if let Some(file) = &tls.ca_cert {
    roots.extend(read_certificates(file)?);
  }
  if let Some(dir) = &tls.ca_path {
    let entries =
      std::fs::read_dir(dir).map_err(|e| tls_error(&dir.display().to_string(), &e.to_string()))?;
    let mut files: Vec<_> = entries
      .filter_map(|e| e.ok().map(|e| e.path()))
      .filter(|p| p.is_file())
      .collect();
    files.sort();
    for file in files {
      roots.extend(read_certificates(&file)?);
    }
  }
  // As with Vault's own CLI, a CA bundle replaces the system roots.
  if !roots.is_empty() {
    builder = builder.tls_certs_only(roots);
  }
  if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
    let mut pem = read_file(cert)?;
    pem.push(b'\n');
    pem.extend(read_file(key)?);
    let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
      tls_error(
        &cert.display().to_string(),
        &format!("invalid client certificate or key: {e}"),
      )
    })?;
    builder = builder.identity(identity);
  }
  if tls.skip_verify {
    warn!("VAULT_SKIP_VERIFY is set: the Vault server's TLS certificate is not verified");
    builder = builder.tls_danger_accept_invalid_certs(true);
  }
  Ok(builder)
}

fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
  crate::config::read_regular(path)
    .map_err(|e| tls_error(&path.display().to_string(), &e.to_string()))
}

fn read_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, Error> {
  let bytes = read_file(path)?;
  let certs = reqwest::Certificate::from_pem_bundle(&bytes).map_err(|e| {
    tls_error(
      &path.display().to_string(),
      &format!("not a PEM certificate bundle: {e}"),
    )
  })?;
  if certs.is_empty() {
    return Err(tls_error(
      &path.display().to_string(),
      "no certificate in the file",
    ));
  }
  Ok(certs)
}

fn socket_address(address: &Url) -> Result<std::net::SocketAddr, Error> {
  let host = address.host_str().unwrap_or_default();
  let port = address.port_or_known_default().unwrap_or(8200);
  (host, port)
    .to_socket_addrs()
    .ok()
    .and_then(|mut addrs| addrs.next())
    .ok_or_else(|| Error::Unreachable {
      address: address.to_string(),
      reason: format!("cannot resolve {host}"),
    })
}

fn tls_error(subject: &str, reason: &str) -> Error {
  Error::Tls {
    subject: subject.to_string(),
    reason: reason.to_string(),
  }
}
