//! The JSON config file and the app name, both found relative to the
//! program: `RAGNOS_VAULT_CONFIG`, else `ragnos-vault.json` in the working
//! directory; the app name from the nearest package.json or the script.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::Error;

/// Every field the config file may hold. An unknown field is rejected so
/// that a typo does not silently fall back to a default.
pub const FILE_FIELDS: &[&str] = &[
  "mode",
  "canary_percent",
  "canary_salt",
  "app",
  "kv_mount",
  "search_paths",
  "include",
  "exclude",
  "secrets",
  "startup_timeout_ms",
  "connect_timeout_ms",
  "request_timeout_ms",
  "retry_max_ms",
  "cache_ttl_ms",
  "max_stale_ms",
  "kill_switch.max_errors",
  "kill_switch.window_ms",
  "kill_switch.cooldown_ms",
  "kill",
  "kill_file",
  "auth_method",
  "auth_mount",
  "auth_role",
  "role_id",
  "secret_id_file",
  "jwt_file",
  "strict",
  "log_level",
  "children",
  "scrub_credentials",
  "audit_log",
  "audit_every_read",
  "address",
  "namespace",
];

/// Reads the config file. Returns its path (empty when there is none) and
/// its top-level object.
pub fn read_config(
  explicit: Option<&str>,
  cwd: &Path,
) -> Result<(String, Map<String, Value>), Error> {
  let path = match explicit {
    Some(path) => cwd.join(path),
    None => {
      let default = cwd.join("ragnos-vault.json");
      if !default.exists() {
        return Ok((String::new(), Map::new()));
      }
      default
    }
  };
  let shown = path.display().to_string();
  let failed = |reason: String| Error::ConfigFile {
    path: shown.clone(),
    reason,
  };

  let text = read_regular_text(&path).map_err(|e| failed(e.to_string()))?;
  let value: Value = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
  let Value::Object(object) = value else {
    return Err(failed("expected a JSON object at the top level".into()));
  };
  let object = flatten_kill_switch(object).map_err(failed)?;
  if let Some(unknown) = object.keys().find(|k| !FILE_FIELDS.contains(&k.as_str())) {
    return Err(failed(format!("unknown field {unknown:?}")));
  }
  Ok((shown, object))
}

/// Largest file the preloader reads: config files, tokens, CA bundles.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a file only if it is a regular file of at most `MAX_FILE_BYTES`.
/// A FIFO or a device would block startup or never end, however short
/// the startup timeout.
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
  use std::io::{Error, ErrorKind};
  let metadata = std::fs::metadata(path)?;
  if !metadata.is_file() {
    return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
  }
  if metadata.len() > MAX_FILE_BYTES {
    let reason = format!("larger than {MAX_FILE_BYTES} bytes");
    return Err(Error::new(ErrorKind::InvalidInput, reason));
  }
  std::fs::read(path)
}

/// Reads a regular file as UTF-8 text, without a leading byte order mark.
pub fn read_regular_text(path: &Path) -> std::io::Result<String> {
  let bytes = read_regular(path)?;
  let text = String::from_utf8(bytes)
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
  Ok(
    text
      .strip_prefix('\u{feff}')
      .map(str::to_string)
      .unwrap_or(text),
  )
}

/// Turns the nested `kill_switch` object into `kill_switch.<field>` keys,
/// the form the setting lookups use.
fn flatten_kill_switch(mut object: Map<String, Value>) -> Result<Map<String, Value>, String> {
  match object.remove("kill_switch") {
    None => Ok(object),
    Some(Value::Object(nested)) => {
      for (key, value) in nested {
        object.insert(format!("kill_switch.{key}"), value);
      }
      Ok(object)
    }
    Some(_) => Err("kill_switch: expected an object".into()),
  }
}

/// Tells whether the config file asks for strict mode, reading nothing but
/// its `strict` field, for when the settings as a whole fail to load.
pub fn peek_strict(explicit: Option<&str>, cwd: &Path) -> bool {
  let path = match explicit.filter(|p| !p.is_empty()) {
    Some(path) => cwd.join(path),
    None => cwd.join("ragnos-vault.json"),
  };
  let Ok(text) = read_regular_text(&path) else {
    return false;
  };
  let value: Option<Value> = serde_json::from_str(&text).ok();
  value
    .and_then(|v| v.get("strict")?.as_bool())
    .unwrap_or(false)
}

/// Finds the app name: the `name` in the nearest package.json above the
/// script (else the working directory), without an npm scope; else the
/// script's base name without extension.
pub fn detect_app_name(script: Option<&Path>, cwd: &Path) -> Option<String> {
  // A bin script under node_modules/.bin (as npx starts it) is a link into
  // its package; without resolving it the search would find the package
  // of the project that installed it.
  let resolved = script.and_then(|s| std::fs::canonicalize(s).ok());
  let script = resolved.as_deref().or(script);
  let start = script.and_then(Path::parent).unwrap_or(cwd);
  if let Some(name) = nearest_package_name(start) {
    return Some(name);
  }
  let stem = script?.file_stem()?.to_str()?;
  (!stem.is_empty()).then(|| stem.to_string())
}

fn nearest_package_name(start: &Path) -> Option<String> {
  let mut dir: Option<PathBuf> = Some(start.to_path_buf());
  while let Some(current) = dir {
    let manifest = current.join("package.json");
    if let Ok(text) = read_regular_text(&manifest) {
      // A package.json without a usable name ends the search: it marks the
      // program's root, and a parent project's name would be wrong here.
      let value: Value = serde_json::from_str(&text).ok()?;
      let name = value.get("name")?.as_str()?;
      let bare = name.rsplit('/').next().unwrap_or(name);
      return (!bare.is_empty()).then(|| bare.to_string());
    }
    dir = current.parent().map(Path::to_path_buf);
  }
  None
}
