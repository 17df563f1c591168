use super::*;

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

const ADDRESS: &str = "http://127.0.0.1:8200";

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
  fn new(label: &str) -> TempDir {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("ragnos-vault-config-{}-{label}-{n}", std::process::id());
    let path = std::env::temp_dir().join(name);
    fs::create_dir_all(&path).expect("create temp dir");
    TempDir(path)
  }

  fn path(&self) -> &Path {
    &self.0
  }

  /// Writes a file below the directory, creating its parent folders.
  fn write(&self, relative: &str, text: &str) -> PathBuf {
    let path = self.0.join(relative);
    fs::create_dir_all(path.parent().unwrap()).expect("create parent dir");
    fs::write(&path, text).expect("write file");
    path
  }

  /// Writes the default config file and returns its path as shown in
  /// messages.
  fn config(&self, json: &str) -> String {
    self.write("ragnos-vault.json", json).display().to_string()
  }
}

impl Drop for TempDir {
  fn drop(&mut self) {
    let _ = fs::remove_dir_all(&self.0);
  }
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
  pairs
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn load_in(dir: &Path, env: &HashMap<String, String>) -> Result<Settings, Error> {
  load(&Context {
    env,
    cwd: dir.to_path_buf(),
    script: None,
  })
}

fn load_ok(dir: &Path, pairs: &[(&str, &str)]) -> Settings {
  let env = vars(pairs);
  match load_in(dir, &env) {
    Ok(settings) => settings,
    Err(e) => panic!("expected settings, got error: {e}"),
  }
}

fn load_err(dir: &Path, pairs: &[(&str, &str)]) -> String {
  let env = vars(pairs);
  match load_in(dir, &env) {
    Ok(settings) => panic!("expected an error, got {settings:?}"),
    Err(e) => e.to_string(),
  }
}

fn token_of(settings: &Settings) -> Option<String> {
  let vault = settings.vault.as_ref().expect("vault settings");
  match &vault.auth.method {
    AuthMethod::Token(token) => token.as_ref().map(|t| t.expose().to_string()),
    _ => None,
  }
}

fn token_source_of(settings: &Settings) -> String {
  settings
    .vault
    .as_ref()
    .expect("vault settings")
    .token_source
    .clone()
}

// Defaults

#[test]
fn mode_defaults_to_shadow_with_address() {
  let dir = TempDir::new("shadow");
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", ADDRESS)]);
  assert_eq!(settings.mode, Mode::Shadow);
  assert!(settings.vault.is_some());
}

#[test]
fn mode_defaults_to_off_without_address() {
  let dir = TempDir::new("off");
  let settings = load_ok(dir.path(), &[]);
  assert_eq!(settings.mode, Mode::Off);
  assert!(settings.vault.is_none());
}

#[test]
fn include_defaults_to_secret_suffixes() {
  let dir = TempDir::new("include");
  let settings = load_ok(dir.path(), &[]);
  let expected = vec![
    "*_API_KEY",
    "*_SECRET",
    "*_TOKEN",
    "*_PASSWORD",
    "DATABASE_URL",
    "REDIS_URL",
  ];
  assert_eq!(settings.include, expected);
  assert!(settings.exclude.is_empty());
}

#[test]
fn search_paths_default_with_app_expanded() {
  let dir = TempDir::new("search");
  let settings = load_ok(dir.path(), &[("RAGNOS_VAULT_APP", "billing")]);
  assert_eq!(settings.search_paths, vec!["mcp/billing", "mcp/shared"]);
}

#[test]
fn search_paths_drop_app_paths_without_app() {
  let dir = TempDir::new("noapp");
  let settings = load_ok(dir.path(), &[]);
  assert_eq!(settings.app, "");
  assert_eq!(settings.search_paths, vec!["mcp/shared"]);
}

#[test]
fn search_paths_configured_expand_and_trim() {
  let dir = TempDir::new("paths");
  let settings = load_ok(
    dir.path(),
    &[
      ("RAGNOS_VAULT_APP", "billing"),
      ("RAGNOS_VAULT_SEARCH_PATHS", "/teams/{app}/, , common/"),
    ],
  );
  assert_eq!(settings.search_paths, vec!["teams/billing", "common"]);
}

#[test]
fn configured_app_paths_dropped_without_app() {
  let dir = TempDir::new("paths-noapp");
  let settings = load_ok(
    dir.path(),
    &[("RAGNOS_VAULT_SEARCH_PATHS", "teams/{app},{app},common")],
  );
  assert_eq!(settings.search_paths, vec!["common"]);
}

#[test]
fn remaining_fields_have_defaults() {
  let dir = TempDir::new("defaults");
  let settings = load_ok(dir.path(), &[]);
  assert_eq!(settings.canary_percent, 0.0);
  assert_eq!(settings.canary_salt, "");
  assert_eq!(settings.kv_mount, "secret");
  assert!(settings.secrets.is_empty());
  assert_eq!(settings.startup_timeout_ms, 2000);
  assert_eq!(settings.resilience.request_timeout_ms, 5000);
  assert_eq!(settings.resilience.cache_ttl_ms, 300_000);
  assert_eq!(settings.resilience.max_stale_ms, 3_600_000);
  assert!(!settings.strict);
  assert_eq!(settings.log_level, "warn");
  assert_eq!(settings.children, Children::Inherit);
  assert!(settings.scrub_credentials);
  assert_eq!(settings.config_file, "");
}

#[test]
fn kv_mount_slashes_trimmed() {
  let dir = TempDir::new("mount");
  let settings = load_ok(dir.path(), &[("RAGNOS_VAULT_KV_MOUNT", "/kv/")]);
  assert_eq!(settings.kv_mount, "kv");
}

// Precedence

const FULL_FILE: &str = r#"{
  "mode": "dual",
  "canary_percent": 10,
  "canary_salt": "file-salt",
  "app": "file-app",
  "kv_mount": "file-kv",
  "include": ["FILE_*"],
  "exclude": ["FILE_SKIP"],
  "secrets": {"FILE_KEY": "secret/file#key"},
  "startup_timeout_ms": 1111,
  "request_timeout_ms": 2222,
  "cache_ttl_ms": 3333,
  "max_stale_ms": 4444,
  "strict": true,
  "log_level": "info",
  "children": "env-only",
  "scrub_credentials": false,
  "address": "http://file.example:8200",
  "namespace": "file-ns"
}"#;

#[test]
fn file_wins_over_default() {
  let dir = TempDir::new("file");
  let path = dir.config(FULL_FILE);
  let settings = load_ok(dir.path(), &[]);
  assert_eq!(settings.mode, Mode::Dual);
  assert_eq!(settings.canary_percent, 10.0);
  assert_eq!(settings.canary_salt, "file-salt");
  assert_eq!(settings.app, "file-app");
  assert_eq!(settings.kv_mount, "file-kv");
  assert_eq!(settings.search_paths, vec!["mcp/file-app", "mcp/shared"]);
  assert_eq!(settings.include, vec!["FILE_*"]);
  assert_eq!(settings.exclude, vec!["FILE_SKIP"]);
  assert_eq!(
    settings.secrets.get("FILE_KEY").map(String::as_str),
    Some("secret/file#key")
  );
  assert_eq!(settings.startup_timeout_ms, 1111);
  assert_eq!(settings.resilience.request_timeout_ms, 2222);
  assert_eq!(settings.resilience.cache_ttl_ms, 3333);
  assert_eq!(settings.resilience.max_stale_ms, 4444);
  assert!(settings.strict);
  assert_eq!(settings.log_level, "info");
  assert_eq!(settings.children, Children::EnvOnly);
  assert!(!settings.scrub_credentials);
  assert_eq!(settings.config_file, path);
  let vault = settings
    .vault
    .expect("vault settings from the file address");
  assert_eq!(vault.address.as_str(), "http://file.example:8200/");
  assert_eq!(vault.namespace.as_deref(), Some("file-ns"));
}

#[test]
fn env_var_wins_over_file() {
  let dir = TempDir::new("env");
  dir.config(FULL_FILE);
  let settings = load_ok(
    dir.path(),
    &[
      ("RAGNOS_VAULT_MODE", "vault"),
      ("RAGNOS_VAULT_CANARY_PERCENT", "55.5"),
      ("RAGNOS_VAULT_CANARY_SALT", "env-salt"),
      ("RAGNOS_VAULT_APP", "env-app"),
      ("RAGNOS_VAULT_KV_MOUNT", "env-kv"),
      ("RAGNOS_VAULT_SEARCH_PATHS", "apps/{app}"),
      ("RAGNOS_VAULT_INCLUDE", "ENV_*, OTHER_*"),
      ("RAGNOS_VAULT_EXCLUDE", "ENV_SKIP"),
      ("RAGNOS_VAULT_SECRETS", r#"{"ENV_KEY": "secret/env#key"}"#),
      ("RAGNOS_VAULT_STARTUP_TIMEOUT_MS", "9000"),
      ("RAGNOS_VAULT_REQUEST_TIMEOUT_MS", "8000"),
      ("RAGNOS_VAULT_CACHE_TTL_MS", "7000"),
      ("RAGNOS_VAULT_MAX_STALE_MS", "6000"),
      ("RAGNOS_VAULT_STRICT", "no"),
      ("RAGNOS_VAULT_LOG", "debug"),
      ("RAGNOS_VAULT_CHILDREN", "inherit"),
      ("RAGNOS_VAULT_SCRUB_CREDENTIALS", "on"),
      ("VAULT_ADDR", "https://env.example:8200"),
      ("VAULT_NAMESPACE", "env-ns"),
    ],
  );

  assert_eq!(settings.mode, Mode::Vault);
  assert_eq!(settings.canary_percent, 55.5);
  assert_eq!(settings.canary_salt, "env-salt");

  assert_eq!(settings.app, "env-app");
  assert_eq!(settings.kv_mount, "env-kv");
  assert_eq!(settings.search_paths, vec!["apps/env-app"]);
  assert_eq!(settings.include, vec!["ENV_*", "OTHER_*"]);
  assert_eq!(settings.exclude, vec!["ENV_SKIP"]);
  assert_eq!(
    settings.secrets.get("ENV_KEY").map(String::as_str),
    Some("secret/env#key")
  );
  assert!(!settings.secrets.contains_key("FILE_KEY"));

  assert_eq!(settings.startup_timeout_ms, 9000);
  assert_eq!(settings.resilience.request_timeout_ms, 8000);
  assert_eq!(settings.resilience.cache_ttl_ms, 7000);
  assert_eq!(settings.resilience.max_stale_ms, 6000);

  assert!(!settings.strict);
  assert_eq!(settings.log_level, "debug");
  assert_eq!(settings.children, Children::Inherit);
  assert!(settings.scrub_credentials);

  let vault = settings.vault.expect("vault settings");
  assert_eq!(vault.address.as_str(), "https://env.example:8200/");
  assert_eq!(vault.namespace.as_deref(), Some("env-ns"));
}

#[test]
fn env_var_skips_validation_of_file_value() {
  let dir = TempDir::new("env-over-bad");
  dir.config(r#"{"mode": "fast", "canary_percent": "lots"}"#);
  let settings = load_ok(
    dir.path(),
    &[
      ("RAGNOS_VAULT_MODE", "dual"),
      ("RAGNOS_VAULT_CANARY_PERCENT", "5"),
    ],
  );
  assert_eq!(settings.mode, Mode::Dual);
  assert_eq!(settings.canary_percent, 5.0);
}

#[test]
fn empty_env_var_counts_as_unset() {
  let dir = TempDir::new("empty");
  dir.config(r#"{"mode": "dual", "kv_mount": "file-kv", "include": ["FILE_*"]}"#);
  let settings = load_ok(
    dir.path(),
    &[
      ("VAULT_ADDR", ""),
      ("BAO_ADDR", ADDRESS),
      ("RAGNOS_VAULT_MODE", ""),
      ("RAGNOS_VAULT_KV_MOUNT", ""),
      ("RAGNOS_VAULT_INCLUDE", ""),
      ("RAGNOS_VAULT_CANARY_PERCENT", ""),
      ("RAGNOS_VAULT_STRICT", ""),
      ("RAGNOS_VAULT_SECRETS", ""),
      ("RAGNOS_VAULT_APP", ""),
    ],
  );
  assert_eq!(settings.mode, Mode::Dual);
  assert_eq!(settings.kv_mount, "file-kv");
  assert_eq!(settings.include, vec!["FILE_*"]);
  assert_eq!(settings.canary_percent, 0.0);
  assert!(!settings.strict);
  assert!(settings.secrets.is_empty());
  assert_eq!(settings.app, "");
  let vault = settings.vault.expect("vault settings from BAO_ADDR");
  assert_eq!(vault.address.as_str(), "http://127.0.0.1:8200/");
}

#[test]
fn empty_config_var_uses_default_file() {
  let dir = TempDir::new("empty-config");
  let path = dir.config(r#"{"mode": "vault"}"#);
  let settings = load_ok(dir.path(), &[("RAGNOS_VAULT_CONFIG", "")]);
  assert_eq!(settings.mode, Mode::Vault);
  assert_eq!(settings.config_file, path);
}

#[test]
fn explicit_config_resolved_against_cwd() {
  let dir = TempDir::new("explicit");
  dir.config(r#"{"mode": "shadow"}"#);
  let path = dir.write("conf/vault.json", r#"{"mode": "dual"}"#);
  let settings = load_ok(dir.path(), &[("RAGNOS_VAULT_CONFIG", "conf/vault.json")]);
  assert_eq!(settings.mode, Mode::Dual);
  assert_eq!(settings.config_file, path.display().to_string());
}

#[test]
fn list_from_env_drops_blank_items() {
  let dir = TempDir::new("list");
  let settings = load_ok(dir.path(), &[("RAGNOS_VAULT_EXCLUDE", " A_* ,, ,B ")]);
  assert_eq!(settings.exclude, vec!["A_*", "B"]);
}

#[test]
fn canary_percent_bounds_accepted() {
  let dir = TempDir::new("canary-bounds");
  let low = load_ok(dir.path(), &[("RAGNOS_VAULT_CANARY_PERCENT", "0")]);
  assert_eq!(low.canary_percent, 0.0);
  let high = load_ok(dir.path(), &[("RAGNOS_VAULT_CANARY_PERCENT", "100")]);
  assert_eq!(high.canary_percent, 100.0);
}

#[test]
fn bool_spellings_parsed() {
  for text in ["1", "true", "T", "yes", "Y", "on", " On "] {
    assert_eq!(parse_bool(text), Some(true), "{text:?}");
  }
  for text in ["0", "false", "F", "no", "N", "off", "OFF"] {
    assert_eq!(parse_bool(text), Some(false), "{text:?}");
  }
  for text in ["", "maybe", "2", "enabled"] {
    assert_eq!(parse_bool(text), None, "{text:?}");
  }
}

// Validation errors

#[test]
fn unknown_mode_from_env_rejected() {
  let dir = TempDir::new("mode-env");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_MODE", "fast")]);
  assert!(message.contains("\"fast\""), "{message}");
  assert!(message.contains("from RAGNOS_VAULT_MODE"), "{message}");
  assert!(message.contains("off, shadow, dual, vault"), "{message}");
}

#[test]
fn unknown_mode_from_file_rejected() {
  let dir = TempDir::new("mode-file");
  let path = dir.config(r#"{"mode": "fast"}"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains("\"fast\""), "{message}");
  assert!(
    message.contains(&format!("from mode in {path}")),
    "{message}"
  );
}

#[test]
fn mode_is_case_sensitive() {
  let dir = TempDir::new("mode-case");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_MODE", "Vault")]);
  assert!(message.contains("\"Vault\""), "{message}");
}

#[test]
fn canary_percent_out_of_range_rejected() {
  let dir = TempDir::new("canary-range");
  for text in ["-1", "101", "100.5", "NaN", "inf"] {
    let message = load_err(dir.path(), &[("RAGNOS_VAULT_CANARY_PERCENT", text)]);
    assert!(message.contains(&format!("{text:?}")), "{message}");
    assert!(
      message.contains("from RAGNOS_VAULT_CANARY_PERCENT"),
      "{message}"
    );
    assert!(message.contains("expected 0 to 100"), "{message}");
  }
}

#[test]
fn canary_percent_not_number_rejected() {
  let dir = TempDir::new("canary-abc");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_CANARY_PERCENT", "abc")]);
  assert!(message.contains("\"abc\""), "{message}");
  assert!(
    message.contains("from RAGNOS_VAULT_CANARY_PERCENT"),
    "{message}"
  );
  assert!(message.contains("expected a number"), "{message}");
}

#[test]
fn canary_percent_from_file_out_of_range_rejected() {
  let dir = TempDir::new("canary-file");
  let path = dir.config(r#"{"canary_percent": 101}"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains("\"101\""), "{message}");
  assert!(
    message.contains(&format!("from canary_percent in {path}")),
    "{message}"
  );
}

#[test]
fn timeout_not_number_rejected() {
  let dir = TempDir::new("timeout");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_STARTUP_TIMEOUT_MS", "soon")]);
  assert!(message.contains("\"soon\""), "{message}");
  assert!(
    message.contains("from RAGNOS_VAULT_STARTUP_TIMEOUT_MS"),
    "{message}"
  );
  assert!(message.contains("expected a number"), "{message}");
}

#[test]
fn timeout_zero_rejected() {
  let dir = TempDir::new("timeout-zero");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_REQUEST_TIMEOUT_MS", "0")]);
  assert!(message.contains("\"0\""), "{message}");
  assert!(message.contains("expected 1 to 86400000"), "{message}");
}

#[test]
fn timeout_as_string_in_file_rejected() {
  let dir = TempDir::new("timeout-file");
  let path = dir.config(r#"{"cache_ttl_ms": "5000"}"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains("\"5000\""), "{message}");
  assert!(
    message.contains(&format!("from cache_ttl_ms in {path}")),
    "{message}"
  );
  assert!(message.contains("expected a number"), "{message}");
}

#[test]
fn bad_bool_from_env_rejected() {
  let dir = TempDir::new("bool-env");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_STRICT", "maybe")]);
  assert!(message.contains("\"maybe\""), "{message}");
  assert!(message.contains("from RAGNOS_VAULT_STRICT"), "{message}");
  assert!(message.contains("expected true or false"), "{message}");
}

#[test]
fn bool_as_string_in_file_rejected() {
  let dir = TempDir::new("bool-file");
  let path = dir.config(r#"{"scrub_credentials": "yes"}"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains("\"yes\""), "{message}");
  assert!(
    message.contains(&format!("from scrub_credentials in {path}")),
    "{message}"
  );
}

#[test]
fn list_as_string_in_file_rejected() {
  let dir = TempDir::new("list-string");
  let path = dir.config(r#"{"include": "*_KEY"}"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains("\"*_KEY\""), "{message}");
  assert!(
    message.contains(&format!("from include in {path}")),
    "{message}"
  );
  assert!(message.contains("expected a list of strings"), "{message}");
}

#[test]
fn list_with_number_in_file_rejected() {
  let dir = TempDir::new("list-number");
  let path = dir.config(r#"{"exclude": ["A", 1]}"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains(r#"[\"A\",1]"#), "{message}");
  assert!(
    message.contains(&format!("from exclude in {path}")),
    "{message}"
  );
}

#[test]
fn secrets_not_object_rejected() {
  let dir = TempDir::new("secrets-array");
  let path = dir.config(r#"{"secrets": ["secret/x#f"]}"#);
  let message = load_err(dir.path(), &[]);
  assert!(
    message.contains(&format!("from secrets in {path}")),
    "{message}"
  );
  assert!(
    message.contains("expected a JSON object of strings"),
    "{message}"
  );
}

#[test]
fn secrets_with_number_value_rejected() {
  let dir = TempDir::new("secrets-number");
  let path = dir.config(r#"{"secrets": {"A_KEY": 5}}"#);
  let message = load_err(dir.path(), &[]);
  assert!(
    message.contains(&format!("from secrets in {path}")),
    "{message}"
  );
}

#[test]
fn secrets_env_not_json_rejected() {
  let dir = TempDir::new("secrets-env");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_SECRETS", "A_KEY=secret/x#f")]);
  assert!(message.contains("\"A_KEY=secret/x#f\""), "{message}");
  assert!(message.contains("from RAGNOS_VAULT_SECRETS"), "{message}");
}

#[test]
fn string_field_with_number_in_file_rejected() {
  let dir = TempDir::new("string-number");
  let path = dir.config(r#"{"kv_mount": 5}"#);
  let message = load_err(dir.path(), &[]);
  assert!(
    message.contains(&format!("from kv_mount in {path}")),
    "{message}"
  );
  assert!(message.contains("expected a string"), "{message}");
}

#[test]
fn unknown_children_rejected() {
  let dir = TempDir::new("children");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_CHILDREN", "none")]);
  assert!(message.contains("\"none\""), "{message}");
  assert!(message.contains("inherit, env-only"), "{message}");
}

#[test]
fn unknown_log_level_rejected() {
  let dir = TempDir::new("log");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_LOG", "loud")]);
  assert!(message.contains("\"loud\""), "{message}");
  assert!(message.contains("from RAGNOS_VAULT_LOG"), "{message}");
}

#[test]
fn malformed_json_file_rejected() {
  let dir = TempDir::new("json");
  let path = dir.config(r#"{"mode": "dual",}"#);
  let message = load_err(dir.path(), &[]);
  assert!(
    message.starts_with(&format!("config file {path}: ")),
    "{message}"
  );
  assert!(message.contains("line 1"), "{message}");
}

#[test]
fn unknown_field_in_file_rejected() {
  let dir = TempDir::new("unknown-field");
  let path = dir.config(r#"{"mdoe": "dual"}"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains(&path), "{message}");
  assert!(message.contains("unknown field \"mdoe\""), "{message}");
}

#[test]
fn file_top_level_not_object_rejected() {
  let dir = TempDir::new("top-level");
  let path = dir.config(r#"["mode", "dual"]"#);
  let message = load_err(dir.path(), &[]);
  assert!(message.contains(&path), "{message}");
  assert!(message.contains("expected a JSON object"), "{message}");
}

#[test]
fn explicit_config_missing_file_rejected() {
  let dir = TempDir::new("missing");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_CONFIG", "absent.json")]);
  let expected = dir.path().join("absent.json").display().to_string();
  assert!(
    message.starts_with(&format!("config file {expected}: ")),
    "{message}"
  );
}

#[test]
fn missing_default_file_is_no_error() {
  let dir = TempDir::new("no-default");
  let settings = load_ok(dir.path(), &[]);
  assert_eq!(settings.config_file, "");
}

// Address

#[test]
fn address_parse_accepts_http_and_https() {
  let plain = parse_address("http://127.0.0.1:8200").expect("http address");
  assert_eq!(plain.as_str(), "http://127.0.0.1:8200/");
  let tls = parse_address(" https://vault.example.com:8200/ ").expect("https address");
  assert_eq!(tls.host_str(), Some("vault.example.com"));
}

#[test]
fn address_not_url_rejected() {
  let reason = parse_address("127.0.0.1:8200").unwrap_err();
  assert!(reason.starts_with("not a URL"), "{reason}");
  let reason = parse_address("not a url").unwrap_err();
  assert!(reason.starts_with("not a URL"), "{reason}");
}

#[test]
fn address_host_port_without_scheme_rejected() {
  // The URL parser reads `vault.example.com` as the scheme here.
  let reason = parse_address("vault.example.com:8200").unwrap_err();
  assert!(reason.contains("\"vault.example.com\""), "{reason}");
}

#[test]
fn address_ftp_scheme_rejected() {
  let reason = parse_address("ftp://vault.example.com").unwrap_err();
  assert!(reason.contains("\"ftp\""), "{reason}");
  assert!(reason.contains("not http or https"), "{reason}");
}

#[test]
fn address_without_host_rejected() {
  assert!(parse_address("http://").is_err());
  assert!(parse_address("https://:8200").is_err());
}

#[test]
fn address_with_query_rejected() {
  let reason = parse_address("http://127.0.0.1:8200/?token=x").unwrap_err();
  assert!(reason.contains("no query or fragment"), "{reason}");
}

#[test]
fn address_with_fragment_rejected() {
  let reason = parse_address("http://127.0.0.1:8200/#ui").unwrap_err();
  assert!(reason.contains("no query or fragment"), "{reason}");
}

#[test]
fn invalid_vault_addr_names_value_and_variable() {
  let dir = TempDir::new("addr-env");
  let message = load_err(dir.path(), &[("VAULT_ADDR", "ftp://vault.example.com")]);
  assert!(message.contains("\"ftp://vault.example.com\""), "{message}");
  assert!(message.contains("from VAULT_ADDR"), "{message}");
}

#[test]
fn invalid_bao_addr_names_bao_addr() {
  let dir = TempDir::new("addr-bao");
  let message = load_err(dir.path(), &[("BAO_ADDR", "127.0.0.1:8200")]);
  assert!(message.contains("\"127.0.0.1:8200\""), "{message}");
  assert!(message.contains("from BAO_ADDR"), "{message}");
}

#[test]
fn invalid_file_address_names_field_and_path() {
  let dir = TempDir::new("addr-file");
  let path = dir.config(r#"{"address": "http://127.0.0.1:8200?x=1"}"#);
  let message = load_err(dir.path(), &[]);
  assert!(
    message.contains("\"http://127.0.0.1:8200?x=1\""),
    "{message}"
  );
  assert!(
    message.contains(&format!("from address in {path}")),
    "{message}"
  );
}

#[test]
fn bao_addr_used_without_vault_addr() {
  let dir = TempDir::new("bao");
  let settings = load_ok(dir.path(), &[("BAO_ADDR", "http://bao.example:8200")]);
  let vault = settings.vault.expect("vault settings");
  assert_eq!(vault.address.host_str(), Some("bao.example"));
}

#[test]
fn vault_addr_preferred_over_bao_addr() {
  let dir = TempDir::new("both");
  let settings = load_ok(
    dir.path(),
    &[
      ("VAULT_ADDR", "http://vault.example:8200"),
      ("BAO_ADDR", "http://bao.example:8200"),
    ],
  );
  let vault = settings.vault.expect("vault settings");
  assert_eq!(vault.address.host_str(), Some("vault.example"));
}

#[test]
fn vault_addr_wins_over_file_address() {
  let dir = TempDir::new("addr-precedence");
  dir.config(r#"{"address": "http://file.example:8200"}"#);
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", "http://env.example:8200")]);
  let vault = settings.vault.expect("vault settings");
  assert_eq!(vault.address.host_str(), Some("env.example"));
}

#[test]
fn namespace_from_bao_namespace() {
  let dir = TempDir::new("ns-bao");
  dir.config(r#"{"namespace": "file-ns"}"#);
  let settings = load_ok(
    dir.path(),
    &[("VAULT_ADDR", ADDRESS), ("BAO_NAMESPACE", "bao-ns")],
  );
  let vault = settings.vault.expect("vault settings");
  assert_eq!(vault.namespace.as_deref(), Some("bao-ns"));
}

#[test]
fn namespace_absent_by_default() {
  let dir = TempDir::new("ns-none");
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", ADDRESS)]);
  let vault = settings.vault.expect("vault settings");
  assert_eq!(vault.namespace, None);
}

#[test]
fn namespace_not_string_in_file_rejected() {
  let dir = TempDir::new("ns-number");
  let path = dir.config(r#"{"namespace": 7}"#);
  let message = load_err(dir.path(), &[("VAULT_ADDR", ADDRESS)]);
  assert!(
    message.contains(&format!("from namespace in {path}")),
    "{message}"
  );
  assert!(message.contains("expected a string"), "{message}");
}

// Token

#[test]
fn token_from_vault_token() {
  let dir = TempDir::new("token-vault");
  let settings = load_ok(
    dir.path(),
    &[
      ("VAULT_ADDR", ADDRESS),
      ("VAULT_TOKEN", " hvs.vault-token\n"),
    ],
  );
  assert_eq!(token_of(&settings).as_deref(), Some("hvs.vault-token"));
  assert_eq!(token_source_of(&settings), "VAULT_TOKEN");
}

#[test]
fn token_from_bao_token() {
  let dir = TempDir::new("token-bao");
  let settings = load_ok(
    dir.path(),
    &[("VAULT_ADDR", ADDRESS), ("BAO_TOKEN", "s.bao-token")],
  );
  assert_eq!(token_of(&settings).as_deref(), Some("s.bao-token"));
  assert_eq!(token_source_of(&settings), "BAO_TOKEN");
}

#[test]
fn vault_token_preferred_over_bao_token() {
  let dir = TempDir::new("token-both");
  let settings = load_ok(
    dir.path(),
    &[
      ("VAULT_ADDR", ADDRESS),
      ("VAULT_TOKEN", "hvs.first"),
      ("BAO_TOKEN", "s.second"),
    ],
  );
  assert_eq!(token_of(&settings).as_deref(), Some("hvs.first"));
}

#[test]
fn token_from_home_file() {
  let dir = TempDir::new("token-file");
  let home = TempDir::new("home");
  let file = home.write(".vault-token", "hvs.from-file\n");
  let home_text = home.path().display().to_string();
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", ADDRESS), ("HOME", &home_text)]);
  assert_eq!(token_of(&settings).as_deref(), Some("hvs.from-file"));
  assert_eq!(token_source_of(&settings), file.display().to_string());
}

#[test]
fn token_var_wins_over_home_file() {
  let dir = TempDir::new("token-var-file");
  let home = TempDir::new("home");
  home.write(".vault-token", "hvs.from-file");
  let home_text = home.path().display().to_string();
  let settings = load_ok(
    dir.path(),
    &[
      ("VAULT_ADDR", ADDRESS),
      ("HOME", &home_text),
      ("BAO_TOKEN", "s.from-var"),
    ],
  );
  assert_eq!(token_of(&settings).as_deref(), Some("s.from-var"));
}

#[test]
fn blank_token_file_means_no_token() {
  let dir = TempDir::new("token-blank");
  let home = TempDir::new("home");
  home.write(".vault-token", " \n");
  let home_text = home.path().display().to_string();
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", ADDRESS), ("HOME", &home_text)]);
  assert_eq!(token_of(&settings), None);
  assert_eq!(token_source_of(&settings), "none");
}

#[test]
fn no_token_anywhere_means_none() {
  let dir = TempDir::new("token-none");
  let home = TempDir::new("home");
  let home_text = home.path().display().to_string();
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", ADDRESS), ("HOME", &home_text)]);
  assert_eq!(token_of(&settings), None);
  assert_eq!(token_source_of(&settings), "none");
}

/// Removes `.vault-token` from the test process's working directory, if
/// the test created it.
struct CreatedFile(Option<PathBuf>);

impl Drop for CreatedFile {
  fn drop(&mut self) {
    if let Some(path) = &self.0 {
      let _ = fs::remove_file(path);
    }
  }
}

#[test]
fn empty_home_reads_no_token_file() {
  // An empty HOME joined with `.vault-token` is a path relative to the
  // process's working directory, which is not the user's home.
  let relative = PathBuf::from(".vault-token");
  let _created = if relative.exists() {
    CreatedFile(None)
  } else {
    fs::write(&relative, "hvs.from-working-dir").expect("write .vault-token");
    CreatedFile(Some(relative))
  };
  let dir = TempDir::new("home-empty");
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", ADDRESS), ("HOME", "")]);
  assert_eq!(token_of(&settings), None);
  assert_eq!(token_source_of(&settings), "none");
}

#[test]
fn token_absent_from_debug_output() {
  let dir = TempDir::new("debug");
  let settings = load_ok(
    dir.path(),
    &[("VAULT_ADDR", ADDRESS), ("VAULT_TOKEN", "hvs.do-not-print")],
  );
  let debug_text = format!("{settings:?}");
  assert!(!debug_text.contains("hvs.do-not-print"), "{debug_text}");
  assert!(debug_text.contains("[redacted]"), "{debug_text}");
}

#[test]
fn token_from_file_absent_from_debug_output() {
  let dir = TempDir::new("debug-file");
  let home = TempDir::new("home");
  home.write(".vault-token", "hvs.file-do-not-print");
  let home_text = home.path().display().to_string();
  let settings = load_ok(dir.path(), &[("VAULT_ADDR", ADDRESS), ("HOME", &home_text)]);
  let debug_text = format!("{settings:?}");
  assert!(
    !debug_text.contains("hvs.file-do-not-print"),
    "{debug_text}"
  );
}

#[test]
fn token_absent_from_redacted_json() {
  let dir = TempDir::new("json-token");
  let settings = load_ok(
    dir.path(),
    &[("VAULT_ADDR", ADDRESS), ("VAULT_TOKEN", "hvs.do-not-print")],
  );
  let text = redacted_json(&settings);
  assert!(!text.contains("hvs.do-not-print"), "{text}");
  let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
  assert_eq!(value["vault"]["token"], "[redacted]");
  assert_eq!(value["vault"]["token_source"], "VAULT_TOKEN");
}

#[test]
fn secret_display_redacted() {
  let secret = Secret::new("hvs.display");
  assert_eq!(secret.to_string(), "[redacted]");
  assert_eq!(format!("{secret:?}"), "[redacted]");
  assert_eq!(secret.expose(), "hvs.display");
}

#[test]
fn redacted_json_lists_settings() {
  let dir = TempDir::new("json");
  let settings = load_ok(
    dir.path(),
    &[
      ("VAULT_ADDR", ADDRESS),
      ("RAGNOS_VAULT_MODE", "dual"),
      ("RAGNOS_VAULT_CHILDREN", "env-only"),
    ],
  );
  let value: serde_json::Value =
    serde_json::from_str(&redacted_json(&settings)).expect("valid JSON");
  assert_eq!(value["mode"], "dual");
  assert_eq!(value["children"], "env-only");
  assert_eq!(value["kv_mount"], "secret");
  assert_eq!(value["vault"]["address"], "http://127.0.0.1:8200");
  assert_eq!(value["vault"]["token"], "");
  assert_eq!(value["vault"]["token_source"], "none");
}

#[test]
fn redacted_json_vault_null_without_address() {
  let dir = TempDir::new("json-off");
  let settings = load_ok(dir.path(), &[]);
  let value: serde_json::Value =
    serde_json::from_str(&redacted_json(&settings)).expect("valid JSON");
  assert_eq!(value["mode"], "off");
  assert!(value["vault"].is_null());
}

// App name

#[test]
fn app_from_env_var() {
  let dir = TempDir::new("app-env");
  dir.write("package.json", r#"{"name": "from-package"}"#);
  dir.config(r#"{"app": "from-file"}"#);
  let settings = load_ok(dir.path(), &[("RAGNOS_VAULT_APP", "from-env")]);
  assert_eq!(settings.app, "from-env");
}

#[test]
fn app_from_file_over_package_json() {
  let dir = TempDir::new("app-file");
  dir.write("package.json", r#"{"name": "from-package"}"#);
  dir.config(r#"{"app": "from-file"}"#);
  let settings = load_ok(dir.path(), &[]);
  assert_eq!(settings.app, "from-file");
}

#[test]
fn app_from_package_json_in_cwd() {
  let dir = TempDir::new("app-cwd");
  dir.write("package.json", r#"{"name": "@acme/billing"}"#);
  let settings = load_ok(dir.path(), &[]);
  assert_eq!(settings.app, "billing");
  assert_eq!(settings.search_paths, vec!["mcp/billing", "mcp/shared"]);
}

#[test]
fn app_from_package_json_above_script() {
  let dir = TempDir::new("app-script");
  dir.write("cwd/package.json", r#"{"name": "wrong-one"}"#);
  dir.write("project/package.json", r#"{"name": "@acme/billing"}"#);
  let script = dir.write("project/dist/bin/server.js", "");
  let env = HashMap::new();
  let settings = load(&Context {
    env: &env,
    cwd: dir.path().join("cwd"),
    script: Some(script),
  })
  .expect("settings");
  assert_eq!(settings.app, "billing");
}

#[test]
fn nearest_package_json_wins() {
  let dir = TempDir::new("app-nearest");
  dir.write("package.json", r#"{"name": "outer"}"#);
  dir.write("tools/inner/package.json", r#"{"name": "inner"}"#);
  let script = dir.write("tools/inner/main.js", "");
  let name = file::detect_app_name(Some(&script), dir.path());
  assert_eq!(name.as_deref(), Some("inner"));
}

#[test]
fn app_from_script_stem() {
  let dir = TempDir::new("app-stem");
  let script = dir.write("tools/report.mjs", "");
  let name = file::detect_app_name(Some(&script), dir.path());
  assert_eq!(name.as_deref(), Some("report"));
}

#[test]
fn package_json_without_name_stops_search() {
  let dir = TempDir::new("app-noname");
  dir.write("package.json", r#"{"name": "outer"}"#);
  dir.write("tool/package.json", r#"{"private": true}"#);
  let script = dir.write("tool/sync.cjs", "");
  let name = file::detect_app_name(Some(&script), dir.path());
  assert_eq!(name.as_deref(), Some("sync"));
}

#[test]
fn no_package_json_and_no_script_gives_none() {
  let dir = TempDir::new("app-none");
  assert_eq!(file::detect_app_name(None, dir.path()), None);
}

// Log level helper

#[test]
fn log_level_defaults_to_warn() {
  assert_eq!(log_level(&vars(&[])), "warn");
  assert_eq!(log_level(&vars(&[("RAGNOS_VAULT_LOG", "")])), "warn");
}

#[test]
fn log_level_trims_and_lowercases() {
  let env = vars(&[("RAGNOS_VAULT_LOG", " DEBUG ")]);
  assert_eq!(log_level(&env), "debug");
}

#[test]
fn log_level_unknown_falls_back_to_warn() {
  let env = vars(&[("RAGNOS_VAULT_LOG", "verbose")]);
  assert_eq!(log_level(&env), "warn");
}

#[test]
fn log_level_accepts_every_level() {
  for level in ["off", "error", "warn", "info", "debug", "trace"] {
    let env = vars(&[("RAGNOS_VAULT_LOG", level)]);
    assert_eq!(log_level(&env), level);
  }
}

#[test]
fn mode_names_round_trip() {
  for mode in [Mode::Off, Mode::Shadow, Mode::Dual, Mode::Vault] {
    assert_eq!(Mode::parse(mode.as_str()), mode);
  }
}

#[test]
fn app_name_climbing_out_rejected() {
  let dir = TempDir::new("app-climb");
  let message = load_err(
    dir.path(),
    &[("VAULT_ADDR", ADDRESS), ("RAGNOS_VAULT_APP", "../x")],
  );
  assert!(
    message.contains("invalid search_paths \"mcp/../x\""),
    "{message}"
  );
  assert!(message.contains("with app \"../x\""), "{message}");
}

#[test]
fn search_path_with_hash_rejected() {
  let dir = TempDir::new("path-hash");
  let pairs = [
    ("VAULT_ADDR", ADDRESS),
    ("RAGNOS_VAULT_SEARCH_PATHS", "team#1"),
  ];
  let message = load_err(dir.path(), &pairs);
  assert!(
    message.contains("invalid search_paths \"team#1\""),
    "{message}"
  );
}

#[test]
fn log_level_in_any_case() {
  let dir = TempDir::new("log-case");
  let settings = load_ok(dir.path(), &[("RAGNOS_VAULT_LOG", "DEBUG")]);
  assert_eq!(settings.log_level, "debug");
  assert_eq!(log_level(&vars(&[("RAGNOS_VAULT_LOG", "DEBUG")])), "debug");
}

#[test]
fn log_level_from_file() {
  let dir = TempDir::new("log-file");
  dir.config(r#"{"log_level": "info"}"#);
  assert_eq!(load_ok(dir.path(), &[]).log_level, "info");
  let message = load_err(dir.path(), &[("RAGNOS_VAULT_LOG", "loud")]);
  assert!(
    message.contains("invalid log_level \"loud\" from RAGNOS_VAULT_LOG"),
    "{message}"
  );
}

#[test]
fn app_name_follows_bin_link_to_its_package() {
  let dir = TempDir::new("bin-link");
  dir.write("package.json", r#"{"name": "host-project"}"#);
  dir.write(
    "node_modules/@acme/mcp-weather/package.json",
    r#"{"name": "@acme/mcp-weather"}"#,
  );
  let target = dir.write("node_modules/@acme/mcp-weather/dist/index.js", "");
  let bin = dir.path().join("node_modules/.bin");
  fs::create_dir_all(&bin).unwrap();
  let link = bin.join("mcp-weather");
  std::os::unix::fs::symlink(&target, &link).unwrap();
  let name = file::detect_app_name(Some(&link), dir.path());
  assert_eq!(name.as_deref(), Some("mcp-weather"));
}

#[test]
fn address_shown_without_credentials() {
  let url = url::Url::parse("http://admin:s3cret-pw@127.0.0.1:8200/").unwrap();
  assert_eq!(shown_address(&url), "http://127.0.0.1:8200");
}

#[test]
fn strict_read_from_file_alone() {
  let dir = TempDir::new("peek-strict");
  dir.config(r#"{"strict": true, "mode": "bogus"}"#);
  assert!(peek_strict(None, dir.path()));
  assert!(!peek_strict(Some("absent.json"), dir.path()));
}

#[test]
fn mapping_key_must_be_env_name() {
  let dir = TempDir::new("secrets-key");
  let pairs = [("RAGNOS_VAULT_SECRETS", r#"{"A=B": "secret/x#y"}"#)];
  let message = load_err(dir.path(), &pairs);
  assert!(message.contains("invalid secrets \"A=B\""), "{message}");
}

#[test]
fn config_file_fifo_rejected() {
  let dir = TempDir::new("fifo");
  let fifo = dir.path().join("ragnos-vault.json");
  let status = std::process::Command::new("mkfifo")
    .arg(&fifo)
    .status()
    .unwrap();
  assert!(status.success());
  let message = load_err(dir.path(), &[]);
  assert!(message.contains("not a regular file"), "{message}");
}
