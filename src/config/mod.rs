//! Settings from defaults, the JSON config file, then environment variables
//! (each later source wins). Validation errors name the field and where its
//! value came from.

mod auth;
mod credentials;
mod file;
mod resilience;
mod source;
mod tls;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use auth::{AuthMethod, AuthSettings, SecretSource};
pub use credentials::{parse_address, shown_address, Secret, VaultSettings, CREDENTIAL_VARS};
pub use file::{peek_strict, read_regular, read_regular_text};
pub use resilience::{KillSwitchSettings, Resilience};
pub use source::parse_bool;
pub use tls::TlsSettings;

use crate::error::Error;
use resilience::millis;
use source::Sources;

/// Where a key's value comes from, rollout stage by stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
  Off,
  Shadow,
  Dual,
  Vault,
}

impl Mode {
  pub fn as_str(self) -> &'static str {
    match self {
      Mode::Off => "off",
      Mode::Shadow => "shadow",
      Mode::Dual => "dual",
      Mode::Vault => "vault",
    }
  }

  fn parse(text: &str) -> Mode {
    match text {
      "shadow" => Mode::Shadow,
      "dual" => Mode::Dual,
      "vault" => Mode::Vault,
      _ => Mode::Off,
    }
  }
}

/// Whether children spawned with the default environment receive values
/// served from Vault (`inherit`) or only the real environment (`env-only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Children {
  Inherit,
  EnvOnly,
}

/// The preloader's effective settings.
#[derive(Debug, Clone)]
pub struct Settings {
  pub mode: Mode,
  pub canary_percent: f64,
  pub canary_salt: String,
  pub app: String,
  pub kv_mount: String,
  /// Search paths with `{app}` already replaced.
  pub search_paths: Vec<String>,
  pub include: Vec<String>,
  pub exclude: Vec<String>,
  /// Mapping table: environment key to `path#field`.
  pub secrets: BTreeMap<String, String>,
  pub startup_timeout_ms: u64,
  pub resilience: Resilience,
  pub strict: bool,
  pub log_level: String,
  pub children: Children,
  pub scrub_credentials: bool,
  /// The audit trail's JSON-lines file as configured; relative to the
  /// working directory.
  pub audit_log: Option<String>,
  /// Audit every read of a managed key, not only the first and each
  /// change of its source.
  pub audit_every_read: bool,
  /// `None` when no Vault address is configured: nothing is managed then.
  pub vault: Option<VaultSettings>,
  /// The config file that was read, or empty.
  pub config_file: String,
}

/// What the program looks like to the settings loader.
pub struct Context<'a> {
  pub env: &'a HashMap<String, String>,
  pub cwd: PathBuf,
  pub script: Option<PathBuf>,
}

pub const DEFAULT_INCLUDE: &[&str] = &[
  "*_API_KEY",
  "*_SECRET",
  "*_TOKEN",
  "*_PASSWORD",
  "DATABASE_URL",
  "REDIS_URL",
];
const DEFAULT_SEARCH_PATHS: &[&str] = &["mcp/{app}", "mcp/shared"];
const MODES: &[&str] = &["off", "shadow", "dual", "vault"];
const LOG_LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// Reads the log level alone, before anything else can fail, so that the
/// errors of the other settings are reported at the level the user asked.
pub fn log_level(env: &HashMap<String, String>) -> String {
  env
    .get("RAGNOS_VAULT_LOG")
    .map(|v| v.trim().to_ascii_lowercase())
    .filter(|v| LOG_LEVELS.contains(&v.as_str()))
    .unwrap_or_else(|| "warn".into())
}

/// Loads and validates the settings.
pub fn load(ctx: &Context) -> Result<Settings, Error> {
  let explicit = ctx.env.get("RAGNOS_VAULT_CONFIG").filter(|v| !v.is_empty());
  let (file_path, file) = file::read_config(explicit.map(String::as_str), &ctx.cwd)?;
  let src = Sources {
    env: ctx.env,
    file,
    file_path,
  };

  let address = credentials::read_address(&src)?;
  let mode = match src.string("RAGNOS_VAULT_MODE", "mode", MODES)? {
    Some(text) => Mode::parse(&text),
    None if address.is_some() => Mode::Shadow,
    None => Mode::Off,
  };
  let app = match src.string("RAGNOS_VAULT_APP", "app", &[])? {
    Some(app) => app,
    None => file::detect_app_name(ctx.script.as_deref(), &ctx.cwd).unwrap_or_default(),
  };
  let kv_mount = src
    .string("RAGNOS_VAULT_KV_MOUNT", "kv_mount", &[])?
    .unwrap_or_else(|| "secret".into());
  let search_paths =
    expand_search_paths(src.list("RAGNOS_VAULT_SEARCH_PATHS", "search_paths")?, &app);
  check_paths(&kv_mount, &search_paths, &app)?;
  let secrets = read_secrets(&src)?;

  // An empty HOME would turn `~/.vault-token` into a path relative to the
  // working directory.
  let home = ctx.env.get("HOME").filter(|h| !h.is_empty()).map(Path::new);
  let namespace = match credentials::vault_var(&src, "VAULT_NAMESPACE") {
    Some((_, ns)) => Some(ns.to_string()),
    None => src.string("", "namespace", &[])?,
  };
  let vault = match address {
    Some(address) => {
      let (token, token_source) = credentials::read_token(&src, home);
      Some(VaultSettings {
        address,
        namespace,
        auth: auth::read_auth(&src, token)?,
        token_source,
        tls: tls::read_tls(&src),
      })
    }
    None => None,
  };

  Ok(Settings {
    mode,
    canary_percent: src
      .number("RAGNOS_VAULT_CANARY_PERCENT", "canary_percent", 0.0, 100.0)?
      .unwrap_or(0.0),
    canary_salt: src
      .string("RAGNOS_VAULT_CANARY_SALT", "canary_salt", &[])?
      .unwrap_or_default(),
    app,
    kv_mount: kv_mount.trim_matches('/').to_string(),
    search_paths,
    include: src
      .list("RAGNOS_VAULT_INCLUDE", "include")?
      .unwrap_or_else(|| to_strings(DEFAULT_INCLUDE)),
    exclude: src
      .list("RAGNOS_VAULT_EXCLUDE", "exclude")?
      .unwrap_or_default(),
    secrets,
    startup_timeout_ms: millis(
      &src,
      "RAGNOS_VAULT_STARTUP_TIMEOUT_MS",
      "startup_timeout_ms",
      2000,
    )?,
    resilience: resilience::read_resilience(&src)?,
    strict: src
      .boolean("RAGNOS_VAULT_STRICT", "strict")?
      .unwrap_or(false),
    log_level: read_log_level(&src)?,
    children: match src.string(
      "RAGNOS_VAULT_CHILDREN",
      "children",
      &["inherit", "env-only"],
    )? {
      Some(text) if text == "env-only" => Children::EnvOnly,
      _ => Children::Inherit,
    },
    scrub_credentials: src
      .boolean("RAGNOS_VAULT_SCRUB_CREDENTIALS", "scrub_credentials")?
      .unwrap_or(true),
    audit_log: src
      .string("RAGNOS_VAULT_AUDIT_LOG", "audit_log", &[])?
      .filter(|path| !path.trim().is_empty()),
    audit_every_read: src
      .boolean("RAGNOS_VAULT_AUDIT_EVERY_READ", "audit_every_read")?
      .unwrap_or(false),
    vault,
    config_file: src.file_path.clone(),
  })
}

/// Checks the mount and each search path as `vault:` references are
/// checked, since an app name such as `../x` would otherwise climb out of
/// the configured folder.
fn check_paths(kv_mount: &str, search_paths: &[String], app: &str) -> Result<(), Error> {
  let mount = kv_mount.trim_matches('/');
  for path in std::iter::once(mount).chain(search_paths.iter().map(String::as_str)) {
    if let Err(reason) = crate::mapping::check_path(path) {
      return Err(Error::InvalidSetting {
        field: if path == mount {
          "kv_mount"
        } else {
          "search_paths"
        },
        value: path.to_string(),
        origin: format!("the settings, with app {app:?}"),
        reason,
      });
    }
  }
  Ok(())
}

/// Reads the mapping table. Its keys become environment variables, so each
/// must be a name a child process can receive intact.
fn read_secrets(src: &Sources) -> Result<BTreeMap<String, String>, Error> {
  let entries = src
    .string_map("RAGNOS_VAULT_SECRETS", "secrets")?
    .unwrap_or_default();
  if let Some((key, _)) = entries
    .iter()
    .find(|(k, _)| !crate::mapping::is_env_name(k))
  {
    let origin = match src.env_var("RAGNOS_VAULT_SECRETS") {
      Some(_) => "RAGNOS_VAULT_SECRETS".to_string(),
      None => format!("secrets in {}", src.file_path),
    };
    return Err(Error::InvalidSetting {
      field: "secrets",
      value: key.clone(),
      origin,
      reason: "a key must be a letter or _ followed by letters, digits or _".into(),
    });
  }
  Ok(entries.into_iter().collect())
}

/// Reads the log level, in any letter case, as `log_level` does.
fn read_log_level(src: &Sources) -> Result<String, Error> {
  let Some(text) = src.string("RAGNOS_VAULT_LOG", "log_level", &[])? else {
    return Ok("warn".into());
  };
  let level = text.trim().to_ascii_lowercase();
  if LOG_LEVELS.contains(&level.as_str()) {
    return Ok(level);
  }
  let origin = match src.env_var("RAGNOS_VAULT_LOG") {
    Some(_) => "RAGNOS_VAULT_LOG".to_string(),
    None => format!("log_level in {}", src.file_path),
  };
  Err(Error::InvalidSetting {
    field: "log_level",
    value: text,
    origin,
    reason: format!("expected one of {}", LOG_LEVELS.join(", ")),
  })
}

fn expand_search_paths(configured: Option<Vec<String>>, app: &str) -> Vec<String> {
  let paths = configured.unwrap_or_else(|| to_strings(DEFAULT_SEARCH_PATHS));
  paths
    .into_iter()
    // Without an app name, a path built from it would point at the parent
    // folder of every app's secrets, so it is skipped.
    .filter(|p| !(p.contains("{app}") && app.is_empty()))
    .map(|p| p.replace("{app}", app).trim_matches('/').to_string())
    .collect()
}

fn to_strings(items: &[&str]) -> Vec<String> {
  items.iter().map(|s| s.to_string()).collect()
}

/// Renders the settings as JSON for `settings()`. The token is shown only
/// as whether one is set and where it came from.
pub fn redacted_json(settings: &Settings) -> String {
  let vault = settings.vault.as_ref().map(|v| {
    serde_json::json!({
      "address": shown_address(&v.address),
      "namespace": v.namespace,
      "token": match &v.auth.method {
        AuthMethod::Token(Some(_)) => "[redacted]",
        _ => "",
      },
      "auth_method": v.auth.method_name(),
      "auth_mount": v.auth.mount,
      "token_source": v.token_source,
      "ca_cert": v.tls.ca_cert,
      "ca_path": v.tls.ca_path,
      "client_cert": v.tls.client_cert,
      "tls_server_name": v.tls.server_name,
      "skip_verify": v.tls.skip_verify,
    })
  });
  let value = serde_json::json!({
    "mode": settings.mode.as_str(),
    "canary_percent": settings.canary_percent,
    "canary_salt": settings.canary_salt,
    "app": settings.app,
    "kv_mount": settings.kv_mount,
    "search_paths": settings.search_paths,
    "include": settings.include,
    "exclude": settings.exclude,
    "secrets": settings.secrets,
    "startup_timeout_ms": settings.startup_timeout_ms,
    "connect_timeout_ms": settings.resilience.connect_timeout_ms,
    "request_timeout_ms": settings.resilience.request_timeout_ms,
    "retry_max_ms": settings.resilience.retry_max_ms,
    "cache_ttl_ms": settings.resilience.cache_ttl_ms,
    "max_stale_ms": settings.resilience.max_stale_ms,
    "kill_switch": {
      "max_errors": settings.resilience.kill_switch.max_errors,
      "window_ms": settings.resilience.kill_switch.window_ms,
      "cooldown_ms": settings.resilience.kill_switch.cooldown_ms,
      "kill": settings.resilience.kill_switch.killed,
      "kill_file": settings.resilience.kill_switch.kill_file,
    },
    "strict": settings.strict,
    "log_level": settings.log_level,
    "children": match settings.children {
      Children::Inherit => "inherit",
      Children::EnvOnly => "env-only",
    },
    "scrub_credentials": settings.scrub_credentials,
    "audit_log": settings.audit_log,
    "audit_every_read": settings.audit_every_read,
    "config_file": settings.config_file,
    "vault": vault,
  });
  value.to_string()
}

#[cfg(test)]
mod tests;
