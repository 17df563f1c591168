//! KV reads. A path is written with its mount (`secret/mcp/app`); the mount
//! and its KV version come from `sys/internal/ui/mounts`, as the `vault kv`
//! command finds them, so `secret/x` and `secret/data/x` name one document.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use tracing::{debug, instrument, trace};
use vaultrs::api::kv2::requests::ReadSecretRequest;

use super::{errors, Client};
use crate::error::{Error, Result};
use crate::mapping::Fields;

/// A KV document: its fields as strings and, on KV v2, its version.
#[derive(Debug, Clone)]
pub struct Document {
  /// `mount/path` without KV v2's `data/` segment: one name per document.
  pub canonical: String,
  pub fields: Fields,
  pub version: Option<u64>,
}

/// The result of a read that reached Vault.
#[derive(Debug)]
pub enum ReadOutcome {
  Found(Document),
  /// No document at the path (404), or its latest version is deleted.
  NotFound {
    canonical: String,
  },
}

#[derive(Debug, Clone)]
struct Mount {
  /// The mount path without its trailing slash, as in `secret`.
  path: String,
  version: u8,
}

/// Mounts seen so far, so that one lookup serves every path below a mount.
#[derive(Default)]
pub struct MountTable(Mutex<Vec<Mount>>);

impl MountTable {
  fn find(&self, path: &str) -> Option<Mount> {
    let mounts = self.0.lock().unwrap_or_else(|e| e.into_inner());
    mounts
      .iter()
      .filter(|m| path.starts_with(&format!("{}/", m.path)))
      .max_by_key(|m| m.path.len())
      .cloned()
  }

  fn remember(&self, mount: Mount) {
    let mut mounts = self.0.lock().unwrap_or_else(|e| e.into_inner());
    if !mounts.iter().any(|m| m.path == mount.path) {
      mounts.push(mount);
    }
  }
}

/// Returns the canonical name of a path whose mount is already known.
pub fn canonical(client: &Client, path: &str) -> Option<String> {
  let mount = client.mounts.find(path)?;
  Some(canonical_name(&mount, path))
}

fn canonical_name(mount: &Mount, path: &str) -> String {
  let relative = path.strip_prefix(mount.path.as_str()).unwrap_or(path);
  let relative = relative.trim_start_matches('/');
  let relative = match mount.version {
    2 => relative.strip_prefix("data/").unwrap_or(relative),
    _ => relative,
  };
  format!("{}/{}", mount.path, relative)
}

/// Looks up the mount of `path` unless a path below it was seen before.
pub async fn learn_mount(client: &Client, path: &str) -> Result<()> {
  if client.mounts.find(path).is_none() {
    let mount = lookup_mount(client, path).await?;
    client.mounts.remember(mount);
  }
  Ok(())
}

/// Reads one document.
#[instrument(skip(client), fields(path = %path))]
pub async fn read(client: &Client, path: &str) -> Result<ReadOutcome> {
  let mount = match client.mounts.find(path) {
    Some(mount) => mount,
    None => {
      let mount = lookup_mount(client, path).await?;
      client.mounts.remember(mount.clone());
      mount
    }
  };
  let canonical = canonical_name(&mount, path);
  let relative = &canonical[mount.path.len() + 1..];
  trace!(mount = %mount.path, version = mount.version, "read");

  let result = match mount.version {
    2 => read_v2(client, &mount.path, relative).await,
    _ => read_v1(client, &mount.path, relative).await,
  };
  match result {
    Ok((fields, version)) => Ok(ReadOutcome::Found(Document {
      canonical,
      fields,
      version,
    })),
    Err(error) if errors::status(&error) == Some(404) => Ok(ReadOutcome::NotFound { canonical }),
    Err(error) if errors::status(&error) == Some(403) => Err(Error::Denied {
      path: path.to_string(),
    }),
    Err(error) if errors::status(&error) == Some(503) => Err(Error::Sealed {
      address: client.address.clone(),
    }),
    Err(error) if errors::no_response(&error) => Err(Error::Unreachable {
      address: client.address.clone(),
      reason: errors::describe(&error),
    }),
    Err(error) => Err(Error::Read {
      path: path.to_string(),
      reason: match errors::status(&error) {
        Some(code) => format!("status {code}"),
        None => format!("unexpected response ({})", errors::describe(&error)),
      },
    }),
  }
}

async fn read_v2(
  client: &Client,
  mount: &str,
  path: &str,
) -> std::result::Result<(Fields, Option<u64>), vaultrs::error::ClientError> {
  let endpoint = ReadSecretRequest::builder()
    .mount(mount)
    .path(path)
    .build()
    .expect("mount and path are always set");
  let response = vaultrs::api::exec_with_result(client.vault().as_ref(), endpoint).await?;
  Ok((to_fields(response.data), Some(response.metadata.version)))
}

async fn read_v1(
  client: &Client,
  mount: &str,
  path: &str,
) -> std::result::Result<(Fields, Option<u64>), vaultrs::error::ClientError> {
  let response = vaultrs::kv1::get_raw(client.vault().as_ref(), mount, path).await?;
  Ok((to_fields(response.data), None))
}

/// Turns a document's JSON fields into environment strings: strings as they
/// are, numbers and booleans as their JSON text, objects and arrays as JSON.
/// Null fields are left out, as an unset variable.
fn to_fields(data: Value) -> Fields {
  let Value::Object(object) = data else {
    return HashMap::new();
  };
  object
    .into_iter()
    .filter_map(|(key, value)| match value {
      Value::Null => None,
      Value::String(text) => Some((key, text)),
      other => Some((key, other.to_string())),
    })
    // A NUL cannot be part of an environment value: Node rejects it when
    // it builds a child's environment, so such a field counts as absent.
    .filter(|(key, value)| !key.contains('\0') && !value.contains('\0'))
    .collect()
}

/// Finds the mount holding `path` and its KV version. When the lookup is not
/// allowed or fails, the first segment is taken as a KV v2 mount, which is
/// what `vault server -dev` and `bao server -dev` create.
async fn lookup_mount(client: &Client, path: &str) -> Result<Mount> {
  let fallback = Mount {
    path: path.split('/').next().unwrap_or(path).to_string(),
    version: 2,
  };
  let (status, body) = client
    .get_json(&format!("sys/internal/ui/mounts/{path}"))
    .await?;
  match body.get("data").and_then(parse_mount) {
    // A mount that is not a prefix of the path is a broken response (from a
    // misbehaving proxy, say); the fallback is safer than trusting it.
    Some(mount) if status == 200 && is_below(path, &mount.path) => Ok(mount),
    _ => {
      debug!(status, mount = %fallback.path, "mount lookup returned no usable mount; assuming KV v2");
      Ok(fallback)
    }
  }
}

fn is_below(path: &str, mount: &str) -> bool {
  path
    .strip_prefix(mount)
    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn parse_mount(data: &Value) -> Option<Mount> {
  let path = data
    .get("path")?
    .as_str()?
    .trim_end_matches('/')
    .to_string();
  if path.is_empty() {
    return None;
  }
  let version = data
    .get("options")
    .and_then(|o| o.get("version"))
    .and_then(Value::as_str)
    .and_then(|v| v.parse::<u8>().ok())
    .unwrap_or(1);
  Some(Mount { path, version })
}
