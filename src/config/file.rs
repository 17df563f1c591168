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

  let text = std::fs::read_to_string(&path).map_err(|e| failed(e.to_string()))?;
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
    if let Ok(text) = std::fs::read_to_string(&manifest) {
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
